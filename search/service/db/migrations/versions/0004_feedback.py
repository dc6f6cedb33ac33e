"""feedback: votes (helpful / not helpful) and flags on articles and their sections.

A flag (reason outdated, wrong, unclear or missing_step) and a "not helpful" vote are ``open``
until an owner or editor resolves them; a "helpful" vote is ``info``. Comments are redacted before
they are stored (search/service/redact.py); rows obey ``retention_days`` and ticket erasure.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INDEXES = [("feedback_article_status", ["article_id", "status"]), ("feedback_status_created", ["status", "created_at"]),
           ("feedback_ticket", ["ticket_id"]), ("feedback_created", ["created_at"])]


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", Id, primary_key=True),
        sa.Column("article_id", sa.Text, nullable=False),
        sa.Column("anchor", sa.Text, nullable=False, server_default=""),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("ticket_id", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("resolved_at", sa.Text),
        sa.Column("resolved_by", sa.Text),
        sqlite_autoincrement=True)
    for name, columns in INDEXES:
        op.create_index(name, "feedback", columns)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="feedback")
    op.drop_table("feedback")
