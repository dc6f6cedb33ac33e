"""The links database's tables, indexes and one-time upgrades (hand-written DDL for SQLite and PostgreSQL).

Tables:

- ``links``: ticket ↔ article (section) links, unique on (ticket_id, article_id, anchor).
- ``article_counts``: distinct linked tickets per article, kept in step by every link write, so an
  article page and the report read one row per article instead of grouping over every link.
- ``suggestions``: the top suggestions (at most ``RECORDED_PER_REQUEST``) of requests that named a
  ticket; what the "linked from a suggestion" figure joins against.
- ``suggestion_days``: requests and no-confident-match requests per UTC day (anonymous ones included).
- ``suggested_tickets``: one row per ticket that got suggestions: any request without a confident
  match, whether a suggested article was linked with source ``suggested``, whether the ticket has any
  link, when it was last suggested (the knowledge-gap list reads its index, never the links).
- ``record_totals``: the number of suggested tickets (``tickets``) and of those linked from a
  suggestion (``accepted``), kept in step by every write and purge, so the report counts nothing.

The recorded tables are purged after ``retention_days`` (``RETAINED``, records.py). ``UPGRADES`` fill
the aggregate tables once from an older database's rows (each runs only while its table is empty: a
later open costs one lookup per table, not a scan) and ``INDEXES`` drop indexes nothing reads any more.
"""
from __future__ import annotations

RECORDED_PER_REQUEST = 10

_LINKS = """CREATE TABLE IF NOT EXISTS links (id {serial} PRIMARY KEY, ticket_id TEXT NOT NULL,
    article_id TEXT NOT NULL, anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT,
    created_at TEXT NOT NULL, UNIQUE (ticket_id, article_id, anchor))"""
_SUGGESTIONS = """CREATE TABLE IF NOT EXISTS suggestions (id {serial} PRIMARY KEY, request_id TEXT NOT NULL,
    ticket_id TEXT, article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL, score {real} NOT NULL,
    confident INTEGER NOT NULL, created_at TEXT NOT NULL)"""
_COMMON = [
    "CREATE TABLE IF NOT EXISTS article_counts (article_id TEXT PRIMARY KEY, tickets INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS suggestion_days (day TEXT PRIMARY KEY, requests INTEGER NOT NULL,
       unconfident INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS suggested_tickets (ticket_id TEXT PRIMARY KEY, unconfident INTEGER NOT NULL,
       accepted INTEGER NOT NULL, linked INTEGER NOT NULL, last_at TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS record_totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
]
DDL = {
    "sqlite": [_LINKS.format(serial="INTEGER", real="REAL").replace("INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT", 1),
               _SUGGESTIONS.format(serial="INTEGER", real="REAL").replace("INTEGER PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT", 1),
               *_COMMON],
    # concurrent CREATE … IF NOT EXISTS can fail on PostgreSQL (duplicate pg_type key) when several
    # workers open a new database at once: they take turns on an advisory lock for this transaction
    "postgresql": ["SELECT pg_advisory_xact_lock(7242701)",
                   _LINKS.format(serial="BIGSERIAL", real="DOUBLE PRECISION"),
                   _SUGGESTIONS.format(serial="BIGSERIAL", real="DOUBLE PRECISION"),
                   *_COMMON],
}
INDEXES = [
    "DROP INDEX IF EXISTS links_article",          # (article_id) alone: replaced by (article_id, id)
    "DROP INDEX IF EXISTS suggestions_article",    # read by the old whole-table report only
    "DROP INDEX IF EXISTS suggestions_ticket",     # (ticket_id) alone: replaced by (ticket_id, article_id)
    "CREATE INDEX IF NOT EXISTS links_article_id ON links (article_id, id)",
    "CREATE INDEX IF NOT EXISTS suggestions_ticket_article ON suggestions (ticket_id, article_id)",
    "CREATE INDEX IF NOT EXISTS suggestions_created ON suggestions (created_at)",
    "CREATE INDEX IF NOT EXISTS suggested_tickets_gaps ON suggested_tickets (unconfident, linked, ticket_id)",
    "DROP INDEX IF EXISTS suggested_tickets_accepted",
    "CREATE INDEX IF NOT EXISTS suggested_tickets_last ON suggested_tickets (last_at)",
]
ACCEPTED = ("EXISTS (SELECT 1 FROM links l JOIN suggestions s ON s.ticket_id = l.ticket_id AND s.article_id = l.article_id "
            "WHERE l.ticket_id = {ticket} AND l.source = 'suggested')")
LINKED = "EXISTS (SELECT 1 FROM links k WHERE k.ticket_id = {ticket})"
UPGRADES = [  # (table that is empty until its upgrade ran, the statement that fills it)
    ("article_counts", """INSERT INTO article_counts (article_id, tickets) SELECT article_id, COUNT(DISTINCT ticket_id) FROM links
       WHERE NOT EXISTS (SELECT 1 FROM article_counts) GROUP BY article_id"""),
    ("suggestion_days", """INSERT INTO suggestion_days (day, requests, unconfident) SELECT substr(created_at, 1, 10),
       COUNT(DISTINCT request_id), COUNT(DISTINCT CASE WHEN confident = 0 THEN request_id END) FROM suggestions
       WHERE NOT EXISTS (SELECT 1 FROM suggestion_days) GROUP BY substr(created_at, 1, 10)"""),
    ("suggested_tickets", """INSERT INTO suggested_tickets (ticket_id, unconfident, accepted, linked, last_at)
       SELECT o.ticket_id, MAX(1 - o.confident), CASE WHEN """ + ACCEPTED.format(ticket="o.ticket_id") + """ THEN 1 ELSE 0 END,
       CASE WHEN """ + LINKED.format(ticket="o.ticket_id") + """ THEN 1 ELSE 0 END, MAX(o.created_at) FROM suggestions o WHERE o.ticket_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM suggested_tickets)
       GROUP BY o.ticket_id"""),
    ("record_totals", """INSERT INTO record_totals (name, value)
       SELECT 'tickets', (SELECT COUNT(*) FROM suggested_tickets)
       UNION ALL SELECT 'accepted', (SELECT COUNT(*) FROM suggested_tickets WHERE accepted = 1) WHERE 1 = 1
       ON CONFLICT (name) DO NOTHING"""),
]
