"""``GET /api/review?owner=team-x``: an owner's review queue (scope ``review``, policy point)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, jsonify

from search.service.api import _searcher, _store_call
from search.service.feedback import store
from search.service.feedback.views import owner_param
from search.service.review.queue import build_queue

bp = Blueprint("review", __name__)
MAX_ITEMS = 2000


def queue_body(engine, articles: dict[str, dict], owner: str | None, today: dt.date | None = None) -> dict:
    """The JSON body of the queue (also what ``kb review --json`` prints)."""
    ids = None if owner is None else sorted(a for a, m in articles.items() if m.get("owner", "") == owner)
    items = store.rows(engine, ids, "open", MAX_ITEMS) if ids is None or ids else []
    votes = store.vote_counts(engine, sorted({i.article_id for i in items} | set(ids or ())))
    today = today or dt.datetime.now(dt.timezone.utc).date()
    queue = build_queue(articles, [i.to_json() for i in items], votes, today, owner)
    return {"owner": owner, "today": today.isoformat(), "articles": queue}


@bp.get("/api/review")
def review_queue():
    state = current_app.extensions["kb"]
    owner = owner_param()
    body = _store_call(queue_body, state.engine, _searcher(state).build.articles, owner)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def usage_body(report: dict) -> dict:
    """The links store's report without its ticket ids: what the staff dashboard draws. Editors (scope
    ``review``) read figures and article ids; the knowledge-gap ticket ids stay behind ``reports``."""
    return {key: value for key, value in report.items() if key != "knowledge_gaps"}


@bp.get("/api/review/usage")
def usage():
    state = current_app.extensions["kb"]
    response = jsonify(usage_body(_store_call(state.store.report)))
    response.headers["Cache-Control"] = "no-store"
    return response
