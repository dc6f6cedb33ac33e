"""query_days: search analytics and knowledge gaps (search/service/gaps).

One row per day × kind (search | suggest) × redacted, normalised query × service area × mode with
its request count, the requests that ended in "no confident match", the number of distinct callers
(counted through ``query_callers``, up to a small cap) and the latest top article. ``query_day_totals``
caps the distinct queries recorded per day. ``query_callers`` holds keyed hashes of callers under a
random per-day salt (``query_salts``); both are deleted after a day, so a hash can no longer be
tied to anyone. No ticket ids, no ticket text. Rows obey ``retention_days``.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "query_days",
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("area", sa.Text, nullable=False, server_default=""),
        sa.Column("mode", sa.Text, nullable=False, server_default=""),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("unconfident", sa.Integer, nullable=False),
        sa.Column("callers", sa.Integer, nullable=False),
        sa.Column("top_article", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("day", "kind", "query", "area", "mode"))
    op.create_table(
        "query_day_totals",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("queries", sa.Integer, nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False))
    op.create_table(
        "query_salts",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("salt", sa.Text, nullable=False))
    op.create_table(
        "query_callers",
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("query_key", sa.Text, nullable=False),
        sa.Column("caller", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("day", "query_key", "caller"))


def downgrade() -> None:
    for table in ("query_callers", "query_salts", "query_day_totals", "query_days"):
        op.drop_table(table)
