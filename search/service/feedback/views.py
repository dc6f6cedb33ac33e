"""``POST /api/feedback``, ``GET /api/feedback``, ``POST /api/feedback/<id>/resolve``: thin views over
``store.py``. Who may call them is the policy point's business (auth/policy.py: ``feedback:write`` to
post; ``review`` and ``internal`` to read and resolve); it also audits each write."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from search.service.api import _int_param, _json_object, _searcher, _store_call
from search.service.auth import policy
from search.service.errors import ApiError
from search.service.feedback import store
from search.service.ticket_ids import MAX_ID, InvalidId, canonical_text, canonical_ticket_id

bp = Blueprint("feedback", __name__)
MAX_COMMENT = 1000
EXPECTED = ('{"article_id": "…", "kind": "helpful|not_helpful|flag", "anchor"?: "…", "reason"?: '
            '"outdated|wrong|unclear|missing_step", "comment"?: "…", "ticket_id"?: "…", "source"?: "article|assistant"}')


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"   # bodies carry comments and ticket ids
    return response


def _state():
    return current_app.extensions["kb"]


def _text(data: dict, name: str, limit: int = MAX_ID, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (value == "" and not required):
        if required:
            raise ApiError(400, "invalid_field", f"field '{name}': required")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"field '{name}': must be a string")
    if len(value) > limit:
        raise ApiError(400, "invalid_field", f"field '{name}': {len(value)} characters, the limit is {limit}")
    return value


def _choice(data: dict, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    value = _text(data, name) or default
    if value is not None and value not in choices:
        raise ApiError(400, "invalid_field", f"field '{name}': {value[:40]!r} is not one of {', '.join(choices)}")
    return value


def _comment(data: dict) -> str:
    text = _text(data, "comment", MAX_COMMENT) or ""
    if any(c in text for c in "\x00\x1b") or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ApiError(400, "invalid_field", "field 'comment': plain text without NUL, escape or lone surrogates")
    return text.strip()


def _feedback_body(author: str) -> store.NewFeedback:
    data = _json_object(EXPECTED)
    article_id = _text(data, "article_id", required=True)
    kind = _choice(data, "kind", store.KINDS)
    if kind is None:
        raise ApiError(400, "invalid_field", f"field 'kind': required, one of {', '.join(store.KINDS)}")
    reason = _choice(data, "reason", store.REASONS)
    if (kind == "flag") != (reason is not None):
        raise ApiError(400, "invalid_field", "field 'reason': required for a flag (outdated, wrong, unclear, "
                       "missing_step) and only for a flag")
    ticket, anchor = _text(data, "ticket_id"), _text(data, "anchor")
    try:
        ticket = canonical_ticket_id(ticket, _state().settings.ticket_id_pattern) if ticket else None
    except InvalidId as exc:
        raise ApiError(400, "invalid_field", f"field 'ticket_id': {exc}") from None
    try:
        anchor = canonical_text(anchor) if anchor else ""
    except InvalidId as exc:
        raise ApiError(400, "invalid_field", f"field 'anchor': {exc}") from None
    return store.NewFeedback(article_id=article_id, anchor=anchor, kind=kind, reason=reason,
                             comment=_comment(data), ticket_id=ticket,
                             source=_choice(data, "source", store.SOURCES, "article"), author=author)


def _check_article(item: store.NewFeedback) -> None:
    """The article must be one the caller may see, and the anchor one of its sections."""
    build = _searcher(_state()).build
    meta = build.articles.get(item.article_id)
    if meta is None or (meta.get("audience") or "internal") in policy.hidden_audiences(policy.current()):
        raise ApiError(404, "unknown_article", f"field 'article_id': no article with id {item.article_id[:80]!r}")
    if item.anchor and not any(c["anchor"] == item.anchor and c["article_id"] == item.article_id for c in build.chunks):
        raise ApiError(400, "invalid_field", f"field 'anchor': {item.anchor[:80]!r} is not a section of {item.article_id}")


def _rate_limit(author: str) -> None:
    state = _state()
    limit = state.settings.feedback_per_minute
    allowed, retry_after = state.limiter.hit("feedback:" + author, per_minute=limit)
    if not allowed:
        raise ApiError(429, "rate_limited", f"more than {limit} feedback posts per minute from {author}; retry after "
                       f"{retry_after} s", {"Retry-After": str(retry_after)})


@bp.post("/api/feedback")
def submit():
    author = policy.current().name
    item = _feedback_body(author)
    _check_article(item)
    _rate_limit(author)
    row, created = _store_call(store.add, _state().engine, item)
    return jsonify(row.to_json()), (201 if created else 200)


def owner_articles(owner: str | None) -> list[str] | None:
    """The ids of ``owner``'s articles in the loaded build (None: no owner asked, every article)."""
    if owner is None:
        return None
    return sorted(a for a, meta in _searcher(_state()).build.articles.items() if meta.get("owner", "") == owner)


def owner_param() -> str | None:
    raw = request.args.get("owner")
    if raw is None or raw == "":
        return None
    try:
        return canonical_text(raw)
    except InvalidId as exc:
        raise ApiError(400, "invalid_parameter", f"parameter 'owner': {exc}") from None


@bp.get("/api/feedback")
def list_feedback():
    status = request.args.get("status", "open")
    if status not in (*store.STATUSES, "all"):
        raise ApiError(400, "invalid_parameter", f"parameter 'status': one of {', '.join(store.STATUSES)}, all")
    limit = _int_param(request.args, "limit", 100, 1, store.MAX_LIST)
    article_ids = owner_articles(owner_param())
    article_id = request.args.get("article_id")
    if "\x00" in (article_id or ""):   # PostgreSQL text cannot hold NUL: no such article anywhere
        raise ApiError(400, "invalid_parameter", "parameter 'article_id' must not contain NUL")
    if article_id:
        article_ids = [a for a in (article_ids if article_ids is not None else [article_id]) if a == article_id]
    rows = _store_call(store.rows, _state().engine, article_ids, None if status == "all" else status, limit)
    return jsonify({"feedback": [row.to_json() for row in rows]})


@bp.post("/api/feedback/<int:feedback_id>/resolve")
def resolve(feedback_id: int):
    _json_object("{} (an empty JSON object)")
    if feedback_id >= 2 ** 63:   # beyond SQL BIGINT: no such item
        raise ApiError(404, "unknown_feedback", f"no feedback with id {feedback_id}")
    row, _changed = _store_call(store.resolve, _state().engine, feedback_id, policy.current().name)
    if row is None:
        raise ApiError(404, "unknown_feedback", f"no feedback with id {feedback_id}")
    if row.status == "info":
        raise ApiError(409, "nothing_to_resolve", f"feedback {feedback_id} is a 'helpful' vote: nothing to resolve")
    return jsonify(row.to_json())
