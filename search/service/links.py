"""Ticket ↔ article links and suggestion records, behind one small store interface.

``open_store(url)`` picks the backend from the database URL: ``sqlite:///path`` (default; WAL,
synchronous=FULL, a busy timeout) or ``postgresql://…`` (psycopg, for several replicas sharing one
database; the busy timeout is its lock_timeout). Both speak the same SQL here apart from the parameter
marker. The schema is not this module's: ``open_store`` has the migrations of ``search.service.db``
create a new database at the newest revision, and refuses one that needs ``kb db upgrade``.
"""
from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from search.files import private_dir, private_file, tighten_file
from search.service.erasure import ErasureMixin
from search.service.gaps.records import QueryRecordsMixin
from search.service.records import RecordsMixin, now_iso

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


COLUMNS = "id, ticket_id, article_id, anchor, source, agent, created_at"


# SQLSTATEs of a PostgreSQL statement that waited too long or lost a race: retrying shortly helps
PG_BUSY = {"55P03": "lock_timeout", "57014": "statement timeout", "40P01": "deadlock", "40001": "serialization",
           "53300": "too many connections"}


class LinkStore(RecordsMixin, ErasureMixin, QueryRecordsMixin):
    """Thread-safe: one connection per thread. ``errors``: the driver's exceptions to translate.
    Suggestion records, the report and the retention purge are in records.py; the tables in db/tables.py."""

    def __init__(self, dialect: str, connect, errors: tuple[type[Exception], ...] = (sqlite3.OperationalError,)):
        self.dialect = dialect
        self._connect = connect
        self._errors = errors
        self._local = threading.local()
        self.mark = "?" if dialect == "sqlite" else "%s"
        self.ping()   # connects now: a bad file or an unreachable server fails here, not on the first request

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

    def _lock_article(self, cur, article_id: str) -> None:
        """Create and lock the article's counter row: link writes of one article take turns on it, so
        each one's count of the (ticket, article) pair sees the others' committed rows."""
        cur.execute(self._sql("INSERT INTO article_counts (article_id, tickets) VALUES (?, 0) ON CONFLICT (article_id) "
                              "DO UPDATE SET tickets = article_counts.tickets"), (article_id,))

    def _pair_links(self, cur, ticket_id: str, article_id: str) -> int:
        cur.execute(self._sql("SELECT COUNT(*) FROM links WHERE ticket_id = ? AND article_id = ?"), (ticket_id, article_id))
        return int(cur.fetchone()[0])

    def _add_to_count(self, cur, article_id: str, delta: int) -> None:
        cur.execute(self._sql("UPDATE article_counts SET tickets = tickets + ? WHERE article_id = ?"), (delta, article_id))

    def add_link(self, ticket_id: str, article_id: str, anchor: str, source: str, agent: str | None) -> tuple[Link, bool]:
        """Idempotent on (ticket_id, article_id, anchor): returns (link, created). Keeps the article's
        ticket count and the ticket's flags (records.py) in step, in the same transaction."""
        with self._tx() as cur:
            self._lock_article(cur, article_id)
            cur.execute(self._sql("INSERT INTO links (ticket_id, article_id, anchor, source, agent, created_at) "
                                  "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_id, article_id, anchor) DO NOTHING"),
                        (ticket_id, article_id, anchor, source, agent, now_iso()))
            created = cur.rowcount == 1
            if created and self._pair_links(cur, ticket_id, article_id) == 1:
                self._add_to_count(cur, article_id, 1)
            if created:
                self._refresh_ticket(cur, ticket_id)
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
            cur.execute(self._sql("SELECT ticket_id, article_id FROM links WHERE id = ?"), (link_id,))
            row = cur.fetchone()
            if row is None:
                return False
            ticket_id, article_id = row
            self._lock_article(cur, article_id)
            cur.execute(self._sql("DELETE FROM links WHERE id = ?"), (link_id,))
            if cur.rowcount != 1:   # another request deleted it first
                return False
            if self._pair_links(cur, ticket_id, article_id) == 0:
                self._add_to_count(cur, article_id, -1)
            self._refresh_ticket(cur, ticket_id)
            return True

    def link_counts(self, article_ids: list[str] | None = None) -> dict[str, int]:
        """Number of distinct tickets linked to each article (one row per article: article_counts);
        without ``article_ids``, every article with at least one."""
        with self._tx() as cur:
            if article_ids is None:
                cur.execute("SELECT article_id, tickets FROM article_counts WHERE tickets > 0")
                return {a: int(n) for a, n in cur.fetchall()}
            counts = {}
            for article_id in article_ids:
                cur.execute(self._sql("SELECT tickets FROM article_counts WHERE article_id = ?"), (article_id,))
                row = cur.fetchone()
                counts[article_id] = int(row[0]) if row else 0
        return counts


def _private_sqlite_files(path: Path) -> None:
    """The database and its WAL and shared-memory files 0600 (SQLite creates the -wal and -shm files
    with the database file's permissions), its directory 0700."""
    private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        tighten_file(path.with_name(path.name + suffix))


def _sqlite(path: Path, busy_timeout: float) -> LinkStore:
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


def _ensure_schema(url: str, busy_timeout: float) -> None:
    """The database at the newest migration: a new one is created, an older one refused (kb db upgrade)."""
    from search.service import db

    try:
        engine = db.make_engine(url, busy_timeout)
    except db.DatabaseError as exc:
        raise StoreError(str(exc)) from None
    try:
        db.ensure_current(engine, url)
    except db.NotMigrated as exc:
        raise StoreError(str(exc)) from None
    except db.DatabaseError as exc:
        hint = "check the file or set database_url" if url.startswith("sqlite") else "check the setting 'database_url'"
        raise StoreError(f"links {exc}; {hint}") from None   # "links database <file or URL>: <reason>; …"
    finally:
        engine.dispose()


def open_store(url: str, busy_timeout: float = BUSY_TIMEOUT_S) -> LinkStore:
    """``sqlite:///relative/or/absolute/path.db`` or ``postgresql://user@host/db``."""
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        try:
            _private_sqlite_files(path)
        except OSError as exc:
            raise StoreError(f"links database {path}: {exc.strerror or exc}; check the file or set database_url") from None
        _ensure_schema(url, busy_timeout)
        return _sqlite(path, busy_timeout)
    if url.startswith(("postgresql://", "postgres://")):
        _ensure_schema(url, busy_timeout)
        return _postgres(url, busy_timeout)
    raise StoreError(f"setting 'database_url': {url!r} is neither sqlite:///PATH nor postgresql://…")
