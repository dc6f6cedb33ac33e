"""``DELETE /api/tickets/<ticket_id>``: erase everything stored about a ticket (scope ``admin``, checked
by the policy point; audited as ``ticket.erase`` with the row counts and without the ticket id)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from search.service.erasure import canonical
from search.service.errors import ApiError
from search.service.ticket_ids import InvalidId

bp = Blueprint("erasure", __name__)


@bp.delete("/api/tickets/<path:ticket_id>")
def erase_ticket(ticket_id: str):
    from search.service.api import _store_call

    try:
        ticket = canonical(ticket_id)
    except InvalidId as exc:
        raise ApiError(400, "invalid_parameter", f"ticket id: {exc}") from None
    erased = _store_call(current_app.extensions["kb"].store.erase_ticket, ticket)
    response = jsonify({"erased": erased})
    response.headers["Cache-Control"] = "no-store"
    return response
