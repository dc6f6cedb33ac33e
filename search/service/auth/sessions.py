"""Login sessions: OpenID Connect with Authlib (authorization code + PKCE), a signed session cookie
(HttpOnly, SameSite=Lax, Secure when ``public_url`` is https), roles from the groups claim, logout.

Routes (blueprint ``auth``): ``/auth/login?next=/path`` → the provider → ``/auth/callback`` → back to
``next``; ``/auth/logout`` ends the session here and at the provider (RP-initiated logout when the
provider offers it); ``/auth/whoami`` tells the site's pages who is signed in and the CSRF token that
cookie-authenticated writes must echo in ``X-CSRF-Token``.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, request, session

from search.files import private_dir
from search.service.auth import audit
from search.service.auth.principals import Principal, parse_role_groups, roles_from_groups, scopes_of_roles
from search.service.errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__)
SECRET_FILE = "secret_key"
PROVIDER = "kb"


def _secret_key(settings) -> str:
    """The ``secret_key`` setting, or a random key created once in <data_dir>/secret_key (0600; the
    first worker to start writes it, the others read it)."""
    if settings.secret_key:
        return settings.secret_key
    path = private_dir(Path(settings.data_dir)) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):   # another worker is writing it
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it or set the 'secret_key' setting") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def _oauth(app: Flask, settings):
    from authlib.integrations.flask_client import OAuth

    missing = [name for name in ("oidc_issuer", "oidc_client_id") if not getattr(settings, name)]
    if missing:
        raise ValueError(f"setting 'auth' is 'oidc' but {' and '.join(repr(m) for m in missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} empty: set {', '.join(missing)}")
    oauth = OAuth(app)
    oauth.register(PROVIDER, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret or None,
                   server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
                   client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256",
                                  "timeout": 10})
    return oauth


def init_app(app: Flask) -> None:
    settings = app.extensions["kb"].settings
    app.secret_key = _secret_key(settings)
    app.config.update(SESSION_COOKIE_NAME="kb_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.session_minutes))
    if settings.auth in ("oidc", "proxy"):
        parse_role_groups(settings.oidc_role_groups)   # ValueError naming the setting
    if settings.auth == "oidc":
        app.extensions["kb_oauth"] = _oauth(app, settings)
    app.register_blueprint(bp)


def principal(app: Flask, req, client: str) -> Principal | None:
    """The signed-in user of ``req`` (its session cookie; works outside Flask's request cycle too)."""
    settings = app.extensions["kb"].settings
    if settings.auth != "oidc":
        return None
    data = app.session_interface.open_session(app, req)
    user, expires = (data or {}).get("user"), (data or {}).get("exp", 0)
    if not user or not isinstance(expires, (int, float)) or expires < time.time():
        return None
    roles = tuple(r for r in data.get("roles", ()) if isinstance(r, str))
    return Principal(user, "session", scopes_of_roles(roles), roles, csrf=str(data.get("csrf", "")))


def _client():
    oauth = current_app.extensions.get("kb_oauth")
    if oauth is None:
        raise ApiError(404, "not_found", "login is not enabled on this server (setting 'auth' is not 'oidc')")
    return oauth.create_client(PROVIDER)


def _external(path: str) -> str:
    base = current_app.extensions["kb"].settings.public_url.rstrip("/")
    return (base or request.host_url.rstrip("/")) + path


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //evil.example): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target[:2000]


def _provider_metadata() -> dict:
    """The provider's discovery document (fetched once, then cached by Authlib); {} when unreachable."""
    try:
        return _client().load_server_metadata()
    except ApiError:
        raise
    except Exception as exc:   # noqa: BLE001 - network errors of every kind
        log.warning("identity provider unreachable: %s", exc)
        return {}


@bp.get("/auth/login")
def login():
    if not _provider_metadata():
        raise ApiError(503, "identity_provider_unavailable", "the identity provider cannot be reached; try again "
                       "shortly", {"Retry-After": "10"})
    session["next"] = _safe_next(request.args.get("next"))
    return _client().authorize_redirect(_external("/auth/callback"))


@bp.get("/auth/callback")
def callback():
    client, state = _client(), current_app.extensions["kb"]
    settings, where = state.settings, request.remote_addr or ""
    if request.args.get("error"):
        audit.record(state.engine, "anonymous", "login", "", where, "denied", reason=request.args["error"][:100])
        raise ApiError(401, "login_failed", f"the identity provider refused the login: {request.args['error'][:100]}")
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if settings.oidc_groups_claim not in claims:
            claims.update(client.userinfo(token=token))
    except Exception as exc:   # noqa: BLE001 - state mismatch, bad code, bad ID token signature or nonce …
        audit.record(state.engine, "anonymous", "login", "", where, "denied", reason=type(exc).__name__)
        raise ApiError(401, "login_failed", "the login could not be completed (expired or replayed); "
                       "start again at /auth/login") from None
    user = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:200]
    roles = roles_from_groups(claims.get(settings.oidc_groups_claim) or [], settings.oidc_role_groups)
    next_path = _safe_next(session.get("next"))
    session.clear()
    session.permanent = True
    session.update(user=user, roles=list(roles), csrf=secrets.token_urlsafe(32), id_token=token.get("id_token", ""),
                   exp=int(time.time() + settings.session_minutes * 60))
    audit.record(state.engine, user, "login", "", where, "ok", roles=list(roles))
    return redirect(next_path)


@bp.route("/auth/logout", methods=["GET", "POST"])
def logout():
    state = current_app.extensions["kb"]
    user, id_token = session.get("user"), session.get("id_token")
    session.clear()
    if user:
        audit.record(state.engine, user, "logout", "", request.remote_addr or "")
    end = _provider_metadata().get("end_session_endpoint") if id_token else None
    if end:
        query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": _external("/"),
                           "client_id": state.settings.oidc_client_id})
        return redirect(f"{end}?{query}")
    return redirect("/")


@bp.get("/auth/whoami")
def whoami():
    from search.service.auth.policy import current

    who = current()
    body = {"auth": current_app.extensions["kb"].settings.auth, "authenticated": who is not None}
    if who is not None:
        body.update(user=who.name, kind=who.kind, roles=list(who.roles), scopes=sorted(who.scopes))
        if who.kind == "session":
            body["csrf_token"] = who.csrf
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
