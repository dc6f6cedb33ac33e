"""Ticket ↔ article links and suggestion records, behind one small store interface.

``open_store(url)`` picks the backend from the database URL: ``sqlite:///path`` (default; WAL,
synchronous=FULL, a busy timeout) or ``postgresql://…`` (psycopg, for several replicas sharing one
database; the busy timeout is its lock_timeout). Both speak the same SQL here apart from the DDL and
the parameter marker.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import random
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BUSY_TIMEOUT_S = 5.0
SOURCES = ("suggested", "searched", "manual")


class StoreBusy(Exception):
    """The database stayed locked for the whole busy timeout (→ 503 with Retry-After)."""


class StoreError(Exception):
    """The database cannot be opened or used (the message names it)."""


@dataclass
class Link:
    id: int
    ticket_id: str
    article_id: str
    anchor: str
    source: str
    agent: str | None
    created_at: str

    def to_json(self) -> dict:
        return asdict(self)


DDL = {
    "sqlite": [
        """CREATE TABLE IF NOT EXISTS links (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL,
           article_id TEXT NOT NULL, anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT,
           created_at TEXT NOT NULL, UNIQUE (ticket_id, article_id, anchor))""",
        """CREATE TABLE IF NOT EXISTS suggestions (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL,
           ticket_id TEXT, article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL, score REAL NOT NULL,
           confident INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    ],
    "postgresql": [
        # concurrent CREATE … IF NOT EXISTS can fail on PostgreSQL (duplicate pg_type key) when several
        # workers open a new database at once: they take turns on an advisory lock for this transaction
        "SELECT pg_advisory_xact_lock(7242701)",
        """CREATE TABLE IF NOT EXISTS links (id BIGSERIAL PRIMARY KEY, ticket_id TEXT NOT NULL,
           article_id TEXT NOT NULL, anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT,
           created_at TEXT NOT NULL, UNIQUE (ticket_id, article_id, anchor))""",
        """CREATE TABLE IF NOT EXISTS suggestions (id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL,
           ticket_id TEXT, article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL,
           score DOUBLE PRECISION NOT NULL, confident INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    ],
}
INDEXES = ["CREATE INDEX IF NOT EXISTS links_article ON links (article_id)",
           "CREATE INDEX IF NOT EXISTS suggestions_article ON suggestions (article_id)",
           "CREATE INDEX IF NOT EXISTS suggestions_ticket ON suggestions (ticket_id)"]
COLUMNS = "id, ticket_id, article_id, anchor, source, agent, created_at"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# SQLSTATEs of a PostgreSQL statement that waited too long or lost a race: retrying shortly helps
PG_BUSY = {"55P03": "lock_timeout", "57014": "statement timeout", "40P01": "deadlock", "40001": "serialization",
           "53300": "too many connections"}


class LinkStore:
    """Thread-safe: one connection per thread. ``errors``: the driver's exceptions to translate."""

    def __init__(self, dialect: str, connect, errors: tuple[type[Exception], ...] = (sqlite3.OperationalError,)):
        self.dialect = dialect
        self._connect = connect
        self._errors = errors
        self._local = threading.local()
        self.mark = "?" if dialect == "sqlite" else "%s"
        with self._tx() as cur:
            for statement in DDL[dialect] + INDEXES:
                cur.execute(statement)

    def close(self) -> None:
        """Close this thread's connection (a later call reconnects)."""
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = self._connect()
            except self._errors as err:
                raise self._translate(err) from None
        return conn

    @contextlib.contextmanager
    def _tx(self):
        """A cursor in one transaction: committed on success, rolled back on error. A lock wait past
        the busy timeout becomes StoreBusy (→ 503), other operational errors (server gone, connection
        lost) StoreError (→ 503); a connection that broke is dropped so the next call reconnects."""
        conn = self._conn()
        try:
            yield conn.cursor()
            conn.commit()
        except BaseException as err:
            self._rollback(conn)
            if isinstance(err, self._errors):
                raise self._translate(err) from None
            raise

    def _rollback(self, conn) -> None:
        """Roll back; drop a connection that is lost (psycopg: closed) or cannot roll back."""
        try:
            conn.rollback()
            if not getattr(conn, "closed", False):
                return
        except Exception:
            pass
        self._local.conn = None
        with contextlib.suppress(Exception):
            conn.close()

    @staticmethod
    def _translate(err: Exception) -> Exception:
        text, state = str(err).lower(), getattr(err, "sqlstate", None)
        if state in PG_BUSY or (state is None and ("locked" in text or "busy" in text)):
            return StoreBusy(f"the links database is busy ({PG_BUSY.get(state, 'locked by another writer')}); "
                             "retry shortly")
        return StoreError(f"links database error: {str(err).strip()}")

    def _sql(self, text: str) -> str:
        return text.replace("?", self.mark)

    def ping(self) -> None:
        with self._tx() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()

    def add_link(self, ticket_id: str, article_id: str, anchor: str, source: str, agent: str | None) -> tuple[Link, bool]:
        """Idempotent on (ticket_id, article_id, anchor): returns (link, created)."""
        with self._tx() as cur:
            cur.execute(self._sql("INSERT INTO links (ticket_id, article_id, anchor, source, agent, created_at) "
                                  "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, article_id, anchor) DO NOTHING"),
                        (ticket_id, article_id, anchor, source, agent, _now()))
            created = cur.rowcount == 1
            cur.execute(self._sql(f"SELECT {COLUMNS} FROM links WHERE ticket_id = ? AND article_id = ? AND anchor = ?"),
                        (ticket_id, article_id, anchor))
            return Link(*cur.fetchone()), created

    def links(self, ticket_id: str | None = None, article_id: str | None = None, limit: int = 500,
              oldest_first: bool = True) -> list[Link]:
        """Links of a ticket and/or an article (oldest first), or the newest links when unfiltered."""
        where, args = [], []
        for column, value in (("ticket_id", ticket_id), ("article_id", article_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {COLUMNS} FROM links" + (" WHERE " + " AND ".join(where) if where else "") + \
              f" ORDER BY id {'ASC' if oldest_first else 'DESC'} LIMIT {int(limit)}"
        with self._tx() as cur:
            cur.execute(self._sql(sql), args)
            return [Link(*row) for row in cur.fetchall()]

    def delete_link(self, link_id: int) -> bool:
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM links WHERE id = ?"), (link_id,))
            return cur.rowcount == 1

    def link_counts(self, article_ids: list[str] | None = None) -> dict[str, int]:
        """Number of distinct tickets linked to each article."""
        with self._tx() as cur:
            cur.execute("SELECT article_id, COUNT(DISTINCT ticket_id) FROM links GROUP BY article_id")
            counts = {a: int(n) for a, n in cur.fetchall()}
        return counts if article_ids is None else {a: counts.get(a, 0) for a in article_ids}

    def record_suggestions(self, request_id: str, ticket_id: str | None, rows: list[tuple[str, str, int, float]],
                           confident: bool) -> None:
        """rows: (article_id, anchor, rank, score)."""
        now = _now()
        with self._tx() as cur:
            cur.executemany(self._sql("INSERT INTO suggestions (request_id, ticket_id, article_id, anchor, rank, score, "
                                      "confident, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                            [(request_id, ticket_id, article_id, anchor, rank, float(score), int(confident), now)
                             for article_id, anchor, rank, score in rows])

    def report(self, limit: int = 20) -> dict:
        """Which articles resolve tickets, how often suggestions get linked, where knowledge is missing."""
        with self._tx() as cur:
            cur.execute(f"SELECT article_id, COUNT(DISTINCT ticket_id) AS n FROM links GROUP BY article_id "
                        f"ORDER BY n DESC, article_id LIMIT {int(limit)}")
            top = [{"article_id": a, "tickets": int(n)} for a, n in cur.fetchall()]
            cur.execute("SELECT COUNT(DISTINCT request_id), COUNT(DISTINCT CASE WHEN confident = 0 THEN request_id END) "
                        "FROM suggestions")
            requests, unconfident = cur.fetchone()
            cur.execute("SELECT COUNT(*) FROM (SELECT DISTINCT s.ticket_id FROM suggestions s JOIN links l "
                        "ON l.ticket_id = s.ticket_id AND l.article_id = s.article_id AND l.source = 'suggested') t")
            accepted = cur.fetchone()[0]
            cur.execute("SELECT COUNT(DISTINCT ticket_id) FROM suggestions WHERE ticket_id IS NOT NULL")
            suggested = cur.fetchone()[0]
            cur.execute(f"SELECT DISTINCT s.ticket_id FROM suggestions s WHERE s.ticket_id IS NOT NULL AND s.confident = 0 "
                        f"AND NOT EXISTS (SELECT 1 FROM links l WHERE l.ticket_id = s.ticket_id) "
                        f"ORDER BY s.ticket_id LIMIT {int(limit)}")
            gaps = [row[0] for row in cur.fetchall()]
        return {"top_articles": top, "suggestion_requests": int(requests or 0),
                "no_confident_match_requests": int(unconfident or 0),
                "tickets_with_suggestions": int(suggested or 0), "tickets_linked_from_suggestion": int(accepted or 0),
                "knowledge_gaps": gaps}


def _sqlite(path: Path, busy_timeout: float) -> LinkStore:
    path.parent.mkdir(parents=True, exist_ok=True)

    def connect():
        conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=True)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        return conn

    # Several processes (gunicorn workers) opening a new database at once collide on its switch to
    # WAL, which needs an exclusive lock that SQLite does not wait for (no busy handler): "database
    # is locked" at once. Try again for up to the busy timeout; one of them wins and the rest find WAL set.
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            return LinkStore("sqlite", connect)
        except StoreBusy:
            if time.monotonic() > deadline:
                raise StoreError(f"links database {path}: still locked by another process after {busy_timeout:g} s; "
                                 "check what holds it") from None
            time.sleep(random.uniform(0.01, 0.05))
        except (sqlite3.DatabaseError, StoreError) as exc:
            raise StoreError(f"links database {path}: {exc}; check the file or set database_url") from None


def _postgres(url: str, busy_timeout: float) -> LinkStore:
    try:
        import psycopg
    except ImportError:
        raise StoreError("setting 'database_url' is a PostgreSQL URL but the 'psycopg' package is not installed; "
                         "pip install 'psycopg[binary]'") from None

    def connect():
        # bounded waits: connecting, and any lock (a row another writer inserts, a table lock), like SQLite's
        # busy timeout; autocommit off, so every _tx is one transaction ended by commit/rollback
        conn = psycopg.connect(url, connect_timeout=max(2, round(busy_timeout)), autocommit=False)
        try:
            conn.execute(f"SET lock_timeout = {max(1, int(busy_timeout * 1000))}")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    try:
        return LinkStore("postgresql", connect, (psycopg.OperationalError,))
    except (psycopg.Error, StoreError, StoreBusy) as exc:
        raise StoreError(f"setting 'database_url': cannot use PostgreSQL ({str(exc).strip()})") from None


def open_store(url: str, busy_timeout: float = BUSY_TIMEOUT_S) -> LinkStore:
    """``sqlite:///relative/or/absolute/path.db`` or ``postgresql://user@host/db``."""
    if url.startswith("sqlite:///"):
        return _sqlite(Path(url[len("sqlite:///"):]), busy_timeout)
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres(url, busy_timeout)
    raise StoreError(f"setting 'database_url': {url!r} is neither sqlite:///PATH nor postgresql://…")
