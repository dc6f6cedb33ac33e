"""The audit trail: who did what, when, from where, and how it ended.

Every row goes to the ``audit`` table (append-only: the migration's trigger refuses UPDATE and
DELETE) and, as one JSON object per line, to the ``kb.audit`` logger, which ``configure_log`` points
at standard error or a file a SIEM collects. Rows carry no ticket text and no ticket ids (a link is
named by its id), so erasing a ticket never needs to touch the audit trail.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from search.service.db.tables import audit

log = logging.getLogger("kb.audit")
MAX_ROWS = 10000


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    actor: str
    action: str
    target: str
    client: str
    outcome: str
    detail: dict

    def to_json(self) -> dict:
        return asdict(self)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record(engine: Engine | sa.Connection, actor: str, action: str, target: str = "", client: str = "",
           outcome: str = "ok", store: bool = True, **detail) -> None:
    """Append one row (in ``engine``'s own transaction, or the caller's when given a Connection) and log
    it; ``store=False`` logs only (the database is known to be unavailable)."""
    row = {"at": now(), "actor": actor, "action": action, "target": target, "client": client or "",
           "outcome": outcome, "detail": json.dumps(detail, sort_keys=True, default=str)}
    if not store:
        pass
    elif isinstance(engine, sa.Connection):
        engine.execute(audit.insert().values(**row))
    else:
        with engine.begin() as connection:
            connection.execute(audit.insert().values(**row))
    log.info(json.dumps(dict(row, detail=detail, event="audit"), sort_keys=True, default=str))


def parse_since(text: str) -> str:
    """``7d``, ``12h``, ``30m``, or an ISO date/time (UTC when it has no offset) → ISO-8601 UTC text."""
    relative = re.fullmatch(r"\s*(\d{1,6})\s*([dhm])\s*", text)
    if relative:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[relative.group(2)]
        moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(**{unit: int(relative.group(1))})
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"--since {text!r}: give 7d, 12h, 30m or a date such as 2026-12-01") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def rows(engine: Engine, since: str | None = None, actor: str | None = None, action: str | None = None,
         limit: int = 1000) -> list[AuditRow]:
    """Audit rows, oldest first: the newest ``limit`` matching (at most MAX_ROWS)."""
    query = sa.select(audit).order_by(audit.c.id.desc()).limit(max(1, min(limit, MAX_ROWS)))
    if since:
        query = query.where(audit.c.at >= since)
    if actor:
        query = query.where(audit.c.actor == actor)
    if action:
        query = query.where(audit.c.action == action)
    with engine.connect() as connection:
        found = connection.execute(query).mappings().all()
    return [AuditRow(**dict(r, detail=json.loads(r["detail"]))) for r in reversed(found)]


def configure_log(path: str) -> None:
    """JSON lines of ``kb.audit`` to ``path`` (appended; reopened when rotated), or to standard error
    when empty. Called by the CLI, never at import."""
    from logging.handlers import WatchedFileHandler

    for handler in list(log.handlers):
        log.removeHandler(handler)
    if path:
        from pathlib import Path

        from search.files import private_file

        private_file(Path(path))   # 0600: it names who did what
    handler = WatchedFileHandler(path, encoding="utf-8") if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
