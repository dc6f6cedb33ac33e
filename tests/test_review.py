"""The owners' review queue (search/service/review): the pure ordering function, GET /api/review and
``kb review`` over the same data."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from kb_cli.main import cli
from search.service.auth import audit
from search.service.review.queue import build_queue, review_due
from tests.test_feedback import FLAG

TODAY = dt.date(2026, 12, 6)
ARTICLES = {
    "A": {"title": "Fresh", "owner": "team-x", "last_reviewed": "2026-11-01", "review_interval_days": 90},
    "B": {"title": "Overdue long", "owner": "team-x", "last_reviewed": "2025-01-01", "review_interval_days": 90},
    "C": {"title": "Overdue a little", "owner": "team-x", "last_reviewed": "2026-09-01", "review_interval_days": 90},
    "D": {"title": "Other team", "owner": "team-y", "last_reviewed": "2026-11-01", "review_interval_days": 90},
    "E": {"title": "Old build", "owner": "team-x"},
}


def _item(article_id: str, kind: str = "flag", reason: str | None = "wrong", n: int = 1) -> dict:
    return {"id": n, "article_id": article_id, "kind": kind, "reason": reason}


def test_review_due():
    assert review_due(ARTICLES["B"]) == dt.date(2025, 4, 1)
    assert review_due(ARTICLES["E"]) is None
    assert review_due({"last_reviewed": "not a date", "review_interval_days": 9}) is None


def test_queue_orders_by_urgency_and_keeps_only_the_owner():
    items = [_item("A", reason="wrong"), _item("C", "not_helpful", None, 2), _item("D", reason="wrong", n=3),
             _item("GONE", reason="unclear", n=4)]
    queue = build_queue(ARTICLES, items, {"A": {"helpful": 4, "not_helpful": 0}}, TODAY, "team-x")
    # B: 2 + 614 days // 30 = 22; A: a wrong flag = 5; C: overdue 6 days = 2, one not-helpful = 1
    assert [(e["article_id"], e["urgency"]) for e in queue] == [("B", 22), ("A", 5), ("C", 3)]
    assert queue[1]["votes"] == {"helpful": 4, "not_helpful": 0} and queue[1]["flags"] == [items[0]]
    assert queue[2]["not_helpful"] == [items[1]] and queue[2]["overdue_days"] == 6
    everyone = build_queue(ARTICLES, items, {}, TODAY)
    assert [e["article_id"] for e in everyone] == ["B", "A", "D", "C", "GONE"]   # GONE: an article no longer built
    assert everyone[-1]["owner"] == "" and everyone[-1]["urgency"] == 2
    assert build_queue(ARTICLES, [], {}, TODAY, "team-nobody") == []


def test_review_api(client, app):
    for body in (FLAG, {**FLAG, "reason": "wrong", "ticket_id": None},
                 {"article_id": "FAQ-PLAYER-001", "kind": "not_helpful"}, {"article_id": "FAQ-DRM-001", "kind": "helpful"}):
        assert client.post("/api/feedback", json=body).status_code == 201
    drm = client.get("/api/review?owner=team-drm")
    assert drm.status_code == 200 and drm.headers["Cache-Control"] == "no-store"
    body = drm.get_json()
    assert body["owner"] == "team-drm" and [e["article_id"] for e in body["articles"]] == ["FAQ-DRM-001"]
    entry = body["articles"][0]
    assert {f["reason"] for f in entry["flags"]} == {"outdated", "wrong"} and entry["urgency"] == 8
    assert entry["votes"] == {"helpful": 1, "not_helpful": 0} and entry["url"]
    ingest = client.get("/api/review?owner=team-media-ingest").get_json()["articles"]
    assert [(e["article_id"], e["flags"], e["overdue_days"] > 500) for e in ingest] == [("FAQ-UPLOAD-001", [], True)]
    every = [e["article_id"] for e in client.get("/api/review").get_json()["articles"]]
    assert set(every) == {"FAQ-DRM-001", "FAQ-UPLOAD-001", "FAQ-PLAYER-001"} and every[-1] == "FAQ-PLAYER-001"
    assert client.get("/api/review?owner=team-nobody").get_json()["articles"] == []
    assert client.get("/api/review?owner=%1b").status_code == 400
    exports = audit.rows(app.extensions["kb"].engine, action="export.review")
    assert [(r.actor, r.outcome) for r in exports] == [("local", "ok")] * 4   # the answered reads, not the 400


def test_kb_review_cli(app, client, real_settings):
    client.post("/api/feedback", json=FLAG)
    settings = app.extensions["kb"].settings
    env = {"KB_DATABASE_URL": settings.database, "KB_INDEX_ROOT": str(real_settings.index_path),
           "KB_DATA_DIR": str(real_settings.data_dir)}
    text = CliRunner().invoke(cli, ["review", "--owner", "team-drm"], obj={}, env=env)
    assert text.exit_code == 0, text.output
    assert "FAQ-DRM-001" in text.output and "1 open flag(s): outdated" in text.output
    as_json = CliRunner().invoke(cli, ["review", "--json"], obj={}, env=env)
    assert as_json.exit_code == 0, as_json.output
    ids = [e["article_id"] for e in json.loads(as_json.output)["articles"]]
    assert ids[0] == "FAQ-UPLOAD-001" and "FAQ-DRM-001" in ids
    none = CliRunner().invoke(cli, ["review", "--owner", "team-nobody"], obj={}, env=env)
    assert none.exit_code == 0 and "Nothing to review for team-nobody" in none.output
    missing = CliRunner().invoke(cli, ["review"], obj={}, env=dict(env, KB_INDEX_ROOT=str(real_settings.index_path) + "-x"))
    assert missing.exit_code == 1 and "kb index" in missing.output and "Traceback" not in missing.output


def test_usage_figures_for_editors_without_ticket_ids(real_settings, real_searcher, tmp_path):
    """The dashboard's figures (GET /api/review/usage) are the report without its knowledge-gap ticket ids,
    for the review scope: before, the /review/ page's editors met a 403 (the report needs 'reports')."""
    from tests.test_access import _bearer, _make, _token

    app = _make(real_settings, real_searcher, tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9/never-fetched",
                oidc_client_id="kb")
    client = app.test_client()
    suggester = _bearer(_token(app, "assistant", "read,internal,suggest"))
    assert client.post("/api/suggest", json={"body": "zqxv wobbleflange", "ticket_id": "ZD-GAP-1"},
                       headers=suggester).status_code == 200
    full = client.get("/api/reports", headers=_bearer(_token(app, "admin-bot", "admin"))).get_json()
    assert full["knowledge_gaps"] == ["ZD-GAP-1"]
    editor = _bearer(_token(app, "editor-bot", "read,internal,review"))
    usage = client.get("/api/review/usage", headers=editor)
    assert usage.status_code == 200 and usage.headers["Cache-Control"] == "no-store"
    body = usage.get_json()
    assert "knowledge_gaps" not in body and "ZD-GAP-1" not in usage.get_data(as_text=True)
    assert body == {k: v for k, v in full.items() if k != "knowledge_gaps"}
    assert client.get("/api/reports", headers=editor).status_code == 403
    for scopes in ("read,internal,suggest", "read,review"):   # an agent; a reviewer without 'internal'
        assert client.get("/api/review/usage", headers=_bearer(_token(app, scopes.replace(",", "-"), scopes))).status_code == 403
