"""The JSON API: search, ticket suggestions, articles, ticket↔article links, health, reports."""
from __future__ import annotations

import uuid

from flask import Blueprint, current_app, jsonify, request

from search.errors import QueryError
from search.results import best_sentence
from search.service import guard
from search.service.auth import policy
from search.service.errors import ApiError
from search.service.gaps import capture
from search.service.links import SOURCES, StoreBusy, StoreError
from search.service.ticket_ids import MAX_ID, InvalidId, canonical_text, canonical_ticket_id
from search.ticket import ticket_query

bp = Blueprint("api", __name__)
MAX_QUERY = 512
MAX_TICKET = 20000
MAX_SUBJECT = 1000
STAFF_FIELDS = frozenset({"owner", "last_reviewed", "review_interval_days"})
NO_STORE = frozenset({"api.suggest", "api.add_link", "api.list_links", "api.reports"})   # bodies carry ticket ids


@bp.after_request
def _no_store(response):
    if request.endpoint in NO_STORE:
        response.headers["Cache-Control"] = "no-store"
    return response


def _state():
    return current_app.extensions["kb"]


def _searcher(state):
    searcher = state.holder.searcher
    if searcher is None:
        raise ApiError(503, "index_not_ready", state.holder.public_error or "the search index is not loaded yet",
                       {"Retry-After": "5"})
    return searcher


def _int_param(args, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"parameter '{name}': {raw[:40]!r} is not an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_parameter", f"parameter '{name}': must be from {low} to {high}")
    return value


def _store_call(fn, *args):
    try:
        return fn(*args)
    except StoreBusy as exc:
        raise ApiError(503, "database_busy", str(exc), {"Retry-After": "1"}) from None
    except StoreError as exc:
        raise ApiError(503, "database_unavailable", str(exc), {"Retry-After": "5"}) from None


def search_body(state, args, client: str | None, hidden: frozenset[str] = frozenset(), caller: str | None = None) -> dict:
    """The JSON body of ``GET /api/search?<args>`` from ``client`` (its address), or ``ApiError``;
    articles of the ``hidden`` audiences are left out (policy.hidden_audiences of the caller).
    Flask's request cycle is skipped for GET (``fast_search.py``), so nothing here may use
    ``request`` or ``current_app``. ``caller``: who asked, for the gaps report's distinct-caller count
    (``gaps.capture.caller_of``; default the client address)."""
    guard.rate_limit(state, client or "unknown")
    q = args.get("q", "")
    if not q.strip():
        raise ApiError(400, "invalid_parameter", "parameter 'q': required; give words, an error code or a ticket excerpt")
    if len(q) > MAX_QUERY:
        raise ApiError(400, "invalid_parameter", f"parameter 'q': {len(q)} characters, the limit is {MAX_QUERY}; "
                       "paste long tickets into POST /api/suggest")
    k = _int_param(args, "k", 10, 1, 50)
    mode, area = args.get("mode", "hybrid"), args.get("area") or None
    try:
        response = _searcher(state).search(q, k=k, mode=mode, area=area, type=args.get("type") or None,
                                           tag=args.get("tag") or None, hidden_audiences=hidden)
    except QueryError as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    capture.record_search(state, q, area, mode, response, caller or client or "unknown")
    return response.to_json()


@bp.get("/api/search")
def search():   # GET is answered by fast_search.FastSearch before Flask routes it (HEAD and debug mode come here)
    principal, client = policy.current(), guard.client_address()
    return jsonify(search_body(_state(), request.args, client, policy.hidden_audiences(principal),
                               capture.caller_of(principal, client)))


def _json_object(expected: str) -> dict:
    """The request's JSON object body. Writes take application/json only (415 otherwise): the
    content types a web page may send to another site without asking (text/plain, forms) are refused."""
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", f"Content-Type {request.mimetype or '(none)'!r}: send "
                       f"application/json, {expected}")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", f"body: not a JSON object; send {expected}")
    return data


def _ticket_id(value: str) -> str:
    """The canonical ticket id (ticket_ids.py) of a body field, or a 400 naming it."""
    try:
        return canonical_ticket_id(value, _state().settings.ticket_id_pattern)
    except InvalidId as exc:
        raise ApiError(400, "invalid_field", f"field 'ticket_id': {exc}") from None


def _ticket_from_request() -> tuple[str | None, str, str]:
    data = _json_object('{"body": "…", "subject"?: "…", "ticket_id"?: "…"}')
    fields = {}
    for name in ("ticket_id", "subject", "body"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "invalid_field", f"field '{name}': must be a string")
        fields[name] = value
    if not (fields["body"] or "").strip():
        raise ApiError(400, "invalid_field", "field 'body': required; paste the ticket text")
    ticket_id = _ticket_id(fields["ticket_id"]) if fields["ticket_id"] is not None else None
    return ticket_id, fields["subject"] or "", fields["body"]


@bp.post("/api/suggest")
def suggest():
    ticket_id, subject, body = _ticket_from_request()
    if not body.strip():
        raise ApiError(400, "invalid_body", "body: empty ticket; paste the ticket text")
    if len(body) > MAX_TICKET:
        raise ApiError(400, "invalid_body", f"ticket text is {len(body)} characters, the limit is {MAX_TICKET}; "
                       "trim pasted logs to the relevant part")
    if len(subject) > MAX_SUBJECT:
        raise ApiError(400, "invalid_field", f"field 'subject': {len(subject)} characters, the limit is {MAX_SUBJECT}")
    k = _int_param(request.args, "k", 5, 1, 50)
    ticket = ticket_query(body, subject)
    cleaned = ticket.cleaned
    searcher = _searcher(_state())  # one searcher for the whole request: chunk numbers belong to its build
    response = searcher.search(ticket.query, k=k, focus=ticket.focus,
                               hidden_audiences=policy.hidden_audiences(policy.current()))
    request_id = uuid.uuid4().hex
    suggestions = []
    for rank, r in enumerate(response.results, 1):
        suggestions.append({
            "rank": rank, "article_id": r.article_id, "title": r.title, "type": r.type,
            "service_area": r.service_area, "anchor": r.best.anchor, "heading": r.best.heading,
            "url": r.best.url, "stable_url": r.stable_url + (f"#{r.best.anchor}" if r.best.anchor else ""),
            "score": r.score, "snippet": r.best.snippet,
            "reason": {"identifiers": r.best.identifiers, "lanes": r.best.lanes,
                       "sentence": best_sentence(searcher.build.chunks[r.best.chunk]["text"], cleaned.query)},
        })
    _store_call(_state().store.record_suggestions, request_id, ticket_id,
                [(s["article_id"], s["anchor"], s["rank"], s["score"]) for s in suggestions], response.confident)
    capture.record_suggest(_state(), cleaned.identifiers, ticket_id, response,
                           capture.caller_of(policy.current(), guard.client_address()))
    return jsonify({"request_id": request_id, "ticket_id": ticket_id, "confident": response.confident,
                    "no_confident_match": not response.confident,
                    "cleaned": {"query": cleaned.query, "identifiers": cleaned.identifiers, "removed": cleaned.removed},
                    "suggestions": suggestions, "build_id": response.build_id})


@bp.get("/api/articles/<article_id>")
def article(article_id: str):
    build = _searcher(_state()).build
    meta, hidden = build.articles.get(article_id), policy.hidden_audiences(policy.current())
    if meta is None or (meta.get("audience") or "internal") in hidden:
        raise ApiError(404, "unknown_article", f"no article with id {article_id!r}")
    if hidden:   # who owns an article and when it is reviewed is staff business (as on the customer site)
        meta = {key: value for key, value in meta.items() if key not in STAFF_FIELDS}
    sections, seen = [], set()
    for chunk in build.chunks:
        if chunk["article_id"] == article_id and chunk["anchor"] not in seen:
            seen.add(chunk["anchor"])
            sections.append({"heading": chunk["heading"], "anchor": chunk["anchor"],
                             "url": meta["url"] + (f"#{chunk['anchor']}" if chunk["anchor"] else "")})
    count = _store_call(_state().store.link_counts, [article_id])[article_id]
    return jsonify(dict(meta, sections=sections, linked_tickets=count))


def _link_body() -> dict:
    data = _json_object("a JSON object with ticket_id, article_id, optional anchor and source (suggested|searched|manual)")
    out = {}
    for name, required in (("ticket_id", True), ("article_id", True), ("anchor", False), ("source", False), ("agent", False)):
        value = data.get(name)
        if value is None:
            if required:
                raise ApiError(400, "invalid_field", f"field '{name}': required")
            continue
        if not isinstance(value, str) or len(value) > MAX_ID or (required and not value.strip()) or "\x00" in value:
            raise ApiError(400, "invalid_field", f"field '{name}': a non-empty string of at most {MAX_ID} characters, no NUL")
        out[name] = value
    out["ticket_id"] = _ticket_id(out["ticket_id"])
    if "agent" in out:   # ignored (the link's agent is the authenticated caller); a hostile value is still a 400
        agent = out.pop("agent")
        try:
            if agent.strip():
                canonical_text(agent)
        except InvalidId as exc:
            raise ApiError(400, "invalid_field", f"field 'agent': {exc}") from None
    out.setdefault("anchor", "")
    out.setdefault("source", "manual")
    if out["source"] not in SOURCES:
        raise ApiError(400, "invalid_field", f"field 'source': {out['source']!r} is not one of {', '.join(SOURCES)}")
    return out


@bp.post("/api/links")
def add_link():   # who may: the policy point (auth/policy.py); the agent is who they are, not a body field
    body = _link_body()
    build = _searcher(_state()).build
    if body["article_id"] not in build.articles:
        raise ApiError(404, "unknown_article", f"field 'article_id': no article with id {body['article_id']!r}")
    anchors = {c["anchor"] for c in build.chunks if c["article_id"] == body["article_id"]}
    if body["anchor"] and body["anchor"] not in anchors:
        raise ApiError(400, "invalid_field", f"field 'anchor': {body['anchor']!r} is not a section of "
                       f"{body['article_id']}; known: {', '.join(sorted(a for a in anchors if a))}")
    link, created = _store_call(_state().store.add_link, body["ticket_id"], body["article_id"], body["anchor"],
                                body["source"], policy.current().name)
    return jsonify(link.to_json()), (201 if created else 200)


@bp.get("/api/links")
def list_links():
    ticket_id, article_id = request.args.get("ticket_id"), request.args.get("article_id")
    limit = _int_param(request.args, "limit", 100, 1, 500)
    if "\x00" in (ticket_id or "") + (article_id or ""):   # PostgreSQL text cannot hold NUL: no such link anywhere
        raise ApiError(400, "invalid_parameter", "parameters 'ticket_id' and 'article_id' must not contain NUL")
    if ticket_id:   # canonical, as stored: ＺＤ-7 finds ZD-7's links (no pattern: older links stay reachable)
        try:
            ticket_id = canonical_ticket_id(ticket_id)
        except InvalidId:   # (a control character, blank): no ticket can have that id
            return jsonify({"links": []})
    links = _store_call(_state().store.links, ticket_id or None, article_id or None, limit, bool(ticket_id or article_id))
    return jsonify({"links": [link.to_json() for link in links]})


@bp.delete("/api/links/<int:link_id>")
def delete_link(link_id: int):
    if link_id >= 2 ** 63 or not _store_call(_state().store.delete_link, link_id):  # beyond SQL BIGINT: no such link
        raise ApiError(404, "unknown_link", f"no link with id {link_id}")
    return "", 204


@bp.get("/api/reports")
def reports():
    return jsonify(_store_call(_state().store.report))


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


def _may_write() -> bool:
    """Whether the caller may link (the signed-in user, auth none's local user, a token), or could with
    the legacy shared token typed into the assistant."""
    principal = policy.current()
    return bool(_state().settings.api_token) or (principal is not None and principal.allows("links:write"))


@bp.get("/readyz")
def readyz():
    holder = _state().holder
    if holder.searcher is None:
        raise ApiError(503, "not_ready", holder.public_error or "the search index is not loaded yet", {"Retry-After": "5"})
    try:
        _state().store.ping()
    except (StoreBusy, StoreError) as exc:
        raise ApiError(503, "not_ready", f"links database unreachable: {exc}", {"Retry-After": "5"}) from None
    body = {"status": "ready", "build_id": holder.searcher.build.build_id, "chunks": len(holder.searcher.build.chunks),
            "writes_enabled": _may_write()}   # the site shows link buttons only then
    if holder.error:  # a newer build was rejected: still serving this one, say why (no server paths)
        body["warning"] = holder.public_error
    return jsonify(body)


@bp.get("/api/openapi.json")
def openapi():
    from search.service.openapi import spec

    searcher = _state().holder.searcher
    return jsonify(spec(searcher.areas if searcher else []))
