"""Feedback rows: plain functions over the service database's engine (SQLAlchemy Core, db/tables.py).

A vote (``helpful`` / ``not_helpful``) or a flag names an article and optionally a section; a
comment is redacted before it is stored (``redact.py``). ``not_helpful`` votes and flags are
``open`` until resolved; ``helpful`` votes are ``info``. A second identical vote by the same author
on the same section for the same ticket (or none) while the first is still open returns the first
(a double click is one vote; the same answer helping on another ticket is counted again). Database trouble surfaces as the links store's ``StoreBusy`` / ``StoreError`` (→ 503).
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from search.service.db.tables import feedback
from search.service.links import LinkStore
from search.service.records import now_iso
from search.service.redact import redact

KINDS = ("helpful", "not_helpful", "flag")
REASONS = ("outdated", "wrong", "unclear", "missing_step")
SOURCES = ("article", "assistant")
STATUSES = ("open", "resolved", "info")
MAX_LIST = 500


@dataclass(frozen=True)
class NewFeedback:
    article_id: str
    anchor: str
    kind: str
    reason: str | None
    comment: str
    ticket_id: str | None
    source: str
    author: str


@dataclass(frozen=True)
class Feedback:
    id: int
    article_id: str
    anchor: str
    kind: str
    reason: str | None
    comment: str
    ticket_id: str | None
    source: str
    author: str
    status: str
    created_at: str
    resolved_at: str | None
    resolved_by: str | None

    def to_json(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def _translated():
    """SQLAlchemy's driver errors as the store's: busy (→ 503 retry shortly) or unavailable."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise LinkStore._translate(exc.orig or exc) from None
    except sa.exc.InterfaceError as exc:
        raise LinkStore._translate(exc) from None


def _row(row) -> Feedback:
    return Feedback(**{column: row._mapping[column] for column in Feedback.__dataclass_fields__})


def add(engine: Engine, item: NewFeedback) -> tuple[Feedback, bool]:
    """Store ``item`` (its comment redacted); returns (the row, created)."""
    status = "info" if item.kind == "helpful" else "open"
    values = dict(asdict(item), comment=redact(item.comment), status=status, created_at=now_iso())
    with _translated(), engine.begin() as connection:
        if item.kind != "flag":
            same = connection.execute(sa.select(feedback).where(
                feedback.c.article_id == item.article_id, feedback.c.anchor == item.anchor,
                feedback.c.kind == item.kind, feedback.c.author == item.author, feedback.c.status == status,
                feedback.c.ticket_id.is_not_distinct_from(item.ticket_id))
                .order_by(feedback.c.id).limit(1)).first()
            if same is not None:
                return _row(same), False
        new_id = connection.execute(feedback.insert().values(**values)).inserted_primary_key[0]
        return _row(connection.execute(sa.select(feedback).where(feedback.c.id == new_id)).one()), True


def rows(engine: Engine, article_ids: list[str] | None = None, status: str | None = None,
         limit: int = MAX_LIST) -> list[Feedback]:
    """Feedback, newest first: of ``article_ids`` (None: any article), in ``status`` (None: any); at
    most ``limit`` rows (the API allows up to MAX_LIST)."""
    query = sa.select(feedback).order_by(feedback.c.id.desc()).limit(max(1, limit))
    if article_ids is not None:
        if not article_ids:
            return []
        query = query.where(feedback.c.article_id.in_(article_ids))
    if status is not None:
        query = query.where(feedback.c.status == status)
    with _translated(), engine.connect() as connection:
        return [_row(r) for r in connection.execute(query)]


def get(engine: Engine, feedback_id: int) -> Feedback | None:
    with _translated(), engine.connect() as connection:
        row = connection.execute(sa.select(feedback).where(feedback.c.id == feedback_id)).first()
    return None if row is None else _row(row)


def resolve(engine: Engine, feedback_id: int, by: str) -> tuple[Feedback | None, bool]:
    """Mark an open item resolved by ``by``; returns (the row or None when unknown, changed). A
    resolved item stays as it was (changed False); a helpful vote has nothing to resolve (changed False)."""
    with _translated(), engine.begin() as connection:
        changed = connection.execute(feedback.update().where(feedback.c.id == feedback_id, feedback.c.status == "open")
                                     .values(status="resolved", resolved_at=now_iso(), resolved_by=by)).rowcount == 1
        row = connection.execute(sa.select(feedback).where(feedback.c.id == feedback_id)).first()
    return (None if row is None else _row(row)), changed


def vote_counts(engine: Engine, article_ids: list[str]) -> dict[str, dict[str, int]]:
    """Votes on record per article: {article_id: {"helpful": n, "not_helpful": m}} (rows within
    the retention period; an index on (article_id, status) keeps this to the articles asked)."""
    if not article_ids:
        return {}
    query = (sa.select(feedback.c.article_id, feedback.c.kind, sa.func.count())
             .where(feedback.c.article_id.in_(article_ids), feedback.c.kind.in_(("helpful", "not_helpful")))
             .group_by(feedback.c.article_id, feedback.c.kind))
    out: dict[str, dict[str, int]] = {}
    with _translated(), engine.connect() as connection:
        for article_id, kind, count in connection.execute(query):
            out.setdefault(article_id, {"helpful": 0, "not_helpful": 0})[kind] = int(count)
    return out
