"""The policy point (search/service/auth): auth none only on loopback, API tokens and their scopes on
every route (the fast search path included), revocation without a restart, login sessions with roles
and CSRF, and the audit rows of writes, denials and failed authentication. The login itself against a
real OpenID Connect provider is in tests/test_oidc_browser.py."""
from __future__ import annotations

import dataclasses
import time

import pytest
from click.testing import CliRunner

from kb_cli.main import cli
from search.service.auth import audit, tokens
from search.service.auth.principals import parse_role_groups, roles_from_groups
from tests.conftest import free_port

LINK = {"ticket_id": "ZD-7", "article_id": "FAQ-DRM-001", "anchor": "resolution", "source": "suggested"}


def _make(real_settings, real_searcher, tmp_path, **changes):
    from search.service import create_app

    settings = dataclasses.replace(real_settings, rate_limit_per_minute=0, data_dir=str(tmp_path),
                                   index_root=str(real_settings.index_path),
                                   database_url=f"sqlite:///{tmp_path / 'links.db'}", **changes)
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


@pytest.fixture
def oidc_app(real_settings, real_searcher, tmp_path):
    return _make(real_settings, real_searcher, tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9/never-fetched",
                 oidc_client_id="kb", oidc_role_groups="reader=*,agent=support,admin=kb-admins")


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _token(app, name: str, scopes: str) -> str:
    return tokens.create(app.extensions["kb"].engine, name, tokens.parse_scopes(scopes), None, "test")[0]


def _sign_in(client, user="ana", roles=("agent",), expires_in=600.0):
    with client.session_transaction() as session:
        session.update(user=user, roles=list(roles), csrf="csrf-" + user, exp=time.time() + expires_in)
    return {"X-CSRF-Token": "csrf-" + user}


def test_auth_none_refuses_a_non_loopback_address(real_settings, real_searcher, tmp_path):
    with pytest.raises(ValueError, match="setting 'auth' is 'none'.*'0.0.0.0'"):
        _make(real_settings, real_searcher, tmp_path, host="0.0.0.0")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        result = CliRunner().invoke(cli, ["serve", "--host", host, "--port", str(free_port())], obj={},
                                    env={"KB_SITE_DIR": str(tmp_path / "site"), "KB_DATA_DIR": str(tmp_path)})
        assert result.exit_code == 1 and "setting 'auth' is 'none'" in result.output, result.output
    proxy = CliRunner().invoke(cli, ["serve"], obj={}, env={"KB_AUTH": "proxy", "KB_SITE_DIR": str(tmp_path / "site")})
    assert proxy.exit_code == 1 and "'trusted_proxies' is empty" in proxy.output, proxy.output


def test_auth_none_serves_this_machine_only(client):
    assert client.get("/api/search?q=6007").status_code == 200
    for environ in ({"REMOTE_ADDR": "192.0.2.7"}, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.7"}):
        for response in (client.get("/api/search?q=6007", environ_base=environ),
                         client.get("/api/links", environ_base=environ), client.get("/", environ_base=environ)):
            assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    # the client's own X-Forwarded-For entries are its word; the proxy's last entry decides
    spoofed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.7, 127.0.0.1"}
    assert client.get("/api/links", environ_base=spoofed).status_code == 200


def test_token_scopes_on_every_route_and_the_agent_is_the_caller(oidc_app):
    client, engine = oidc_app.test_client(), oidc_app.extensions["kb"].engine
    reader, bot = _token(oidc_app, "reader", "read,internal"), _token(oidc_app, "linker", "read,internal,suggest,links:write")
    assert client.get("/api/search?q=6007", headers=_bearer(reader)).status_code == 200   # the fast path
    assert client.head("/api/search?q=6007", headers=_bearer(reader)).status_code == 200  # the Flask view
    assert client.get("/api/articles/FAQ-DRM-001", headers=_bearer(reader)).status_code == 200
    for method, path in (("post", "/api/suggest"), ("post", "/api/links"), ("get", "/api/links"), ("get", "/api/reports")):
        response = getattr(client, method)(path, json={"body": "Shaka 6007", **LINK}, headers=_bearer(reader))
        assert response.status_code == 403 and "needs the scope" in response.get_json()["error"]["message"], path
    created = client.post("/api/links", json=dict(LINK, agent="somebody-else"), headers=_bearer(bot))
    assert created.status_code == 201 and created.get_json()["agent"] == "token:linker"
    assert client.post("/api/suggest", json={"body": "Shaka error 6007"}, headers=_bearer(bot)).status_code == 200
    assert client.get("/api/reports", headers=_bearer(bot)).status_code == 403
    assert client.delete(f"/api/links/{created.get_json()['id']}", headers=_bearer(bot)).status_code == 204
    rows = [(r.actor, r.action, r.outcome) for r in audit.rows(engine) if r.action != "token.create"]
    assert ("token:reader", "access.denied", "denied") in rows
    assert [r for r in rows if r[1] in ("link.create", "suggest", "link.delete")] == \
        [("token:linker", "link.create", "ok"), ("token:linker", "suggest", "ok"), ("token:linker", "link.delete", "ok")]
    link_row = next(r for r in audit.rows(engine) if r.action == "link.create")
    assert link_row.target == f"link:{created.get_json()['id']}" and "ZD-7" not in str(link_row)   # no ticket ids


def test_exports_of_ticket_data_are_audited_without_the_ticket_id(oidc_app):
    client, engine = oidc_app.test_client(), oidc_app.extensions["kb"].engine
    admin = _token(oidc_app, "auditor", "read,internal,links:read,links:write,reports")
    assert client.post("/api/links", json=LINK, headers=_bearer(admin)).status_code == 201
    assert client.get("/api/links?ticket_id=ZD-7", headers=_bearer(admin)).status_code == 200
    assert client.get("/api/reports", headers=_bearer(admin)).status_code == 200
    assert client.get("/api/search?q=6007", headers=_bearer(admin)).status_code == 200   # not an export
    rows = [r for r in audit.rows(engine) if r.action.startswith("export.")]
    assert [(r.actor, r.action, r.outcome) for r in rows] == \
        [("token:auditor", "export.links", "ok"), ("token:auditor", "export.reports", "ok")]
    assert "ZD-7" not in str(rows)


def test_revocation_applies_to_the_next_request(oidc_app):
    client, engine = oidc_app.test_client(), oidc_app.extensions["kb"].engine
    token = _token(oidc_app, "bot", "read")
    assert client.get("/api/search?q=6007", headers=_bearer(token)).status_code == 200
    tokens.revoke(engine, "bot", "test")
    refused = client.get("/api/search?q=6007", headers=_bearer(token))
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    failure = [r for r in audit.rows(engine) if r.action == "auth.failure"]
    assert failure and failure[-1].client == "127.0.0.1" and token not in str(failure)


def test_failed_authentication_is_throttled_per_client(oidc_app):
    client = oidc_app.test_client()
    codes = [client.get("/api/links", headers=_bearer(f"kb_guess{n}")).status_code for n in range(14)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    other = client.get("/api/links", headers=_bearer("kb_x"), environ_base={"REMOTE_ADDR": "127.0.0.2"})
    assert other.status_code == 401                       # another client is not throttled by the first
    failures = audit.rows(oidc_app.extensions["kb"].engine, action="auth.failure")
    assert len(failures) == 11                            # throttled attempts do not flood the audit trail


def test_oidc_mode_needs_a_login_for_everything_but_health(oidc_app):
    client = oidc_app.test_client()
    for path in ("/api/search?q=6007", "/api/articles/FAQ-DRM-001", "/api/links", "/api/reports", "/api/openapi.json",
                 "/api/nothing"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized", path
    assert client.post("/api/links", json=LINK).status_code == 401
    page = client.get("/id/FAQ-DRM-001/?x=1")
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/login?next=/id/FAQ-DRM-001/")
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    assert client.get("/auth/whoami").get_json() == {"auth": "oidc", "authenticated": False}
    down = client.get("/auth/login")                      # the provider is unreachable: a clear 503, not a 500
    assert down.status_code == 503 and down.get_json()["error"]["code"] == "identity_provider_unavailable"


def test_session_roles_csrf_and_expiry(oidc_app):
    client = oidc_app.test_client()
    csrf = _sign_in(client, "ana", ("reader", "agent"))
    me = client.get("/auth/whoami").get_json()
    assert me["user"] == "ana" and me["csrf_token"] == "csrf-ana" and "links:write" in me["scopes"]
    assert client.get("/api/search?q=6007").status_code == 200 and client.get("/").status_code == 200
    missing = client.post("/api/links", json=LINK)
    assert missing.status_code == 403 and missing.get_json()["error"]["code"] == "csrf_token_missing"
    wrong = client.post("/api/links", json=LINK, headers={"X-CSRF-Token": "csrf-bob"})
    assert wrong.status_code == 403
    created = client.post("/api/links", json=LINK, headers=csrf)
    assert created.status_code == 201 and created.get_json()["agent"] == "ana"
    assert client.get("/api/reports").status_code == 403     # reports are for admins
    _sign_in(client, "root", ("admin",))
    assert client.get("/api/reports").status_code == 200
    _sign_in(client, "ana", ("agent",), expires_in=-1)       # the session has expired
    assert client.get("/api/search?q=6007").status_code == 401
    _sign_in(client, "nobody", ())                           # signed in, but no role
    assert client.get("/api/search?q=6007").status_code == 403


def test_logout_ends_the_session(oidc_app):
    client = oidc_app.test_client()
    _sign_in(client)
    assert client.get("/api/links").status_code == 200
    assert client.get("/auth/logout").status_code == 302   # no id token here: back to the site
    assert client.get("/api/links").status_code == 401
    assert [r.action for r in audit.rows(oidc_app.extensions["kb"].engine)] == ["export.links", "logout"]


@pytest.mark.parametrize("target, expected", [
    ("/id/X/", "/id/X/"), ("//evil.example/", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"),
    (None, "/"), ("javascript:alert(1)", "/"),
])
def test_login_never_redirects_off_site(target, expected):
    from search.service.auth.sessions import _safe_next

    assert _safe_next(target) == expected


def test_roles_from_groups():
    mapping = "reader=*,agent=support|tier2,admin=kb-admins"
    assert roles_from_groups(["tier2"], mapping) == ("reader", "agent")
    assert roles_from_groups("kb-admins", mapping) == ("reader", "admin")
    assert roles_from_groups(None, "agent=support") == ()
    for bad in ("root=admins", "agent", "agent="):
        with pytest.raises(ValueError, match="oidc_role_groups"):
            parse_role_groups(bad)


def test_hostile_credentials_are_clear_4xx(oidc_app):
    client = oidc_app.test_client()
    client.set_cookie("kb_session", "eyJ1c2VyIjoicm9vdCIsInJvbGVzIjpbImFkbWluIl19.forged.signature")
    assert client.get("/api/reports").status_code == 401          # a forged session is no session
    client.delete_cookie("kb_session")
    for header in ("Bearer " + "k" * 100_000, "Bearer kb_\u00ff\u00fe", "Bearer", "bearer  kb_x", "Digest x=1",
                   "Bearer kb_" + "\x00" * 10):
        response = client.get("/api/links", headers={"Authorization": header})
        assert response.status_code in (400, 401, 429), (header[:20], response.status_code)
        assert response.get_json()["error"]["code"] in ("unauthorized", "rate_limited", "request_header_fields_too_large",
                                                        "bad_request")
    login = client.get("/auth/callback?state=forged&code=x")   # no login started: refused, audited
    assert login.status_code in (401, 503)


def test_internal_articles_reach_only_staff(oidc_app):
    """A caller without the scope 'internal' (e.g. a customer-facing chatbot's token) gets customer and
    partner articles only, from search, suggest and the articles API, and not the staff site."""
    client = oidc_app.test_client()
    build = oidc_app.extensions["kb"].holder.searcher.build   # this app's own copy of the index
    build.articles["FAQ-DRM-001"]["audience"] = "customer"    # the fixture's others declare none: internal
    outside, staff = _token(oidc_app, "chatbot", "read,suggest"), _token(oidc_app, "staff", "read,internal,suggest")

    def found(response) -> set[str]:
        body = response.get_json()
        return {r["article_id"] for r in body.get("results", body.get("suggestions", []))}

    for query in ("error", "6007", "manifestLoadError 403 upload"):
        assert found(client.get(f"/api/search?q={query}&k=50", headers=_bearer(outside))) <= {"FAQ-DRM-001"}
    assert len(found(client.get("/api/search?q=error&k=50", headers=_bearer(staff)))) > 1
    ticket = {"body": "manifestLoadError on HLS, also shaka 6007 and CDN 503 and upload 413"}
    assert found(client.post("/api/suggest?k=50", json=ticket, headers=_bearer(outside))) <= {"FAQ-DRM-001"}
    assert len(found(client.post("/api/suggest?k=50", json=ticket, headers=_bearer(staff)))) > 1
    internal_id = next(a for a in build.articles if a != "FAQ-DRM-001")
    assert client.get(f"/api/articles/{internal_id}", headers=_bearer(outside)).status_code == 404   # as unknown
    assert client.get(f"/api/articles/{internal_id}", headers=_bearer(staff)).status_code == 200
    assert client.get("/api/articles/FAQ-DRM-001", headers=_bearer(outside)).status_code == 200
    for path in ("/", "/kb-corpus.json", "/search/search_index.json"):
        assert client.get(path, headers=_bearer(outside)).status_code == 403, path
    assert client.get("/kb-corpus.json", headers=_bearer(staff)).status_code == 200
