"""``auth = proxy``: the identity header of an authenticating reverse proxy, believed only from a peer in
``trusted_proxies``; roles from its groups header. Through the app's test client (the peer is the
test client's REMOTE_ADDR); the real nginx ``auth_request`` set-up is in tests/test_front_door.py."""
from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner

from kb_cli.main import cli
from search.service.auth import audit
from search.settings import SettingsError, load_settings

LINK = {"ticket_id": "ZD-PROXY-1", "article_id": "FAQ-DRM-001", "anchor": "resolution", "source": "suggested"}
PROXY, STRANGER = {"REMOTE_ADDR": "10.0.0.5"}, {"REMOTE_ADDR": "192.0.2.9"}


def _make(real_settings, real_searcher, tmp_path, **changes):
    from search.service import create_app

    values = dict(auth="proxy", host="0.0.0.0", trusted_proxies=("10.0.0.0/24",), allowed_hosts="localhost",
                  oidc_role_groups="reader=*,agent=support,admin=kb-admins")
    values.update(changes)
    settings = dataclasses.replace(real_settings, rate_limit_per_minute=0, data_dir=str(tmp_path),
                                   index_root=str(real_settings.index_path),
                                   database_url=f"sqlite:///{tmp_path / 'links.db'}", **values)
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


@pytest.fixture
def proxy_app(real_settings, real_searcher, tmp_path):
    return _make(real_settings, real_searcher, tmp_path)


def _as(user: str, groups: str | None = None) -> dict:
    return {"X-Forwarded-User": user} | ({"X-Forwarded-Groups": groups} if groups is not None else {})


def test_proxy_mode_refuses_to_start_without_trusted_proxies(real_settings, real_searcher, tmp_path):
    with pytest.raises(ValueError, match="'trusted_proxies' is empty"):
        _make(real_settings, real_searcher, tmp_path, trusted_proxies=())
    with pytest.raises(ValueError, match="oidc_role_groups"):
        _make(real_settings, real_searcher, tmp_path, oidc_role_groups="root=admins")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    result = CliRunner().invoke(cli, ["serve"], obj={}, env={"KB_AUTH": "proxy", "KB_SITE_DIR": str(tmp_path / "site"),
                                                             "KB_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1 and "'trusted_proxies' is empty" in result.output, result.output


def test_header_names_are_settings_and_validated():
    settings = load_settings(None, environ={"KB_PROXY_USER_HEADER": "X-Auth-Request-User"})
    assert settings.proxy_user_header == "X-Auth-Request-User" and settings.proxy_groups_header == "X-Forwarded-Groups"
    for bad in ("X Forwarded User", "X_Forwarded_User", "X-User:", "-" * 101):
        with pytest.raises(SettingsError, match="setting 'proxy_user_header'"):
            load_settings(None, environ={"KB_PROXY_USER_HEADER": bad})


def test_identity_from_a_trusted_proxy_with_roles_from_groups(proxy_app):
    client = proxy_app.test_client()
    me = client.get("/auth/whoami", headers=_as("ana", "support, other"), environ_base=PROXY).get_json()
    assert me["user"] == "ana" and me["kind"] == "proxy" and me["roles"] == ["reader", "agent"]
    assert "csrf_token" not in me
    assert client.get("/api/search?q=6007", headers=_as("ana"), environ_base=PROXY).status_code == 200   # fast path
    assert client.get("/", headers=_as("ana"), environ_base=PROXY).status_code == 200                   # the site
    # a write authenticated by the proxy needs no CSRF token, and is the user's, audited
    created = client.post("/api/links", json=LINK, headers=_as("ana", "support"), environ_base=PROXY)
    assert created.status_code == 201 and created.get_json()["agent"] == "ana"
    rows = audit.rows(proxy_app.extensions["kb"].engine, action="link.create")
    assert rows[-1].actor == "ana"
    # a reader may not write, an agent may not read the reports, an admin may
    assert client.post("/api/links", json=LINK, headers=_as("rui"), environ_base=PROXY).status_code == 403
    assert client.get("/api/reports", headers=_as("ana", "support"), environ_base=PROXY).status_code == 403
    assert client.get("/api/reports", headers=_as("root", "kb-admins"), environ_base=PROXY).status_code == 200


def test_no_role_no_access(real_settings, real_searcher, tmp_path):
    app = _make(real_settings, real_searcher, tmp_path, oidc_role_groups="agent=support")
    response = app.test_client().get("/api/search?q=6007", headers=_as("eve", "visitors"), environ_base=PROXY)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_without_the_header_it_is_anonymous(proxy_app):
    client = proxy_app.test_client()
    for headers in ({}, {"X-Forwarded-User": ""}, {"X-Forwarded-User": "   "}, {"X-Forwarded-Groups": "kb-admins"}):
        response = client.get("/api/links", headers=headers, environ_base=PROXY)
        assert response.status_code == 401, headers
        assert "authenticating proxy" in response.get_json()["error"]["message"]
    page = client.get("/", environ_base=PROXY)
    assert page.status_code == 401   # no login of ours to redirect to: the proxy does the signing in
    assert client.get("/healthz", environ_base=PROXY).status_code == 200
    assert client.get("/auth/whoami", environ_base=PROXY).get_json() == {"auth": "proxy", "authenticated": False}


def test_a_spoofed_header_from_an_untrusted_peer_is_401_and_audited(proxy_app):
    client, engine = proxy_app.test_client(), proxy_app.extensions["kb"].engine
    for path in ("/api/search?q=6007", "/api/links", "/api/reports", "/"):
        response = client.get(path, headers=_as("root", "kb-admins"), environ_base=STRANGER)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized", path
    write = client.post("/api/links", json=LINK, headers=_as("root", "kb-admins"), environ_base=STRANGER)
    assert write.status_code == 401
    groups_only = client.get("/api/links", headers={"X-Forwarded-Groups": "kb-admins"}, environ_base=STRANGER)
    assert groups_only.status_code == 401
    failures = audit.rows(engine, action="auth.failure")
    assert len(failures) == 6 and failures[-1].client == "192.0.2.9" and failures[-1].actor == "anonymous"
    assert "trusted_proxies" in str(failures[-1].detail)
    assert not audit.rows(engine, action="link.create")
    # a public endpoint answers, but not as the claimed user
    assert client.get("/auth/whoami", headers=_as("root"), environ_base=STRANGER).get_json()["authenticated"] is False


def test_forwarded_for_does_not_make_a_peer_trusted(proxy_app):
    """The trust is the TCP peer's, not the client's X-Forwarded-For word (nor the client address it yields)."""
    client = proxy_app.test_client()
    forged = {"REMOTE_ADDR": "192.0.2.9", "HTTP_X_FORWARDED_FOR": "10.0.0.5"}
    assert client.get("/api/links", headers=_as("root", "kb-admins"), environ_base=forged).status_code == 401
    via_proxy = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "192.0.2.9"}   # a user behind the proxy
    assert client.get("/api/links", headers=_as("ana", "support"), environ_base=via_proxy).status_code == 200


def test_failures_are_throttled_per_client(proxy_app):
    client = proxy_app.test_client()
    codes = [client.get("/api/links", headers=_as("root"), environ_base=STRANGER).status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}


def test_hostile_identity_headers_are_clear_4xx(proxy_app):
    client = proxy_app.test_client()
    for user in ("u" * 201, "ana\x01", "ana,root", "ana;admin", "\u00e9" * 300):
        response = client.get("/api/links", headers=_as(user, "support"), environ_base=PROXY)
        assert response.status_code in (400, 401, 431), (user[:20], response.status_code)
        assert response.get_json()["error"]["code"] in ("unauthorized", "bad_request", "request_header_fields_too_large")
    many = ",".join(f"g{n}" for n in range(5000)) + ",support"   # groups past the 200th are ignored
    me = client.get("/auth/whoami", headers=_as("ana", many), environ_base=PROXY).get_json()
    assert me["roles"] == ["reader"]
    utf8 = "José".encode("utf-8").decode("latin-1")   # what WSGI makes of the UTF-8 bytes the proxy sent
    assert client.get("/auth/whoami", headers=_as(utf8, "support"), environ_base=PROXY).get_json()["user"] == "José"
    twice = client.get("/api/links", headers=[("X-Forwarded-User", "ana"), ("X-Forwarded-User", "root")],
                       environ_base=PROXY)
    assert twice.status_code == 401   # joined into "ana, root" (or the like): refused, not one of them picked


def test_cross_site_writes_are_refused_for_proxy_users_too(proxy_app):
    """The browser sends its cookie to the proxy, which then vouches for it: a cross-site form or fetch
    would be the user's. The guard's cross-site and JSON-only refusal stands between."""
    client = proxy_app.test_client()
    cross = client.post("/api/links", json=LINK, headers=_as("ana", "support") | {"Sec-Fetch-Site": "cross-site"},
                        environ_base=PROXY)
    assert cross.status_code == 403
    origin = client.post("/api/links", json=LINK, headers=_as("ana", "support") | {"Origin": "https://evil.example"},
                         environ_base=PROXY)
    assert origin.status_code == 403
    form = client.post("/api/links", data="ticket_id=ZD-1", content_type="application/x-www-form-urlencoded",
                       headers=_as("ana", "support"), environ_base=PROXY)
    assert form.status_code in (403, 415)
