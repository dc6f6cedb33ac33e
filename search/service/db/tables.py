"""The service database's tables, as SQLAlchemy Core metadata: one description for SQLite and PostgreSQL.

``links`` and ``suggestions`` keep the exact shape of the hand-written DDL they replace (an ``id``
that is SQLite's INTEGER PRIMARY KEY AUTOINCREMENT or PostgreSQL's BIGSERIAL, timestamps as ISO-8601
UTC text), so a database created by an older version is adopted by the first migration unchanged.
The migrations in ``migrations/versions`` are the source of truth for the schema; these tables
describe it for queries, and ``tests/test_db.py`` checks that the two agree.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, Index, Integer, MetaData, Text, UniqueConstraint,
                        Table)

metadata = MetaData()

# BIGINT on PostgreSQL; SQLite only makes INTEGER PRIMARY KEY columns the rowid (autoincrementing)
Id = BigInteger().with_variant(Integer(), "sqlite")

links = Table(
    "links", metadata,
    Column("id", Id, primary_key=True),
    Column("ticket_id", Text, nullable=False),
    Column("article_id", Text, nullable=False),
    Column("anchor", Text, nullable=False, server_default=""),
    Column("source", Text, nullable=False),
    Column("agent", Text),
    Column("created_at", Text, nullable=False),
    UniqueConstraint("ticket_id", "article_id", "anchor"),
    Index("links_article_id", "article_id", "id"),
    sqlite_autoincrement=True,
)

suggestions = Table(
    "suggestions", metadata,
    Column("id", Id, primary_key=True),
    Column("request_id", Text, nullable=False),
    Column("ticket_id", Text),
    Column("article_id", Text, nullable=False),
    Column("anchor", Text, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("score", Float(53), nullable=False),   # DOUBLE PRECISION on PostgreSQL, REAL on SQLite
    Column("confident", Integer, nullable=False),
    Column("created_at", Text, nullable=False),
    Index("suggestions_ticket_article", "ticket_id", "article_id"),
    Index("suggestions_created", "created_at"),
    sqlite_autoincrement=True,
)

# The report's aggregates, kept in step by every link write and suggestion record (links.py, records.py)
article_counts = Table(
    "article_counts", metadata,
    Column("article_id", Text, primary_key=True),
    Column("tickets", Integer, nullable=False),   # distinct tickets linked to the article
)

suggestion_days = Table(
    "suggestion_days", metadata,
    Column("day", Text, primary_key=True),        # UTC date
    Column("requests", Integer, nullable=False),
    Column("unconfident", Integer, nullable=False),
)

suggested_tickets = Table(
    "suggested_tickets", metadata,
    Column("ticket_id", Text, primary_key=True),
    Column("unconfident", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),   # a suggested article was linked with source 'suggested'
    Column("linked", Integer, nullable=False),     # the ticket has any link
    Column("last_at", Text, nullable=False),
    Index("suggested_tickets_gaps", "unconfident", "linked", "ticket_id"),
    Index("suggested_tickets_last", "last_at"),
)

record_totals = Table(
    "record_totals", metadata,
    Column("name", Text, primary_key=True),        # 'tickets' (suggested tickets), 'accepted'
    Column("value", Integer, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Id, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("token_hash", Text, nullable=False, unique=True),   # sha256 hex of the token; the token is never stored
    Column("scopes", Text, nullable=False),                    # space-separated
    Column("created_at", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("expires_at", Text),                                # NULL: never
    Column("revoked_at", Text),                                # NULL: live
    sqlite_autoincrement=True,
)

audit = Table(
    "audit", metadata,
    Column("id", Id, primary_key=True),
    Column("at", Text, nullable=False),        # ISO-8601 UTC, seconds
    Column("actor", Text, nullable=False),     # the principal, or 'anonymous' / 'cli:<user>'
    Column("action", Text, nullable=False),    # e.g. token.create, link.delete, auth.failure
    Column("target", Text, nullable=False, server_default=""),
    Column("client", Text, nullable=False, server_default=""),   # the client address, or 'cli'
    Column("outcome", Text, nullable=False, server_default="ok"),
    Column("detail", Text, nullable=False, server_default="{}"),  # JSON object
    Index("audit_at", "at"),
    Index("audit_actor", "actor", "at"),
    sqlite_autoincrement=True,
)

# Feedback and flags on articles (search/service/feedback): votes, and flags an owner resolves
feedback = Table(
    "feedback", metadata,
    Column("id", Id, primary_key=True),
    Column("article_id", Text, nullable=False),
    Column("anchor", Text, nullable=False, server_default=""),   # the section ('' : the whole article)
    Column("kind", Text, nullable=False),        # helpful | not_helpful | flag
    Column("reason", Text),                      # a flag's: outdated | wrong | unclear | missing_step
    Column("comment", Text, nullable=False, server_default=""),   # redacted before it is stored
    Column("ticket_id", Text),                   # canonical (ticket_ids.py); erasure deletes the row
    Column("source", Text, nullable=False),      # article | assistant
    Column("author", Text, nullable=False),      # the principal
    Column("status", Text, nullable=False),      # open | resolved | info (a helpful vote: nothing to do)
    Column("created_at", Text, nullable=False),
    Column("resolved_at", Text),
    Column("resolved_by", Text),
    Index("feedback_article_status", "article_id", "status"),
    Index("feedback_status_created", "status", "created_at"),
    Index("feedback_ticket", "ticket_id"),
    Index("feedback_created", "created_at"),
    sqlite_autoincrement=True,
)

# Search analytics and knowledge gaps (search/service/gaps): redacted queries per day, no ticket ids
query_days = Table(
    "query_days", metadata,
    Column("day", Text, primary_key=True),          # UTC date
    Column("kind", Text, primary_key=True),         # search | suggest
    Column("query", Text, primary_key=True),        # normalised and redacted; suggest: the identifiers found
    Column("area", Text, primary_key=True, server_default=""),
    Column("mode", Text, primary_key=True, server_default=""),
    Column("requests", Integer, nullable=False),
    Column("unconfident", Integer, nullable=False),
    Column("callers", Integer, nullable=False),     # distinct callers that day, counted up to a cap
    Column("top_article", Text, nullable=False, server_default=""),
)

query_day_totals = Table(
    "query_day_totals", metadata,
    Column("day", Text, primary_key=True),
    Column("queries", Integer, nullable=False),     # distinct rows of query_days that day (capped)
    Column("dropped", Integer, nullable=False),     # requests not recorded: the day's cap was reached
)

query_salts = Table(
    "query_salts", metadata,
    Column("day", Text, primary_key=True),
    Column("salt", Text, nullable=False),           # random; deleted after a day with the callers' hashes
)

query_callers = Table(
    "query_callers", metadata,
    Column("day", Text, primary_key=True),
    Column("query_key", Text, primary_key=True),    # hash of (kind, query, area, mode)
    Column("caller", Text, primary_key=True),       # keyed hash of the caller under the day's salt
)
