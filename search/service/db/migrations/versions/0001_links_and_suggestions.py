"""links and suggestions: the schema the hand-written DDL of search/service/links.py created.

A database made by that DDL (before migrations existed) already has both tables and their indexes:
this revision then only records itself, leaving every row where it is. A new database gets them here.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "links" not in tables:
        op.create_table(
            "links",
            sa.Column("id", Id, primary_key=True),
            sa.Column("ticket_id", sa.Text, nullable=False),
            sa.Column("article_id", sa.Text, nullable=False),
            sa.Column("anchor", sa.Text, nullable=False, server_default=""),
            sa.Column("source", sa.Text, nullable=False),
            sa.Column("agent", sa.Text),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.UniqueConstraint("ticket_id", "article_id", "anchor"),
            sqlite_autoincrement=True)
    if "suggestions" not in tables:
        op.create_table(
            "suggestions",
            sa.Column("id", Id, primary_key=True),
            sa.Column("request_id", sa.Text, nullable=False),
            sa.Column("ticket_id", sa.Text),
            sa.Column("article_id", sa.Text, nullable=False),
            sa.Column("anchor", sa.Text, nullable=False),
            sa.Column("rank", sa.Integer, nullable=False),
            sa.Column("score", sa.Float(53), nullable=False),
            sa.Column("confident", sa.Integer, nullable=False),
            sa.Column("created_at", sa.Text, nullable=False),
            sqlite_autoincrement=True)
    for name, table, column in (("links_article", "links", "article_id"),
                                ("suggestions_article", "suggestions", "article_id"),
                                ("suggestions_ticket", "suggestions", "ticket_id")):
        op.create_index(name, table, [column], if_not_exists=True)


def downgrade() -> None:
    op.drop_table("suggestions")
    op.drop_table("links")
