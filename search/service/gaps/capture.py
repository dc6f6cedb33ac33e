"""The one call the search and suggest views make: count this request (when ``record_queries`` is on).
A busy or unreachable database costs the request nothing but a log line: the answer matters more
than its count."""
from __future__ import annotations

import logging
import time

from search.service.gaps.normalise import area_value, normalise_query, ticket_query
from search.service.gaps.records import QueryEvent
from search.service.links import StoreBusy, StoreError

log = logging.getLogger(__name__)
LOG_EVERY_S = 60.0
_last_warning = [0.0]


def caller_of(principal, client: str | None) -> str:
    """Who asked, for counting distinct callers: a named principal (a user, a token), else the client
    address (``auth = none`` serves loopback only, where everyone is 'local')."""
    if principal is not None and principal.kind != "local":
        return principal.name
    return client or "unknown"


def _record(state, event: QueryEvent) -> None:
    try:
        state.store.record_query(event, state.settings.max_queries_per_day)
    except (StoreBusy, StoreError) as exc:   # at most one line a minute: a locked database must not flood the log
        if time.monotonic() - _last_warning[0] > LOG_EVERY_S:
            _last_warning[0] = time.monotonic()
            log.warning("query not recorded for the gaps report (further ones for %.0f s not logged): %s",
                        LOG_EVERY_S, exc)


def record_search(state, q: str, area: str | None, mode: str, response, caller: str) -> None:
    if not state.settings.record_queries:
        return
    top = response.results[0].article_id if response.results else ""
    _record(state, QueryEvent("search", normalise_query(q), area_value(area), mode, response.confident, top, caller))


def record_suggest(state, identifiers: list[str], ticket_id: str | None, response, caller: str) -> None:
    """A ticket: only its identifiers (never its text, never its id even when the text names it)."""
    if not state.settings.record_queries:
        return
    own = (ticket_id or "").lower()
    identifiers = [i for i in identifiers if not own or own not in i.lower()]
    query = ticket_query(identifiers)
    if not query:   # a ticket without identifiers: nothing a report could show
        return
    top = response.results[0].article_id if response.results else ""
    _record(state, QueryEvent("suggest", query, "", "ticket", response.confident, top, caller))
