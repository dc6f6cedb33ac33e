"""Feedback and flags (search/service/feedback): the redaction of comments, the store, and the API with
its policy (who may post, read, resolve), hostile input, the audit trail, erasure and retention."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from search.service import db
from search.service.auth import audit
from search.service.db.tables import feedback as feedback_table
from search.service.feedback import store
from search.service.redact import PATTERNS, redact
from tests.conftest import hard_limit
from tests.test_access import _bearer, _make, _sign_in, _token

FLAG = {"article_id": "FAQ-DRM-001", "anchor": "resolution", "kind": "flag", "reason": "outdated",
        "comment": "Step 3 names the old licence URL", "ticket_id": " ZD-31 ", "source": "assistant"}


@pytest.fixture
def oidc_app(real_settings, real_searcher, tmp_path):
    return _make(real_settings, real_searcher, tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9/never-fetched",
                 oidc_client_id="kb", oidc_role_groups="reader=*,agent=support,editor=owners,admin=kb-admins")


# --- redaction (plain function) -------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("write to jane.doe+kb@example.co.uk today", "write to [email] today"),
    ("see https://cdn.example.com/v/1.m3u8?sig=abc&token=xyz then", "see https://cdn.example.com/[…] then"),
    ("password=hunter2 and api_key: 12ab", "password=[redacted] and api_key: [redacted]"),
    ("client 203.0.113.9 failed", "client [ip] failed"),
    ("call +1 (415) 555-0100 or card 4111 1111 1111 1111", "call [number] or card [number]"),
    ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc here", "key [token] here"),
    # what an owner needs stays: ids, error codes, versions, dates, short numbers
    ("FAQ-DRM-001 Shaka 6007 HTTP 502 on 2026-12-06, v4.3.1", "FAQ-DRM-001 Shaka 6007 HTTP 502 on 2026-12-06, v4.3.1"),
    ("NETWORK_BAD_HTTP_STATUS_CODE_ERROR_IN_PLAYER", "NETWORK_BAD_HTTP_STATUS_CODE_ERROR_IN_PLAYER"),
])
def test_redact(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ["a" * 100000, "1." * 50000, "a@" * 50000, "a." * 50000 + "@", "http://" * 15000,
                                  "1 (" * 30000, "token=" * 20000, "-" * 100000, "x@y." * 25000])
def test_redaction_runs_in_linear_time_on_hostile_text(text):
    with hard_limit(5.0):
        for pattern in PATTERNS:
            pattern.sub("", text)
        redact(text)


# --- the store (plain functions) -----------------------------------------------------------------

def _engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    engine = db.make_engine(url)
    db.ensure_current(engine, url)
    return engine


def _item(**changes) -> store.NewFeedback:
    base = dict(article_id="A", anchor="", kind="flag", reason="wrong", comment="mail x@example.com",
                ticket_id="ZD-1", source="article", author="ana")
    return store.NewFeedback(**dict(base, **changes))


def test_store_redacts_dedupes_votes_and_resolves(tmp_path):
    engine = _engine(tmp_path)
    flag, created = store.add(engine, _item())
    assert created and flag.status == "open" and flag.comment == "mail [email]"
    assert store.add(engine, _item())[1]                                   # flags are never merged
    vote, created = store.add(engine, _item(kind="helpful", reason=None, comment=""))
    again, created_again = store.add(engine, _item(kind="helpful", reason=None, comment=""))
    assert created and not created_again and again.id == vote.id and vote.status == "info"
    assert store.add(engine, _item(kind="helpful", reason=None, author="bob"))[1]   # another author: counted
    assert store.add(engine, _item(kind="helpful", reason=None, ticket_id="ZD-2"))[1]   # another ticket: counted
    assert not store.add(engine, _item(kind="helpful", reason=None, ticket_id="ZD-2"))[1]
    assert store.add(engine, _item(kind="helpful", reason=None, ticket_id=None))[1]
    assert not store.add(engine, _item(kind="helpful", reason=None, ticket_id=None))[1]
    assert store.vote_counts(engine, ["A", "B"]) == {"A": {"helpful": 4, "not_helpful": 0}}
    done, changed = store.resolve(engine, flag.id, "ed")
    assert changed and (done.status, done.resolved_by) == ("resolved", "ed") and done.resolved_at
    assert store.resolve(engine, flag.id, "other") == (done, False)        # resolving twice changes nothing
    assert store.resolve(engine, 999, "ed") == (None, False)
    assert [r.id for r in store.rows(engine, status="open")] == [flag.id + 1]
    assert store.rows(engine, article_ids=[]) == []


# --- the API --------------------------------------------------------------------------------------

def test_local_user_posts_lists_and_resolves(client, app):
    posted = client.post("/api/feedback", json=FLAG)
    assert posted.status_code == 201 and posted.headers["Cache-Control"] == "no-store"
    item = posted.get_json()
    assert (item["ticket_id"], item["author"], item["status"], item["source"]) == ("ZD-31", "local", "open", "assistant")
    listed = client.get("/api/feedback?owner=team-drm").get_json()["feedback"]
    assert [f["id"] for f in listed] == [item["id"]]
    assert client.get("/api/feedback?owner=team-player-web").get_json() == {"feedback": []}
    assert client.get("/api/feedback?article_id=FAQ-DRM-001&owner=team-drm").get_json()["feedback"] == listed
    assert client.get("/api/feedback?article_id=FAQ-PLAYER-001&owner=team-drm").get_json() == {"feedback": []}
    resolved = client.post(f"/api/feedback/{item['id']}/resolve", json={})
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    assert client.get("/api/feedback").get_json() == {"feedback": []}            # status=open by default
    assert len(client.get("/api/feedback?status=resolved").get_json()["feedback"]) == 1
    vote = client.post("/api/feedback", json={"article_id": "FAQ-DRM-001", "kind": "helpful"})
    assert vote.status_code == 201
    assert client.post("/api/feedback", json={"article_id": "FAQ-DRM-001", "kind": "helpful"}).status_code == 200
    assert client.post(f"/api/feedback/{vote.get_json()['id']}/resolve", json={}).status_code == 409
    engine = app.extensions["kb"].engine
    actions = [(r.action, r.target, r.outcome) for r in audit.rows(engine)]
    assert ("feedback.create", f"feedback:{item['id']}", "ok") in actions
    assert ("feedback.resolve", f"feedback:{item['id']}", "ok") in actions
    assert ("export.feedback", "", "ok") in actions
    assert "ZD-31" not in json.dumps([r.to_json() for r in audit.rows(engine)])


def test_who_may_post_read_and_resolve(oidc_app):
    client = oidc_app.test_client()
    assert client.post("/api/feedback", json=FLAG).status_code == 401
    assert client.get("/api/feedback").status_code == 401
    assert client.get("/api/review").status_code == 401
    reader = _sign_in(client, "rita", ("reader",))
    assert client.post("/api/feedback", json=FLAG, headers=reader).status_code == 403
    agent = _sign_in(client, "ana", ("agent",))
    assert client.post("/api/feedback", json=FLAG).status_code == 403                 # no CSRF token
    item = client.post("/api/feedback", json=FLAG, headers=agent)
    assert item.status_code == 201 and item.get_json()["author"] == "ana"
    item_id = item.get_json()["id"]
    for response in (client.get("/api/feedback"), client.get("/api/review"),
                     client.post(f"/api/feedback/{item_id}/resolve", json={}, headers=agent)):
        assert response.status_code == 403 and "'review'" in response.get_json()["error"]["message"]
    editor = _sign_in(client, "eve", ("editor",))
    assert [f["id"] for f in client.get("/api/feedback").get_json()["feedback"]] == [item_id]
    done = client.post(f"/api/feedback/{item_id}/resolve", json={}, headers=editor)
    assert done.status_code == 200 and done.get_json()["resolved_by"] == "eve"
    denied = audit.rows(oidc_app.extensions["kb"].engine, action="access.denied")
    assert {r.actor for r in denied} == {"rita", "ana"}


def test_customer_principals_cannot_read_feedback_or_see_internal_articles(oidc_app):
    client = oidc_app.test_client()
    bot = _token(oidc_app, "customer-bot", "read,suggest,feedback:write")
    reviewer = _token(oidc_app, "outside-review", "read,review")
    answer = client.post("/api/feedback", json=FLAG, headers=_bearer(bot))     # the fixture's articles are internal
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "unknown_article"
    for path in ("/api/feedback", "/api/review", "/api/feedback?status=all"):
        response = client.get(path, headers=_bearer(reviewer))
        assert response.status_code == 403 and "'internal'" in response.get_json()["error"]["message"]
    assert client.post("/api/feedback/1/resolve", json={}, headers=_bearer(reviewer)).status_code == 403
    assert client.get("/api/feedback", headers=_bearer(bot)).status_code == 403
    staff = _token(oidc_app, "staff", "read,internal,feedback:write")
    assert client.post("/api/feedback", json=FLAG, headers=_bearer(staff)).status_code == 201


def test_articles_api_hides_owner_from_customer_principals(oidc_app, monkeypatch):
    client = oidc_app.test_client()
    staff = client.get("/api/articles/FAQ-DRM-001", headers=_bearer(_token(oidc_app, "s", "read,internal"))).get_json()
    assert (staff["owner"], staff["last_reviewed"], staff["review_interval_days"]) == ("team-drm", "2026-11-10", 90)
    articles = oidc_app.extensions["kb"].holder.searcher.build.articles
    monkeypatch.setitem(articles, "FAQ-DRM-001", dict(articles["FAQ-DRM-001"], audience="customer"))
    outside = client.get("/api/articles/FAQ-DRM-001", headers=_bearer(_token(oidc_app, "c", "read")))
    assert outside.status_code == 200 and outside.get_json()["title"] == staff["title"]
    assert not {"owner", "last_reviewed", "review_interval_days"} & set(outside.get_json())


@pytest.mark.parametrize("body, status, code", [
    ({**FLAG, "comment": "x" * 1001}, 400, "invalid_field"),
    ({**FLAG, "article_id": "FAQ-NOPE-404"}, 404, "unknown_article"),
    ({**FLAG, "anchor": "no-such-section"}, 400, "invalid_field"),
    ({**FLAG, "kind": "love"}, 400, "invalid_field"),
    ({**FLAG, "reason": None}, 400, "invalid_field"),
    ({**FLAG, "kind": "helpful"}, 400, "invalid_field"),
    ({**FLAG, "reason": "boring"}, 400, "invalid_field"),
    ({**FLAG, "ticket_id": "ZD-\u202e1"}, 400, "invalid_field"),
    ({**FLAG, "ticket_id": "Z" * 129}, 400, "invalid_field"),
    ({**FLAG, "comment": "bad\x00byte"}, 400, "invalid_field"),
    ({**FLAG, "comment": ["a list"]}, 400, "invalid_field"),
    ({**FLAG, "article_id": 7}, 400, "invalid_field"),
    ({**FLAG, "source": "email"}, 400, "invalid_field"),
    ({**FLAG, "anchor": "\x00"}, 400, "invalid_field"),
    ({"kind": "flag", "reason": "wrong"}, 400, "invalid_field"),
])
def test_hostile_feedback_is_a_clear_4xx(client, body, status, code):
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status and response.get_json()["error"]["code"] == code, response.get_json()


def test_hostile_requests(client):
    huge = client.post("/api/feedback", data=json.dumps({**FLAG, "comment": "x" * 70000}),
                       content_type="application/json")
    assert huge.status_code == 413
    assert client.post("/api/feedback", data="kind=flag", content_type="application/x-www-form-urlencoded").status_code == 415
    assert client.post("/api/feedback", data=json.dumps(FLAG), content_type="text/plain").status_code == 415
    assert client.post("/api/feedback", data="[1]", content_type="application/json").status_code == 400
    assert client.post("/api/feedback", data="{", content_type="application/json").status_code == 400
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        assert client.post("/api/feedback", json=FLAG, headers=headers).status_code == 403
        assert client.post("/api/feedback/1/resolve", json={}, headers=headers).status_code == 403
    assert client.post("/api/feedback/1/resolve", data="", content_type="text/plain").status_code == 415
    for path in ("/api/feedback/999/resolve", f"/api/feedback/{2 ** 64}/resolve", "/api/feedback/abc/resolve",
                 "/api/feedback/-1/resolve"):
        assert client.post(path, json={}).status_code == 404, path
    for query in ("status=bogus", "limit=0", "limit=501", "limit=x", "owner=%00", "article_id=%00", "owner=" + "t" * 129):
        assert client.get(f"/api/feedback?{query}").status_code == 400, query
    assert client.get("/api/feedback?article_id=" + "A" * 5000).get_json() == {"feedback": []}
    assert client.get("/api/feedback", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403   # auth none
    assert client.post("/api/feedback", json=FLAG, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403


def test_feedback_posts_are_rate_limited_per_user(real_settings, real_searcher, tmp_path):
    app = _make(real_settings, real_searcher, tmp_path, feedback_per_minute=2)
    client = app.test_client()
    assert [client.post("/api/feedback", json=FLAG).status_code for _ in range(3)] == [201, 201, 429]
    limited = client.post("/api/feedback", json=FLAG)
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_erasure_reaches_feedback(client, app):
    client.post("/api/feedback", json=FLAG)
    client.post("/api/feedback", json={**FLAG, "ticket_id": "ZD-32", "comment": "same as ZD-31, see there"})
    erased = client.delete("/api/tickets/ZD-31")
    assert erased.status_code == 200 and erased.get_json()["erased"]["feedback"] == 1
    rows = client.get("/api/feedback").get_json()["feedback"]
    assert [(r["ticket_id"], r["comment"]) for r in rows] == [("ZD-32", "same as [erased], see there")]
    engine = app.extensions["kb"].engine
    with engine.connect() as connection:
        text = json.dumps([list(r) for r in connection.execute(sa.select(feedback_table))])
    assert "ZD-31" not in text


def test_retention_purges_feedback(tmp_path):
    from search.service.links import open_store

    engine, links = _engine(tmp_path), open_store(f"sqlite:///{tmp_path / 'f.db'}")
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
    for days in (200, 10):
        with engine.begin() as connection:
            connection.execute(feedback_table.insert().values(
                article_id="A", anchor="", kind="flag", reason="wrong", comment="", ticket_id=f"T{days}",
                source="article", author="ana", status="open", created_at=(now - dt.timedelta(days=days)).isoformat()))
    assert links.purge_expired(180, now=now)["feedback"] == 1
    assert [r.ticket_id for r in store.rows(engine)] == ["T10"]
