"""Erasure of everything stored about one ticket: its links, its suggestion records, its row of
the report's per-ticket flags and the feedback filed for it (other comments naming it lose the id), with every aggregate kept exact (article counts, the report's totals).

``ErasureMixin`` is part of the links store (it uses its transactions and the same helpers as an
unlink); ``erase_api.py`` is the admin endpoint ``DELETE /api/tickets/<ticket_id>``; ``kb erase
--ticket ID`` is the same from the command line. Both audit it as ``ticket.erase`` without the id. Day counters (``suggestion_days``) and the gaps report's recorded queries (``query_days``: a ticket's identifiers, never its id or text) hold no ticket ids and are kept.
"""
from __future__ import annotations

from search.service.ticket_ids import canonical_ticket_id

BATCH = 500


class ErasureMixin:
    """Mixed into ``LinkStore``."""

    def erase_ticket(self, ticket_id: str) -> dict[str, int]:
        """Delete every row about ``ticket_id``; returns the rows deleted per table. Idempotent."""
        links = 0
        while True:   # each unlink keeps its article's count and the ticket's flags exact
            batch = self.links(ticket_id=ticket_id, limit=BATCH)
            links += sum(1 for link in batch if self.delete_link(link.id))
            if len(batch) < BATCH:
                break
        with self._tx() as cur:
            self._lock_row(cur, "suggested_tickets", "ticket_id", ticket_id)
            cur.execute(self._sql("SELECT accepted FROM suggested_tickets WHERE ticket_id = ?"), (ticket_id,))
            row = cur.fetchone()
            cur.execute(self._sql("DELETE FROM suggested_tickets WHERE ticket_id = ?"), (ticket_id,))
            if row is not None:
                self._add_to_total(cur, "tickets", -1)
                self._add_to_total(cur, "accepted", -int(row[0]))
            cur.execute(self._sql("DELETE FROM suggestions WHERE ticket_id = ?"), (ticket_id,))
            suggestions = max(cur.rowcount, 0)
            feedback = self._erase_feedback(cur, ticket_id)
        return {"links": links, "suggestions": suggestions, "suggested_tickets": int(row is not None),
                "feedback": feedback}

    def _erase_feedback(self, cur, ticket_id: str) -> int:
        """Delete the feedback filed for the ticket; where another row's comment names it, replace the id
        with '[erased]' (the flag itself stays for its article's owner). Returns the rows deleted."""
        cur.execute(self._sql("DELETE FROM feedback WHERE ticket_id = ?"), (ticket_id,))
        deleted = max(cur.rowcount, 0)
        pattern = "%" + ticket_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cur.execute(self._sql("UPDATE feedback SET comment = replace(comment, ?, '[erased]') "
                              "WHERE comment LIKE ? ESCAPE '\\'"), (ticket_id, pattern))
        return deleted


def canonical(ticket_id: str) -> str:
    """The stored form of a ticket id (no pattern: an id recorded before a pattern was set is still erasable)."""
    return canonical_ticket_id(ticket_id, "")
