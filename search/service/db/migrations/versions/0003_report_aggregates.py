"""The report's aggregate tables and the indexes of the bounded suggestion records (issue 17).

``article_counts`` (distinct linked tickets per article), ``suggestion_days`` (requests per UTC day),
``suggested_tickets`` (one row per ticket that got suggestions, with its flags) and ``record_totals``
(the report's two ticket totals) are kept in step by every write
(search/service/links.py, records.py), so the report and article pages never group over all rows.
They are filled here once from the rows an older database holds. Indexes nothing reads any more are
dropped; the ones the retention purge and the per-ticket lookups need are created. A database made by
the hand-written DDL of that version (tables present, no migration history) is adopted as it is.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LINKED = "EXISTS (SELECT 1 FROM links k WHERE k.ticket_id = s2.ticket_id)"
ACCEPTED = ("EXISTS (SELECT 1 FROM links l JOIN suggestions s ON s.ticket_id = l.ticket_id AND s.article_id = l.article_id "
            "WHERE l.ticket_id = s2.ticket_id AND l.source = 'suggested')")
BACKFILL = [
    """INSERT INTO article_counts (article_id, tickets) SELECT article_id, COUNT(DISTINCT ticket_id) FROM links
       WHERE NOT EXISTS (SELECT 1 FROM article_counts) GROUP BY article_id""",
    """INSERT INTO suggestion_days (day, requests, unconfident) SELECT substr(created_at, 1, 10),
       COUNT(DISTINCT request_id), COUNT(DISTINCT CASE WHEN confident = 0 THEN request_id END) FROM suggestions
       WHERE NOT EXISTS (SELECT 1 FROM suggestion_days) GROUP BY substr(created_at, 1, 10)""",
    """INSERT INTO suggested_tickets (ticket_id, unconfident, accepted, linked, last_at)
       SELECT s2.ticket_id, MAX(1 - s2.confident), CASE WHEN """ + ACCEPTED + """ THEN 1 ELSE 0 END,
       CASE WHEN """ + LINKED + """ THEN 1 ELSE 0 END,
       MAX(s2.created_at) FROM suggestions s2 WHERE s2.ticket_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM suggested_tickets) GROUP BY s2.ticket_id""",
    """INSERT INTO record_totals (name, value) SELECT 'tickets', (SELECT COUNT(*) FROM suggested_tickets)
       WHERE NOT EXISTS (SELECT 1 FROM record_totals WHERE name = 'tickets')""",
    """INSERT INTO record_totals (name, value) SELECT 'accepted', (SELECT COUNT(*) FROM suggested_tickets WHERE accepted = 1)
       WHERE NOT EXISTS (SELECT 1 FROM record_totals WHERE name = 'accepted')""",
]
DROPPED = [("links_article", "links"), ("suggestions_article", "suggestions"), ("suggestions_ticket", "suggestions"),
           ("suggested_tickets_accepted", "suggested_tickets")]
CREATED = [("links_article_id", "links", ["article_id", "id"]),
           ("suggestions_ticket_article", "suggestions", ["ticket_id", "article_id"]),
           ("suggestions_created", "suggestions", ["created_at"]),
           ("suggested_tickets_gaps", "suggested_tickets", ["unconfident", "linked", "ticket_id"]),
           ("suggested_tickets_last", "suggested_tickets", ["last_at"])]


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "article_counts" not in tables:
        op.create_table("article_counts", sa.Column("article_id", sa.Text, primary_key=True),
                        sa.Column("tickets", sa.Integer, nullable=False))
    if "suggestion_days" not in tables:
        op.create_table("suggestion_days", sa.Column("day", sa.Text, primary_key=True),
                        sa.Column("requests", sa.Integer, nullable=False),
                        sa.Column("unconfident", sa.Integer, nullable=False))
    if "suggested_tickets" not in tables:
        op.create_table("suggested_tickets", sa.Column("ticket_id", sa.Text, primary_key=True),
                        sa.Column("unconfident", sa.Integer, nullable=False),
                        sa.Column("accepted", sa.Integer, nullable=False),
                        sa.Column("linked", sa.Integer, nullable=False),
                        sa.Column("last_at", sa.Text, nullable=False))
    if "record_totals" not in tables:
        op.create_table("record_totals", sa.Column("name", sa.Text, primary_key=True),
                        sa.Column("value", sa.Integer, nullable=False))
    for statement in BACKFILL:
        op.execute(statement)
    for name, table in DROPPED:
        op.drop_index(name, table_name=table, if_exists=True)
    for name, table, columns in CREATED:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, table, _columns in CREATED:
        op.drop_index(name, table_name=table, if_exists=True)
    op.drop_table("record_totals")
    op.drop_table("suggested_tickets")
    op.drop_table("suggestion_days")
    op.drop_table("article_counts")
    op.create_index("links_article", "links", ["article_id"])
    op.create_index("suggestions_article", "suggestions", ["article_id"])
    op.create_index("suggestions_ticket", "suggestions", ["ticket_id"])
