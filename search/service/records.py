"""What ``/api/suggest`` records, the report over it, and the retention purge (part of the links store).

Every request costs a bounded write: one upsert of its day's counters, and — only when it names a
ticket — one upsert of the ticket's row and at most ``RECORDED_PER_REQUEST`` suggestion rows. The
report reads the aggregate tables (schema.py), never groups over the recorded rows, so its cost
does not grow with them. ``purge_expired`` deletes what is older than the retention period from
every table in ``RETAINED``, in short batches so writers are never blocked for long.
"""
from __future__ import annotations

import datetime as dt

from search.service.schema import ACCEPTED, LINKED, RECORDED_PER_REQUEST

# (table, key column, time column, length of the time prefix compared): the recorded data under retention
RETAINED = [("suggestions", "id", "created_at", None),
            ("suggested_tickets", "ticket_id", "last_at", None),
            ("suggestion_days", "day", "day", 10),
            ("feedback", "id", "created_at", None),
            ("query_days", "day", "day", 10),
            ("query_day_totals", "day", "day", 10)]
# what a purge of a table takes off record_totals: (column returned by the DELETE, {total: how})
UNCOUNT = {"suggested_tickets": "accepted"}
PURGE_BATCH = 5000
REPORT_LIMIT = 20
REPORT_DAYS = 30   # the per-day series: the most recent days that had a suggestion request


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class RecordsMixin:
    """Mixed into ``LinkStore``: uses its ``_tx`` (one transaction) and ``_sql`` (parameter marker)."""

    def _lock_row(self, cur, table: str, key: str, value: str) -> None:
        """Lock one row for this transaction before reading what depends on it (PostgreSQL, READ
        COMMITTED: the next statement then sees what the previous holder committed; SQLite has one
        writer at a time anyway)."""
        cur.execute(self._sql(f"UPDATE {table} SET {key} = {key} WHERE {key} = ?"), (value,))

    def _add_to_total(self, cur, name: str, delta: int) -> None:
        if delta:
            cur.execute(self._sql("UPDATE record_totals SET value = value + ? WHERE name = ?"), (delta, name))

    def _refresh_ticket(self, cur, ticket_id: str) -> None:
        """A suggested ticket's flags after a write: is a suggested article linked with source 'suggested',
        has it any link (one ticket: index lookups; a ticket that never got suggestions has no row)."""
        self._lock_row(cur, "suggested_tickets", "ticket_id", ticket_id)
        cur.execute(self._sql("SELECT accepted FROM suggested_tickets WHERE ticket_id = ?"), (ticket_id,))
        row = cur.fetchone()
        if row is None:
            return
        cur.execute(self._sql(f"SELECT CASE WHEN {ACCEPTED.format(ticket='?')} THEN 1 ELSE 0 END, "
                              f"CASE WHEN {LINKED.format(ticket='?')} THEN 1 ELSE 0 END"), (ticket_id, ticket_id))
        accepted, linked = cur.fetchone()
        cur.execute(self._sql("UPDATE suggested_tickets SET accepted = ?, linked = ? WHERE ticket_id = ?"),
                    (accepted, linked, ticket_id))
        self._add_to_total(cur, "accepted", int(accepted) - int(row[0]))

    def record_suggestions(self, request_id: str, ticket_id: str | None, rows: list[tuple[str, str, int, float]],
                           confident: bool, now: str | None = None) -> None:
        """rows: (article_id, anchor, rank, score), best first; only the first RECORDED_PER_REQUEST are kept,
        and only for a named ticket (an anonymous request is counted, not stored)."""
        now = now or now_iso()
        with self._tx() as cur:
            cur.execute(self._sql("INSERT INTO suggestion_days (day, requests, unconfident) VALUES (?, 1, ?) "
                                  "ON CONFLICT (day) DO UPDATE SET requests = suggestion_days.requests + 1, "
                                  "unconfident = suggestion_days.unconfident + excluded.unconfident"),
                        (now[:10], int(not confident)))
            if ticket_id is None:
                return
            cur.execute(self._sql("INSERT INTO suggested_tickets (ticket_id, unconfident, accepted, linked, last_at) "
                                  "VALUES (?, ?, 0, 0, ?) ON CONFLICT (ticket_id) DO NOTHING"),
                        (ticket_id, int(not confident), now))
            if cur.rowcount == 1:
                self._add_to_total(cur, "tickets", 1)
            else:
                cur.execute(self._sql("UPDATE suggested_tickets SET last_at = ?, unconfident = CASE WHEN ? = 1 THEN 1 "
                                      "ELSE unconfident END WHERE ticket_id = ?"), (now, int(not confident), ticket_id))
            cur.executemany(self._sql("INSERT INTO suggestions (request_id, ticket_id, article_id, anchor, rank, score, "
                                      "confident, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                            [(request_id, ticket_id, article_id, anchor, rank, float(score), int(confident), now)
                             for article_id, anchor, rank, score in rows[:RECORDED_PER_REQUEST]])
            self._refresh_ticket(cur, ticket_id)

    def report(self, limit: int = REPORT_LIMIT) -> dict:
        """Which articles resolve tickets, how often suggestions get linked, where knowledge is missing."""
        with self._tx() as cur:
            cur.execute(f"SELECT article_id, tickets FROM article_counts WHERE tickets > 0 "
                        f"ORDER BY tickets DESC, article_id LIMIT {int(limit)}")
            top = [{"article_id": a, "tickets": int(n)} for a, n in cur.fetchall()]
            cur.execute("SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(unconfident), 0) FROM suggestion_days")
            requests, unconfident = cur.fetchone()
            cur.execute("SELECT name, value FROM record_totals")
            totals = dict(cur.fetchall())
            suggested, accepted = totals.get("tickets", 0), totals.get("accepted", 0)
            cur.execute(f"SELECT ticket_id FROM suggested_tickets WHERE unconfident = 1 AND linked = 0 "
                        f"ORDER BY ticket_id LIMIT {int(limit)}")
            gaps = [row[0] for row in cur.fetchall()]
            cur.execute(f"SELECT day, requests, unconfident FROM suggestion_days ORDER BY day DESC LIMIT {REPORT_DAYS}")
            days = [{"day": str(d)[:10], "requests": int(r), "no_confident_match": int(u)}
                    for d, r, u in reversed(cur.fetchall())]
        return {"top_articles": top, "suggestion_requests": int(requests), "no_confident_match_requests": int(unconfident),
                "tickets_with_suggestions": int(suggested), "tickets_linked_from_suggestion": int(accepted),
                "knowledge_gaps": gaps, "days": days}

    def purge_expired(self, retention_days: int, now: dt.datetime | None = None) -> dict[str, int]:
        """Delete recorded rows older than ``retention_days`` from every table in RETAINED (0 keeps
        everything); returns the rows deleted per table."""
        if retention_days <= 0:
            return {}
        cutoff = ((now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=retention_days)).isoformat(timespec="seconds")
        deleted = {}
        for table, key, column, prefix in RETAINED:
            bound, total = cutoff[:prefix] if prefix else cutoff, 0
            while True:
                with self._tx() as cur:
                    count = self._purge_batch(cur, table, key, column, bound)
                total += count
                if count < PURGE_BATCH:
                    break
            deleted[table] = total
        return deleted

    def _purge_batch(self, cur, table: str, key: str, column: str, bound: str) -> int:
        """Delete up to PURGE_BATCH expired rows of ``table`` and take them off record_totals."""
        returned = UNCOUNT.get(table)
        cur.execute(self._sql(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < ? "
                              f"LIMIT {PURGE_BATCH})" + (f" RETURNING {returned}" if returned else "")), (bound,))
        if not returned:
            return max(cur.rowcount, 0)
        flags = [int(row[0]) for row in cur.fetchall()]
        self._add_to_total(cur, "tickets", -len(flags))
        self._add_to_total(cur, "accepted", -sum(flags))
        return len(flags)
