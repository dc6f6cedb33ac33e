"""The gaps report as a pure function over the store's summary rows (unit-tested without a database)."""
from __future__ import annotations

from collections.abc import Iterable

MAX_DAYS = 365
DEFAULT_DAYS = 30
LIMIT = 50


def _entry(row: tuple, declared: set[str]) -> dict:
    kind, query, area, requests, unconfident, days, callers, top = row
    entry = {"kind": kind, "query": query, "area": area, "requests": int(requests), "no_confident_match": int(unconfident),
             "days": int(days), "callers_at_least": int(callers), "top_article": top or None}
    if kind == "suggest":   # identifiers of tickets: which of them no article declares (error_codes, related_alerts)
        entry["undeclared_identifiers"] = [i for i in query.split(" ") if i and i not in declared]
    return entry


def group_by_area(entries: Iterable[dict]) -> list[dict]:
    """[{area, queries: [...]}, ...]: areas in order of their first (most frequent) query."""
    areas: dict[str, list[dict]] = {}
    for entry in entries:
        areas.setdefault(entry["area"], []).append(entry)
    return [{"area": area, "queries": queries} for area, queries in areas.items()]


def gaps_body(gap_rows: list[tuple], top_rows: list[tuple], declared: set[str], days: int, area: str | None,
              min_callers: int, since_day: str, dropped: int, recording: bool) -> dict:
    """The JSON body of ``GET /api/gaps`` (also what ``kb gaps --json`` prints)."""
    gaps = [_entry(row, declared) for row in gap_rows]
    return {"days": days, "since": since_day, "area": area, "min_callers": min_callers, "recording": recording,
            "dropped_requests": dropped,
            "gaps": group_by_area(gaps),
            "top_queries": [_entry(row, declared) for row in top_rows]}
