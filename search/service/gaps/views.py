"""``GET /api/gaps?days=30&area=``: knowledge gaps and top queries (scope ``review``, audited as an
export by the policy point), and the one function ``kb gaps`` shares with it."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify, request

from search.service.api import _int_param, _store_call
from search.service.errors import ApiError
from search.service.gaps.normalise import MAX_AREA, area_value
from search.service.gaps.report import DEFAULT_DAYS, LIMIT, MAX_DAYS, gaps_body

bp = Blueprint("gaps", __name__)


def declared_codes(build) -> set[str]:
    """Identifiers some article declares, in recorded form (lowercase)."""
    if build is None:
        return set()
    return {str(code).lower() for meta in build.articles.values()
            for code in (*(meta.get("error_codes") or ()), *(meta.get("related_alerts") or ()))}


def report(store, settings, declared: set[str], days: int, area: str | None, today: dt.date | None = None) -> dict:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    since = (today - dt.timedelta(days=days - 1)).isoformat()
    k = settings.gaps_min_callers
    gap_rows = store.query_summary(since, area, k, LIMIT, unconfident=True)
    top_rows = store.query_summary(since, area, k, LIMIT, unconfident=False)
    return gaps_body(gap_rows, top_rows, declared, days, area, k, since, store.dropped_queries(since),
                     settings.record_queries)


def _area_param() -> str | None:
    raw = request.args.get("area")
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_AREA or any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise ApiError(400, "invalid_parameter", f"parameter 'area': at most {MAX_AREA} characters, no control characters")
    return area_value(raw)


@bp.get("/api/gaps")
def gaps():
    state = current_app.extensions["kb"]
    days = _int_param(request.args, "days", DEFAULT_DAYS, 1, MAX_DAYS)
    area = _area_param()
    declared = declared_codes(state.holder.searcher.build if state.holder.searcher else None)
    response = jsonify(_store_call(report, state.store, state.settings, declared, days, area))
    response.headers["Cache-Control"] = "no-store"
    return response
