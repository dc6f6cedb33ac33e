"""The one policy point: every request is authenticated, then authorised by scope, and writes are
audited — here, never in a view. ``init_app`` installs it as Flask hooks; ``check`` is the same
decision for the fast path (``fast_search.py``), which answers ``GET /api/search`` before Flask.

Authentication, first match wins:
1. ``Authorization: Bearer <token>``: an API token (``kb token create``); a wrong, revoked or expired
   one is a 401 whatever the mode, audited and throttled per client (429 past
   ``AUTH_FAILURES_PER_MINUTE``). The legacy shared ``api_token`` setting is still accepted.
2. ``auth = none``: the local user, with every scope (the server only binds to loopback then, and a
   request that arrives through a proxy from another machine is refused).
3. ``auth = oidc``: a login session (``sessions``).
4. ``auth = proxy``: the user header of an authenticating reverse proxy, believed only from a peer in
   ``trusted_proxies`` (``proxy_identity``); from any other peer it is a 401, audited and throttled.
   Its writes need no CSRF token, but the guard's cross-site write refusal applies to them as to all.
"""
from __future__ import annotations

import hmac
import logging

from flask import Flask, g, redirect, request, url_for

from search.service.auth import audit, proxy_identity, sessions, tokens
from search.service.auth.principals import LOCAL, STAFF_ONLY, Principal, expand, is_loopback
from search.service.errors import ApiError

log = logging.getLogger(__name__)
AUTH_FAILURES_PER_MINUTE = 10
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LEGACY_SCOPES = expand({"read", "internal", "suggest", "links:write"})
PUBLIC = None
# endpoint → the scope it needs (PUBLIC: none). Anything not listed (a 404 included) needs "read".
REQUIRED = {
    "api.healthz": PUBLIC, "api.readyz": PUBLIC, "auth.login": PUBLIC, "auth.callback": PUBLIC,
    "auth.logout": PUBLIC, "auth.whoami": PUBLIC,
    # the built site carries internal text everywhere (pages, search_index.json, kb-corpus.json): staff only
    "api.search": "read", "api.article": "read", "api.openapi": "read", "site.page": "internal",
    "api.suggest": "suggest", "api.list_links": "links:read", "api.add_link": "links:write",
    "api.delete_link": "links:write", "api.reports": "reports", "erasure.erase_ticket": "admin",
    "feedback.submit": "feedback:write", "feedback.list_feedback": "review", "feedback.resolve": "review",
    "review.review_queue": "review", "review.usage": "review", "gaps.gaps": "review",
}
# endpoints that hand out staff data (comments, ticket ids, internal titles): 'internal' is needed too, so
# a token made with --scope review but without internal (a customer-facing integration) reads nothing
STAFF_DATA = frozenset({"feedback.list_feedback", "feedback.resolve", "review.review_queue", "review.usage", "gaps.gaps"})
# endpoint → audit action of a write
AUDITED = {"api.suggest": "suggest", "api.add_link": "link.create", "api.delete_link": "link.delete",
           "erasure.erase_ticket": "ticket.erase", "feedback.submit": "feedback.create",
           "feedback.resolve": "feedback.resolve"}   # never with the ticket id: erasure must not leave it here
# endpoint → audit action of a read that hands out ticket data in bulk (an export of personal data)
EXPORTS = {"api.list_links": "export.links", "api.reports": "export.reports", "feedback.list_feedback": "export.feedback",
           "review.review_queue": "export.review", "gaps.gaps": "export.gaps"}


def hidden_audiences(principal: Principal | None) -> frozenset[str]:
    """The article audiences ``principal`` may not see (search, suggest, articles API)."""
    return frozenset() if principal is None or principal.allows("internal") else STAFF_ONLY


def required_scope(endpoint: str | None) -> str | None:
    return REQUIRED.get(endpoint or "", "read")


def _fail(state, client: str, reason: str) -> ApiError:
    """A failed authentication: audited (until the client is throttled) and counted per client."""
    allowed, retry_after = state.limiter.hit("authfail:" + client, per_minute=AUTH_FAILURES_PER_MINUTE)
    if not allowed:
        return ApiError(429, "rate_limited", f"too many failed authentications from this client; retry after "
                        f"{retry_after} s", {"Retry-After": str(retry_after)})
    audit.record(state.engine, "anonymous", "auth.failure", "", client, "denied", reason=reason)
    return ApiError(401, "unauthorized", f"{reason}; send 'Authorization: Bearer <token>' with a live API token",
                    {"WWW-Authenticate": 'Bearer realm="kb"'})


def _bearer(state, header: str, client: str) -> Principal:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise _fail(state, client, "the Authorization header is not 'Bearer <token>'")
    presented = presented.strip()
    info = tokens.verify(state.engine, presented)
    if info is not None:
        return Principal(f"token:{info.name}", "token", expand(info.scopes))
    legacy = state.settings.api_token
    if legacy and hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), legacy.encode("utf-8")):
        return Principal("api_token", "token", LEGACY_SCOPES)
    raise _fail(state, client, "unknown, revoked or expired API token")


def authenticate(app: Flask, req, client: str) -> Principal | None:
    """Who sent ``req`` (a Werkzeug request), or None (anonymous); ApiError for a failed credential."""
    state = app.extensions["kb"]
    header = req.headers.get("Authorization")
    if header is not None:
        return _bearer(state, header, client)
    mode = state.settings.auth
    if mode == "none":
        # no peer address: a Unix socket or an in-process call, local by nature. Behind a proxy, the last
        # X-Forwarded-For entry is the address the nearest proxy saw (earlier ones are the client's word)
        peer, forwarded = req.remote_addr, req.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if (peer and not is_loopback(peer)) or (forwarded and not is_loopback(forwarded)):
            raise ApiError(403, "forbidden", "this server runs with auth = none and serves this machine only; "
                           "set the 'auth' setting to serve others")
        return LOCAL
    if mode == "proxy":
        try:
            return proxy_identity.principal(state.settings, req)
        except proxy_identity.UntrustedIdentity as exc:
            raise _fail(state, client, str(exc)) from None
    return sessions.principal(app, req, client)


def check(app: Flask, req, endpoint: str | None, client: str) -> Principal | None:
    """Authenticate and authorise one request; returns the principal or raises ApiError (401/403/429).
    A public endpoint (health, login, whoami) is answered for anyone: a failed credential there is ignored."""
    scope = required_scope(endpoint)
    if scope is PUBLIC:
        try:
            return authenticate(app, req, client)
        except ApiError:
            return None
    principal = authenticate(app, req, client)
    if principal is None:
        how = "sign in through the authenticating proxy" if app.extensions["kb"].settings.auth == "proxy" \
            else "log in (/auth/login)"
        raise ApiError(401, "unauthorized", f"{how} or send 'Authorization: Bearer <token>'",
                       {"WWW-Authenticate": 'Bearer realm="kb"'})
    if endpoint in STAFF_DATA and principal.allows(scope):
        scope = "internal"
    if not principal.allows(scope):
        audit.record(app.extensions["kb"].engine, principal.name, "access.denied", endpoint or req.path[:200],
                     client, "denied", needs=scope)
        raise ApiError(403, "forbidden", f"{principal.name} may not do this: it needs the scope '{scope}'")
    if principal.kind == "session" and req.method not in SAFE_METHODS:
        given = req.headers.get("X-CSRF-Token", "")
        if not principal.csrf or not hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                         principal.csrf.encode("utf-8")):
            raise ApiError(403, "csrf_token_missing", "a write signed in by cookie must send the session's CSRF "
                           "token in X-CSRF-Token (GET /auth/whoami gives it)")
    return principal


def current() -> Principal | None:
    """The principal of the request being served (set by the policy point)."""
    return g.get("kb_principal")


def _audit_write(response):
    """Audit every write, and every export of ticket data that was answered (``EXPORTS``)."""
    if request.method in SAFE_METHODS:
        action = EXPORTS.get(request.endpoint or "") if response.status_code == 200 else None
    else:
        action = AUDITED.get(request.endpoint or "")
    if action is None:
        return response
    principal, state = current(), current_state()
    if principal is None:   # refused by the policy point (audited there)
        return response
    target = ""
    if action == "link.create" and response.is_json and response.status_code in (200, 201):
        target = f"link:{response.get_json().get('id')}"
    elif action == "link.delete":
        target = f"link:{(request.view_args or {}).get('link_id')}"
    elif action == "suggest" and response.is_json and response.status_code == 200:
        target = f"request:{response.get_json().get('request_id')}"
    elif action == "feedback.create" and response.is_json and response.status_code in (200, 201):
        target = f"feedback:{response.get_json().get('id')}"
    elif action == "feedback.resolve":
        target = f"feedback:{(request.view_args or {}).get('feedback_id')}"
    outcome = "ok" if response.status_code < 400 else f"http {response.status_code}"
    detail = response.get_json().get("erased", {}) if action == "ticket.erase" and response.is_json else {}
    # a 503 means the database is busy or gone: the row would wait out the busy timeout a second time
    # (or fail), so that event goes to the log stream only
    try:
        audit.record(state.engine, principal.name if principal else "anonymous", action, target,
                     request.remote_addr or "", outcome, store=response.status_code != 503, **detail)
    except Exception:   # noqa: BLE001 - the write happened; a lost audit row is logged loudly, not a 500
        log.exception("could not write the audit row of %s %s", action, target)
    return response


def _is_page(req) -> bool:
    """A person's browser asking for a page: send it to the login instead of a JSON 401."""
    return req.method in ("GET", "HEAD") and not req.path.startswith(("/api/", "/auth/")) and \
        req.path not in ("/healthz", "/readyz")


def current_state():
    from flask import current_app

    return current_app.extensions["kb"]


def init_app(app: Flask) -> None:
    """Install the policy point (after the guard's rate limit) and the write audit."""
    @app.before_request
    def _policy():
        try:
            g.kb_principal = check(app, request, request.endpoint, request.remote_addr or "unknown")
        except ApiError as exc:
            if exc.status == 401 and _is_page(request) and app.extensions["kb"].settings.auth == "oidc":
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            raise

    app.after_request(_audit_write)
    sessions.init_app(app)
