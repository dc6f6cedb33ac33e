"""SQL fragments the links store shares with its records (records.py).

The tables themselves (``links``, ``suggestions`` and the report's aggregates ``article_counts``,
``suggestion_days``, ``suggested_tickets``, ``record_totals``) are created and changed only by the
migrations in ``search/service/db/migrations`` and described in ``search/service/db/tables.py``.
"""
from __future__ import annotations

RECORDED_PER_REQUEST = 10

ACCEPTED = ("EXISTS (SELECT 1 FROM links l JOIN suggestions s ON s.ticket_id = l.ticket_id AND s.article_id = l.article_id "
            "WHERE l.ticket_id = {ticket} AND l.source = 'suggested')")
LINKED = "EXISTS (SELECT 1 FROM links k WHERE k.ticket_id = {ticket})"
