"""Issue 17's attacks on the app, through Flask's test client (the real server and the browser parts
are in test_server.py and test_browser.py): cross-site and non-JSON writes, Host names, ticket id
look-alikes, cache and permissions headers, rate limits on every route, the static route's oracle,
errors and symlinks, and /readyz's warning."""
from __future__ import annotations

import dataclasses
import time

import pytest

from tests.conftest import AUTH
from tests.test_api import _error_shape

TICKET = {"ticket_id": "ZD-1", "body": "Shaka error 6007 since today"}


def _make_app(real_settings, real_searcher, tmp_path, **changes):
    from search.service import create_app

    values = {"api_token": "test-token", "rate_limit_per_minute": 0, "data_dir": str(tmp_path),
              "index_root": str(real_settings.index_path), "database_url": f"sqlite:///{tmp_path / 'links.db'}", **changes}
    settings = dataclasses.replace(real_settings, **values)
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


@pytest.mark.parametrize("kwargs", [
    {"data": "Shaka error 6007", "content_type": "text/plain"},                 # what a no-cors fetch may send
    {"data": {"body": "Shaka error 6007"}},                                     # an HTML form
    {"data": "body=Shaka", "content_type": "application/x-www-form-urlencoded"},
    {"data": '{"body": "Shaka error 6007"}', "content_type": "text/plain;charset=UTF-8"},
    {"data": '{"body": "Shaka error 6007"}'},                                   # no Content-Type at all
])
def test_json_writes_refuse_other_content_types_with_415(client, kwargs):
    """Before: text/plain was a ticket, so any web page could write into the suggestion log."""
    _error_shape(client.post("/api/suggest", **kwargs), 415, "unsupported_media_type")
    link = {"ticket_id": "T", "article_id": "FAQ-DRM-001"}
    _error_shape(client.post("/api/links", data=str(link), content_type="text/plain", headers=AUTH), 415)
    assert client.get("/api/reports").get_json()["suggestion_requests"] == 0


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},    # same-site: another port of this host
    {"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": "http://localhost:9999", "Host": "localhost:8000"},
    {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},
])
def test_cross_site_writes_are_403(client, headers):
    _error_shape(client.post("/api/suggest", json=TICKET, headers=headers), 403, "cross_site_request")
    link = {"ticket_id": "T", "article_id": "FAQ-DRM-001"}
    _error_shape(client.post("/api/links", json=link, headers={**AUTH, **headers}), 403, "cross_site_request")
    _error_shape(client.delete("/api/links/1", headers={**AUTH, **headers}), 403, "cross_site_request")
    assert client.get("/api/reports").get_json()["suggestion_requests"] == 0


@pytest.mark.parametrize("headers", [
    {}, {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, {"Sec-Fetch-Site": "none"},
])
def test_same_origin_pages_curl_and_integrations_still_write(client, headers):
    assert client.post("/api/suggest", json=TICKET, headers=headers).status_code == 200
    response = client.post("/api/links", json={"ticket_id": "T", "article_id": "FAQ-DRM-001"}, headers={**AUTH, **headers})
    assert response.status_code == 201
    # reads are never refused for their origin: the browser keeps a cross-origin answer from the page
    assert client.get("/api/links?ticket_id=T", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_unknown_host_names_are_400_on_every_route(client, real_settings, real_searcher, tmp_path):
    """DNS rebinding: a page on evil.example, resolved to 127.0.0.1, reads the API as same-origin."""
    for path in ("/api/search?q=6007", "/api/links?ticket_id=T", "/api/reports", "/", "/readyz", "/api/nothing"):
        response = client.get(path, headers={"Host": "evil.example:8000"})
        _error_shape(response, 400, "host_not_allowed")
        assert response.headers["Content-Security-Policy"] and response.headers["Permissions-Policy"]
    _error_shape(client.post("/api/suggest", json=TICKET, headers={"Host": "evil.example"}), 400)
    for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST", "localhost."):
        assert client.get("/api/search?q=6007", headers={"Host": host}).status_code == 200, host
    custom = _make_app(real_settings, real_searcher, tmp_path, allowed_hosts="kb.example.com, .corp.example").test_client()
    for host, status in (("kb.example.com", 200), ("a.corp.example:443", 200), ("corp.example", 200),
                         ("localhost", 400), ("kb.example.com.evil.example", 400), ("evil.example/x", 400)):
        assert custom.get("/api/reports", headers={"Host": host}).status_code == status, host


def test_default_allowlist_is_the_loopback_names_and_the_bound_host():
    from search.settings import load_settings

    assert load_settings(None, environ={}).host_allowlist == ["127.0.0.1", "::1", "localhost"]
    assert "kb.internal" in load_settings(None, {"host": "kb.internal"}, environ={}).host_allowlist
    assert load_settings(None, environ={"KB_ALLOWED_HOSTS": "a.example,*"}).host_allowlist == ["a.example", "*"]


def test_no_store_on_ticket_data_and_permissions_policy_everywhere(client):
    responses = {"suggest": client.post("/api/suggest", json=TICKET),
                 "links": client.get("/api/links?ticket_id=ZD-1"),
                 "add": client.post("/api/links", json={"ticket_id": "T", "article_id": "FAQ-DRM-001"}, headers=AUTH),
                 "reports": client.get("/api/reports")}
    for name, response in responses.items():
        assert response.headers["Cache-Control"] == "no-store", name
    for response in (client.get("/api/search?q=6007"), client.get("/"), client.get("/api/nothing"),
                     client.get("/healthz"), client.put("/api/links"), *responses.values()):
        assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.parametrize("variant", ["ZD-7", "ZD-7 ", " ZD-7\n", "ＺＤ-７", "ＺＤ－7"])
def test_ticket_id_variants_are_one_ticket(client, variant):
    """Before: ZD-7, 'ZD-7 ' and full-width ＺＤ-7 were three tickets (counts inflated, links hidden)."""
    first = client.post("/api/links", json={"ticket_id": "ZD-7", "article_id": "FAQ-DRM-001"}, headers=AUTH)
    again = client.post("/api/links", json={"ticket_id": variant, "article_id": "FAQ-DRM-001"}, headers=AUTH)
    assert again.status_code == (201 if variant == "ZD-7" else 200) or first.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"] and again.get_json()["ticket_id"] == "ZD-7"
    listed = client.get("/api/links", query_string={"ticket_id": variant}).get_json()["links"]
    assert [l["id"] for l in listed] == [first.get_json()["id"]]
    assert client.get("/api/articles/FAQ-DRM-001").get_json()["linked_tickets"] == 1
    assert client.post("/api/suggest", json={"ticket_id": variant, "body": "Shaka 6007"}).get_json()["ticket_id"] == "ZD-7"


@pytest.mark.parametrize("bad", ["ZD-7\u200b", "\u202aZD-7", "ZD-\u202e7", "ZD\r7", "ZD\x1b[2K7", "ZD-7\ufeff", "\u200b", "  "])
def test_ticket_ids_with_control_or_format_characters_are_400(client, bad):
    message = _error_shape(client.post("/api/links", json={"ticket_id": bad, "article_id": "FAQ-DRM-001"}, headers=AUTH),
                           400, "invalid_field")["message"]
    assert "ticket_id" in message
    _error_shape(client.post("/api/suggest", json={"ticket_id": bad, "body": "Shaka 6007"}), 400, "invalid_field")
    listed = client.get("/api/links", query_string={"ticket_id": bad})   # no ticket can have that id
    assert listed.status_code == 200 and listed.get_json() == {"links": []}
    if bad.strip():   # (a blank agent is no agent)
        _error_shape(client.post("/api/links", json={"ticket_id": "T", "article_id": "FAQ-DRM-001", "agent": bad},
                                 headers=AUTH), 400, "invalid_field")
        assert client.get("/api/links?limit=10").get_json()["links"] == []


def test_ticket_id_pattern_setting(real_settings, real_searcher, tmp_path):
    client = _make_app(real_settings, real_searcher, tmp_path, ticket_id_pattern=r"ZD-[0-9]{1,9}").test_client()
    assert client.post("/api/links", json={"ticket_id": "ＺＤ-42", "article_id": "FAQ-DRM-001"}, headers=AUTH).status_code == 201
    for bad in ("ZD-x", "ZD-42 extra", "JIRA-1"):
        message = _error_shape(client.post("/api/suggest", json={"ticket_id": bad, "body": "6007"}), 400)["message"]
        assert "pattern" in message
    slow = _make_app(real_settings, real_searcher, tmp_path / "slow", ticket_id_pattern=r"(a+)+$").test_client()
    started = time.monotonic()
    response = slow.post("/api/suggest", json={"ticket_id": "a" * 120 + "!", "body": "6007"})
    assert time.monotonic() - started < 10   # catastrophic backtracking is cut off by the timeout (0.05 s)
    _error_shape(response, 400, "invalid_field")


def test_the_refused_ranges_are_the_unicode_databases_control_format_and_surrogate_characters():
    import sys
    import unicodedata

    from search.service.ticket_ids import REFUSED_CATEGORIES, REFUSED_RANGES

    listed = {cp for a, b in REFUSED_RANGES for cp in range(a, b + 1)}
    actual = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) in REFUSED_CATEGORIES}
    assert listed == actual, "update REFUSED_RANGES for this Python's Unicode database"


@pytest.mark.parametrize("pattern", ["(", "[a-", "x" * 501])
def test_a_bad_ticket_id_pattern_is_a_settings_error(pattern):
    from search.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="ticket_id_pattern"):
        load_settings(None, environ={"KB_TICKET_ID_PATTERN": pattern})


def test_every_route_is_rate_limited(real_settings, real_searcher, tmp_path):
    """Before: only /api/search and /api/suggest were limited."""
    client = _make_app(real_settings, real_searcher, tmp_path, rate_limit_per_minute=4,
                       site_rate_limit_per_minute=6).test_client()
    api = [client.get(path).status_code for path in
           ("/api/reports", "/api/links?ticket_id=T", "/api/articles/FAQ-DRM-001", "/api/openapi.json",
            "/api/search?q=6007", "/api/nothing")]
    assert api == [200, 200, 200, 200, 429, 429]
    limited = client.post("/api/suggest", json=TICKET)
    _error_shape(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # the site's files and the health probes have their own, larger budget
    site = [client.get(path).status_code for path in ("/healthz", "/readyz", "/", "/", "/", "/", "/healthz")]
    assert site == [200] * 6 + [429]


@pytest.fixture
def tiny_site(tmp_path):
    site = tmp_path / "site"
    (site / "guide").mkdir(parents=True)
    (site / "index.html").write_text("<h1>home</h1>")
    (site / "404.html").write_text("<h1>not here</h1>")
    (site / "guide" / "index.html").write_text("<h1>guide</h1>")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("server secret")
    (site / "leak.txt").symlink_to(tmp_path / "outside" / "secret.txt")
    (site / "leakdir").symlink_to(tmp_path / "outside")
    (site / "inside.html").symlink_to(site / "guide" / "index.html")
    return site


def test_static_route_is_no_directory_oracle_and_never_a_500(real_settings, real_searcher, tmp_path, tiny_site):
    """Before: /..%2foutside answered 308 when the host directory existed and 404 when not; a 300-character
    name was a 500 (ENAMETOOLONG); symlinks in site/ were followed to any file."""
    client = _make_app(real_settings, real_searcher, tmp_path, site_dir=str(tiny_site)).test_client()
    assert client.get("/guide").status_code == 308 and client.get("/guide/").status_code == 200
    answers = {path: client.get(path) for path in (
        "/..%2foutside", "/..%2fno-such-dir", "/..%2f..%2f..%2f..%2f..%2f..%2froot%2f.ssh", "/..%2f..%2f..%2f..%2fetc",
        "/%2e%2e/outside", "/guide/..%2f..%2foutside", "/" + "a" * 300, "/guide/" + "b" * 300 + "/",
        "/leak.txt", "/leakdir/secret.txt", "/leakdir", "/x%00y")}
    for path, response in answers.items():
        assert response.status_code == 404 and b"not here" in response.data, path
        assert b"server secret" not in response.data
    assert client.get("/inside.html").status_code == 200   # a symlink within the site is fine


def test_a_500_logs_the_path_without_raw_control_characters(real_settings, real_searcher, tmp_path, tiny_site,
                                                             monkeypatch, caplog):
    from search.service import site

    client = _make_app(real_settings, real_searcher, tmp_path, site_dir=str(tiny_site)).test_client()

    def broken(*_args):
        raise RuntimeError("boom")

    monkeypatch.setattr(site, "site_entry", broken)
    caplog.set_level("ERROR")
    response = client.get("/%0d%1b[2Kforged%20line")
    _error_shape(response, 500, "internal_error")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "forged" in logged and "\r" not in logged and "\x1b" not in logged


def test_readyz_warning_has_no_server_paths_and_clears_when_current_points_back(real_settings, real_searcher, tmp_path):
    """Before: the warning showed anonymous clients absolute paths, and stayed after `current` was
    pointed back at the served build."""
    from tests.test_reliability import _app, _copy_root, _publish_bad_copy

    root, good = _copy_root(real_settings, tmp_path / "index")
    app = _app(real_settings, real_searcher, tmp_path, root)
    holder, client = app.extensions["kb"].holder, app.test_client()
    _publish_bad_copy(root, good, "flipped", "29990101T000000000000-bad000")
    holder.refresh()
    warning = client.get("/readyz").get_json()["warning"]
    assert "chunks.json" in warning and "checksum" in warning
    assert str(tmp_path) not in warning and "/" not in warning.split(":")[0]
    assert str(tmp_path) in holder.error   # the log keeps the full path
    (root / "current").write_text(good + "\n")
    holder.refresh()
    assert "warning" not in client.get("/readyz").get_json()
    (root / "current").write_text("29990101T000000000000-bad000\n")   # pointed at the bad build again: re-checked
    holder.refresh()
    assert "checksum" in client.get("/readyz").get_json()["warning"]


def test_readyz_not_ready_message_has_no_server_paths(real_settings, real_searcher, tmp_path):
    from tests.test_reliability import _app

    response = _app(real_settings, real_searcher, tmp_path, tmp_path / "empty-index").test_client().get("/readyz")
    message = _error_shape(response, 503)["message"]
    assert "no published index build" in message and str(tmp_path) not in message


def test_index_builds_are_private(real_settings):
    """Issue 17 item 12: the index root, its builds and every file in them are 0700 / 0600."""
    import stat

    root = real_settings.index_path
    entries = [root, *root.rglob("*")]
    modes = {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in entries}
    assert all(mode == (0o700 if p.is_dir() else 0o600) for p, mode in zip(entries, modes.values())), modes
    assert (root / "current").exists() and len(modes) > 5


def test_a_permission_error_in_the_site_is_a_404(real_settings, real_searcher, tmp_path, tiny_site, monkeypatch):
    """(Root reads any file, so the permission error is simulated where the route asks the file system.)"""
    import os

    from search.service import site

    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if "forbidden" in str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    client = _make_app(real_settings, real_searcher, tmp_path, site_dir=str(tiny_site)).test_client()
    monkeypatch.setattr(site.os, "stat", stat)
    for path in ("/forbidden", "/forbidden/", "/guide/forbidden.html"):
        assert client.get(path).status_code == 404, path
