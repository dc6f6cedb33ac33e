"""One write per request: the day's row of a query gets the request, the distinct-caller count and
the top article (``QueryRecordsMixin``, mixed into the links store like ``records.RecordsMixin``).

Bounds: at most ``max_queries`` distinct rows per day (``query_day_totals`` counts them; a request
for a new query past the cap only counts as ``dropped``); callers are counted up to
``CALLERS_COUNTED`` per row, so ``query_callers`` holds at most that many hashes per row, and
``query_callers`` / ``query_salts`` rows older than yesterday are deleted by ``purge_caller_sets``
(whatever ``retention_days`` says). Two writers adding the same new query at once may count it
twice in ``query_day_totals``: the cap then bites one row early, never late.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from dataclasses import dataclass

from search.service.gaps.normalise import caller_hash, query_key

CALLERS_COUNTED = 20
WAIT_MS = 100   # the longest a search waits for another writer's lock before it goes uncounted


@dataclass(frozen=True)
class QueryEvent:
    kind: str           # search | suggest
    query: str          # normalised and redacted (normalise.py)
    area: str
    mode: str
    confident: bool
    top_article: str    # '' when there was no result
    caller: str         # the principal's name or the client address; only its salted hash is stored


class QueryRecordsMixin:
    """Mixed into ``LinkStore``: uses its ``_tx`` and ``_sql``."""

    @contextlib.contextmanager
    def _relaxed_tx(self):
        """A transaction that neither waits for the disk nor for long for a lock: SQLite ``synchronous =
        NORMAL`` (in WAL mode a commit survives a crash of the process, not a power cut, and costs no
        fsync) and PostgreSQL ``synchronous_commit = off``, each for this transaction only; a lock held
        by another writer is waited for at most ``WAIT_MS`` (then StoreBusy: the request is not counted,
        the search is not delayed). Links and feedback keep their full durability and busy timeout."""
        if self.dialect != "sqlite":
            with self._tx() as cur:
                cur.execute("SET LOCAL synchronous_commit = off")
                cur.execute(f"SET LOCAL lock_timeout = {WAIT_MS}")
                yield cur
            return
        conn = self._conn()
        try:   # between transactions: every _tx ends in commit or rollback
            usual = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
        except self._errors as err:
            raise self._translate(err) from None
        try:
            with self._tx() as cur:
                yield cur
        finally:
            with contextlib.suppress(Exception):
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute(f"PRAGMA busy_timeout = {int(usual)}")

    def _day_salt(self, cur, day: str) -> str:
        """The day's salt: made by the first writer of the day, shared through the database (replicas
        agree), cached per process as a one-entry dict replaced whole (threads never see it half-changed)."""
        cached = getattr(self, "_query_salt", None)
        if cached is not None and cached[0] == day:
            return cached[1]
        cur.execute(self._sql("INSERT INTO query_salts (day, salt) VALUES (?, ?) ON CONFLICT (day) DO NOTHING"),
                    (day, secrets.token_hex(16)))
        cur.execute(self._sql("SELECT salt FROM query_salts WHERE day = ?"), (day,))
        salt = cur.fetchone()[0]
        self._query_salt = (day, salt)
        return salt

    def record_query(self, event: QueryEvent, max_queries: int, day: str | None = None) -> bool:
        """Count one request; returns False when the day's cap left a new query unrecorded."""
        day = day or dt.datetime.now(dt.timezone.utc).date().isoformat()
        row = (day, event.kind, event.query, event.area, event.mode)
        with self._relaxed_tx() as cur:
            cur.execute(self._sql("UPDATE query_days SET requests = requests + 1, unconfident = unconfident + ?, "
                                  "top_article = CASE WHEN ? = '' THEN top_article ELSE ? END WHERE day = ? AND "
                                  "kind = ? AND query = ? AND area = ? AND mode = ? RETURNING callers"),
                        (int(not event.confident), event.top_article, event.top_article, *row))
            found = cur.fetchone()
            if found is None and not self._new_query(cur, event, row, max_queries):
                return False
            if found is None or found[0] < CALLERS_COUNTED:
                self._count_caller(cur, event, row)
        return True

    def _new_query(self, cur, event: QueryEvent, row: tuple, max_queries: int) -> bool:
        day = row[0]
        cur.execute(self._sql("INSERT INTO query_day_totals (day, queries, dropped) VALUES (?, 0, 0) "
                              "ON CONFLICT (day) DO NOTHING"), (day,))
        cur.execute(self._sql("UPDATE query_day_totals SET queries = queries + 1 WHERE day = ? AND queries < ?"),
                    (day, max_queries))
        if cur.rowcount != 1:
            cur.execute(self._sql("UPDATE query_day_totals SET dropped = dropped + 1 WHERE day = ?"), (day,))
            return False
        cur.execute(self._sql("INSERT INTO query_days (day, kind, query, area, mode, requests, unconfident, callers, "
                              "top_article) VALUES (?, ?, ?, ?, ?, 1, ?, 0, ?) ON CONFLICT (day, kind, query, area, mode) "
                              "DO UPDATE SET requests = query_days.requests + 1, "
                              "unconfident = query_days.unconfident + excluded.unconfident"),
                    (*row, int(not event.confident), event.top_article))
        return True

    def _count_caller(self, cur, event: QueryEvent, row: tuple) -> None:
        day = row[0]
        hashed = caller_hash(event.caller, self._day_salt(cur, day))
        cur.execute(self._sql("INSERT INTO query_callers (day, query_key, caller) VALUES (?, ?, ?) "
                              "ON CONFLICT (day, query_key, caller) DO NOTHING"),
                    (day, query_key(*row[1:]), hashed))
        if cur.rowcount == 1:
            cur.execute(self._sql("UPDATE query_days SET callers = callers + 1 WHERE day = ? AND kind = ? AND "
                                  "query = ? AND area = ? AND mode = ?"), row)

    def query_summary(self, since_day: str, area: str | None, min_callers: int, limit: int,
                      unconfident: bool) -> list[tuple]:
        """The most frequent queries from ``since_day`` on, grouped by (kind, query, area): those that
        ended in "no confident match" (``unconfident``) or the confident ones; only queries asked by at
        least ``min_callers`` distinct callers on one day. Rows: (kind, query, area, requests,
        unconfident, days, callers, top_article)."""
        count = "SUM(unconfident)" if unconfident else "SUM(requests) - SUM(unconfident)"
        sql = (f"SELECT kind, query, area, SUM(requests), SUM(unconfident), COUNT(DISTINCT day), MAX(callers), "
               f"MAX(top_article), {count} AS n FROM query_days WHERE day >= ?"
               + (" AND area = ?" if area is not None else "") +
               f" GROUP BY kind, query, area HAVING MAX(callers) >= ? AND {count} > 0 "
               f"ORDER BY n DESC, kind, query, area LIMIT {int(limit)}")
        params = (since_day, *(() if area is None else (area,)), min_callers)
        with self._tx() as cur:
            cur.execute(self._sql(sql), params)
            return [tuple(row[:8]) for row in cur.fetchall()]

    def dropped_queries(self, since_day: str) -> int:
        with self._tx() as cur:
            cur.execute(self._sql("SELECT COALESCE(SUM(dropped), 0) FROM query_day_totals WHERE day >= ?"), (since_day,))
            return int(cur.fetchone()[0])

    def purge_caller_sets(self, now: dt.datetime | None = None) -> int:
        """Delete the caller hashes and salts of days before yesterday (the counts stay in query_days)."""
        bound = ((now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=1)).date().isoformat()
        with self._tx() as cur:
            cur.execute(self._sql("DELETE FROM query_callers WHERE day < ?"), (bound,))
            deleted = max(cur.rowcount, 0)
            cur.execute(self._sql("DELETE FROM query_salts WHERE day < ?"), (bound,))
        self._query_salt = None
        return deleted
