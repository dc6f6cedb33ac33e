"""The HTTP API through Flask's test client, over the fixture KB indexed with the real model."""
from __future__ import annotations

import pytest

from tests.conftest import AUTH

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}   # as the Flask test client sends (auth none serves loopback only)


def _error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_search_returns_grouped_results_with_deep_links(client):
    body = client.get("/api/search?q=manifestLoadError&k=3").get_json()
    top = body["results"][0]
    assert top["article_id"] == "FAQ-PLAYER-001" and body["confident"] and not body["no_confident_match"]
    assert top["best"]["url"].startswith(top["url"]) and "identifier" in top["best"]["lanes"]
    assert "manifestLoadError" in top["best"]["identifiers"]


def test_search_filters_and_modes(client):
    body = client.get("/api/search?q=error&area=drm&mode=lexical").get_json()
    assert {r["service_area"] for r in body["results"]} == {"drm"} and body["mode"] == "lexical"


@pytest.mark.parametrize("query, fragment", [
    ("", "'q'"), ("q=" + "x" * 513, "'q'"), ("q=a&k=0", "'k'"), ("q=a&k=51", "'k'"), ("q=a&k=ten", "'k'"),
    ("q=a&mode=fuzzy", "'mode'"), ("q=a&area=mars", "'area'"), ("q=a&type=novel", "'type'"),
])
def test_search_bad_parameters_are_400_naming_the_parameter(client, query, fragment):
    error = _error_shape(client.get(f"/api/search?{query}"), 400)
    assert fragment in error["message"]


def test_fast_search_matches_the_flask_view(app, monkeypatch):
    """GET /api/search is answered by search/service/fast_search.py before Flask routes it; the Flask
    view (still serving HEAD) answers the same requests with the same status, headers and body."""
    import re

    from werkzeug.test import Client

    fast, flask = app.test_client(), Client(app.wsgi_app.inner.flask_wsgi_app)

    def seen(response):
        body = re.sub(rb'"took_ms":[0-9.e+-]+', b"", response.get_data())   # a timing: differs run to run
        assert int(response.headers["Content-Length"]) == len(response.get_data())
        return response.status, [h for h in response.headers.items() if h[0] != "Content-Length"], body

    queries = ["q=6007&k=1", "q=hls%20403%20fragLoadError&mode=lexical&area=player&k=3", "q=a&q=b&k=2&k=x",
               "q=%ff%fe+caf%C3%A9", "q=", "k=3", "q=a&k=ten", "q=a&mode=fuzzy", "q=a&type=novel", "q=" + "x" * 513]
    for query in queries:
        assert seen(fast.get(f"/api/search?{query}")) == seen(flask.get(f"/api/search?{query}", environ_base=LOOPBACK)), query

    class Broken:
        def search(self, *args, **kwargs):
            raise RuntimeError("boom")

    for searcher, status in ((None, "503 SERVICE UNAVAILABLE"), (Broken(), "500 INTERNAL SERVER ERROR")):
        monkeypatch.setattr(app.extensions["kb"].holder, "searcher", searcher)
        response = fast.get("/api/search?q=6007")
        assert response.status == status and seen(response) == seen(flask.get("/api/search?q=6007", environ_base=LOOPBACK))
        assert "boom" not in response.get_data(as_text=True)


def test_suggest_cleans_ticket_and_records_suggestions(client):
    ticket = {"ticket_id": "ZD-1001", "subject": "Playback broken",
              "body": "Hello support,\n\nOur players fail with Shaka error 6007 since this morning.\n"
                      "2026-11-20 10:00:01 shaka.util.Error code 6007 LICENSE_REQUEST_FAILED\n\n"
                      "Thanks,\nMaria\n\n> On Mon, Nov 16, support wrote:\n> please clear your cache"}
    body = client.post("/api/suggest", json=ticket).get_json()
    assert body["suggestions"][0]["article_id"] == "FAQ-DRM-001"
    assert "6007" in body["suggestions"][0]["reason"]["identifiers"]
    assert body["suggestions"][0]["reason"]["sentence"]
    assert {"greeting", "signature", "quoted earlier reply"} <= set(body["cleaned"]["removed"])
    assert "clear your cache" not in body["cleaned"]["query"]
    report = client.get("/api/reports").get_json()
    assert report["suggestion_requests"] == 1 and report["tickets_with_suggestions"] == 1
    assert [(d["requests"], d["no_confident_match"]) for d in report["days"]] == [(1, 0)]


def test_suggest_finds_the_article_of_a_short_ticket(client):
    response = client.post("/api/suggest", json={"body": "upload fails with HTTP 413 Payload Too Large"})
    assert response.get_json()["suggestions"][0]["article_id"] == "FAQ-UPLOAD-001"


@pytest.mark.parametrize("kwargs, status", [
    ({"json": {"subject": "x"}}, 400), ({"json": {"body": 5}}, 400), ({"json": ["body"]}, 400),
    ({"data": "not json", "content_type": "application/json"}, 400),
    ({"json": {"body": "x" * 20001}}, 400), ({"data": "x" * (65 * 1024), "content_type": "application/json"}, 413),
])
def test_suggest_bad_bodies(client, kwargs, status):
    _error_shape(client.post("/api/suggest", **kwargs), status)


def test_article_endpoint_and_link_counts(client):
    body = client.get("/api/articles/FAQ-DRM-001").get_json()
    assert body["id"] == "FAQ-DRM-001" and body["linked_tickets"] == 0
    assert any(s["anchor"] == "resolution" for s in body["sections"])
    _error_shape(client.get("/api/articles/FAQ-NOPE-999"), 404, "unknown_article")


def test_links_lifecycle_idempotent_and_authenticated(client):
    link = {"ticket_id": "ZD-7", "article_id": "FAQ-DRM-001", "anchor": "resolution", "source": "suggested", "agent": "ana"}
    _error_shape(client.post("/api/links", json=link, headers={"Authorization": "Bearer wrong"}), 401)
    _error_shape(client.post("/api/links", json=link, headers={"Authorization": "Basic YTpi"}), 401)
    first = client.post("/api/links", json=link, headers=AUTH)
    again = client.post("/api/links", json=link)   # auth none on loopback: the local user, no token needed
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert first.get_json()["agent"] == "api_token"   # who wrote it, never the body's self-asserted "ana"
    assert client.get("/api/articles/FAQ-DRM-001").get_json()["linked_tickets"] == 1
    assert [l["id"] for l in client.get("/api/links?ticket_id=ZD-7").get_json()["links"]] == [first.get_json()["id"]]
    assert len(client.get("/api/links?article_id=FAQ-DRM-001").get_json()["links"]) == 1
    _error_shape(client.delete(f"/api/links/{first.get_json()['id']}", headers={"Authorization": "Bearer x"}), 401)
    assert client.delete(f"/api/links/{first.get_json()['id']}", headers=AUTH).status_code == 204
    _error_shape(client.delete(f"/api/links/{first.get_json()['id']}"), 404, "unknown_link")
    created = client.post("/api/links", json=link)
    assert created.status_code == 201 and created.get_json()["agent"] == "local"


@pytest.mark.parametrize("body, status, fragment", [
    ({"ticket_id": "T", "article_id": "FAQ-NOPE-001"}, 404, "article_id"),
    ({"ticket_id": "T", "article_id": "FAQ-DRM-001", "anchor": "nowhere"}, 400, "anchor"),
    ({"ticket_id": "T", "article_id": "FAQ-DRM-001", "source": "psychic"}, 400, "source"),
    ({"article_id": "FAQ-DRM-001"}, 400, "ticket_id"),
    ({"ticket_id": 5, "article_id": "FAQ-DRM-001"}, 400, "ticket_id"),
])
def test_link_validation(client, body, status, fragment):
    assert fragment in _error_shape(client.post("/api/links", json=body, headers=AUTH), status)["message"]


def test_links_listing_without_filter_returns_the_newest(client):
    for ticket in ("A-1", "A-2", "A-3"):
        client.post("/api/links", json={"ticket_id": ticket, "article_id": "FAQ-DRM-001"}, headers=AUTH)
    body = client.get("/api/links?limit=2").get_json()
    assert [l["ticket_id"] for l in body["links"]] == ["A-3", "A-2"]
    _error_shape(client.get("/api/links?limit=0"), 400)
    _error_shape(client.get("/api/links?limit="), 400)


def test_method_not_allowed_lists_allowed_methods_and_huge_ids_are_404(client):
    response = client.put("/api/suggest")
    _error_shape(response, 405)
    assert response.headers["Allow"] == "OPTIONS, POST"
    _error_shape(client.delete("/api/links/" + "9" * 30, headers=AUTH), 404, "unknown_link")


def test_every_error_is_one_json_shape_with_security_headers(client):
    for response, status in ((client.get("/api/nothing"), 404), (client.delete("/api/search"), 405),
                             (client.put("/api/links"), 405)):
        _error_shape(response, status)
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["Referrer-Policy"]


def test_health_ready_openapi_and_site(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json()["status"] == "ready"
    spec = client.get("/api/openapi.json").get_json()
    assert {"/api/search", "/api/suggest", "/api/articles/{article_id}", "/api/links", "/api/links/{link_id}",
            "/healthz", "/readyz", "/api/openapi.json"} <= set(spec["paths"])
    page = client.get("/id/FAQ-DRM-001/")
    assert page.status_code == 200 and b"FAQ-DRM-001" in page.data
    assert client.get("/no/such/page/").status_code == 404


def test_without_a_login_the_local_user_may_write(real_settings, real_searcher, tmp_path):
    """auth = none (loopback only): the README's commands show the whole product; no api_token needed."""
    import dataclasses

    from search.service import create_app

    settings = dataclasses.replace(real_settings, api_token="", database_url=f"sqlite:///{tmp_path / 'l.db'}")
    app = create_app(settings, encoder=real_searcher.encoder, watch=False)
    response = app.test_client().post("/api/links", json={"ticket_id": "T", "article_id": "FAQ-DRM-001"})
    assert response.status_code == 201 and response.get_json()["agent"] == "local"
    _error_shape(app.test_client().post("/api/links", json={"ticket_id": "T", "article_id": "FAQ-DRM-001"},
                                        headers=AUTH), 401, "unauthorized")   # a wrong credential still fails

def test_rate_limit_returns_429_with_retry_after(real_settings, real_searcher, tmp_path):
    import dataclasses

    from search.service import create_app

    settings = dataclasses.replace(real_settings, rate_limit_per_minute=3, data_dir=str(tmp_path),
                                   index_root=str(real_settings.index_path),
                                   database_url=f"sqlite:///{tmp_path / 'l.db'}")
    client = create_app(settings, encoder=real_searcher.encoder, watch=False).test_client()
    codes = [client.get("/api/search?q=6007").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    response = client.get("/api/search?q=6007")
    _error_shape(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1


def test_relative_site_dir_is_served_from_the_working_directory(real_settings, real_searcher, tmp_path, monkeypatch):
    import dataclasses
    from pathlib import Path

    from search.service import create_app

    site = Path(real_settings.site_dir)
    monkeypatch.chdir(site.parent)
    settings = dataclasses.replace(real_settings, site_dir=site.name, database_url=f"sqlite:///{tmp_path / 'l.db'}")
    client = create_app(settings, encoder=real_searcher.encoder, watch=False).test_client()
    assert client.get("/id/FAQ-DRM-001/").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/missing/page/").status_code == 404


def test_json_bodies_are_compact_utf8_and_round_trip(app, client):
    """The orjson provider: compact UTF-8 with a trailing newline, the same data the standard
    library writes, dataclasses by their fields; debug mode keeps Flask's indented output."""
    import dataclasses
    import json

    response = client.get("/api/search?q=caf%C3%A9%20%E2%80%A6%20fragLoadError&k=3")
    raw = response.get_data()
    assert response.status_code == 200 and raw.endswith(b"}\n") and b'": ' not in raw and b", " not in raw[:200]
    data = json.loads(raw.decode("utf-8"))
    assert data["query"] == "café … fragLoadError" and "café …".encode() in raw   # not \u-escaped
    assert json.loads(app.json.dumps(data)) == data

    @dataclasses.dataclass
    class Point:
        x: int
        label: str

    assert app.json.encode({"p": Point(1, "é<")}) == '{"p":{"x":1,"label":"é<"}}\n'.encode()
    with app.test_request_context():
        app.debug = True
        try:
            assert app.json.response({"a": 1}).get_data() == b'{\n  "a": 1\n}\n'
        finally:
            app.debug = False
