"""Search analytics and knowledge gaps (search/service/gaps): normalisation and redaction of recorded
queries, the store's caps and caller counting, the k-anonymity rule, retention, GET /api/gaps with its
policy and hostile input, ``kb gaps``, and that erasure has nothing to find (no ticket ids stored)."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest
from click.testing import CliRunner

from kb_cli.main import cli
from search.service.auth import audit
from search.service.gaps import records
from search.service.gaps.normalise import MAX_RECORDED, caller_hash, normalise_query, ticket_query
from search.service.gaps.records import QueryEvent
from search.service.gaps.report import gaps_body
from search.service.links import StoreBusy, open_store
from tests.test_access import _bearer, _make, _sign_in, _token
from tests.test_links_postgres import pg_url  # noqa: F401 - the fixture: a fresh PostgreSQL database per test

GIBBERISH = "zqxv wobbleflange frumious"


# --- normalisation (pure) -------------------------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [
    ("  Shaka   ERROR\t6007 \n", "shaka error 6007"),
    ("mail jane.doe@example.com about it", "mail [email] about it"),
    ("password=Hunter2 fails", "password=[redacted] fails"),
    ("from 203.0.113.9 card 4111 1111 1111 1111", "from [ip] card [number]"),
    ("nul\x00 and\x1b[31m esc \u202e bidi \ud800 lone", "nul and [31m esc bidi lone"),
    ("ÜBER straße 東京", "über straße 東京"),
])
def test_normalise_query(raw, expected):
    assert normalise_query(raw) == expected


def test_normalise_cuts_after_redacting():
    secret = "token=" + "a1" * 150   # cut first, the tail of a secret would survive as a plain word
    assert normalise_query(secret) == "token=[redacted]"
    assert len(normalise_query("word " * 500)) <= MAX_RECORDED


def test_ticket_query_keeps_only_identifiers_sorted_and_redacted():
    assert ticket_query(["ERR_DRM_1", "err_drm_1", "10.1.2.3", " ", "E42"]) == "[ip] e42 err_drm_1"
    assert ticket_query([]) == ""


def test_caller_hash_depends_on_the_day_salt():
    a, b = "00" * 16, "11" * 16
    assert caller_hash("ana", a) == caller_hash("ana", a) != caller_hash("ana", b)
    assert "ana" not in caller_hash("ana", a)


def test_gaps_body_groups_by_area_and_names_undeclared_identifiers():
    rows = [("search", "q1", "drm", 9, 9, 2, 3, ""), ("suggest", "e42 err_x", "", 5, 4, 1, 3, "A"),
            ("search", "q2", "drm", 3, 3, 1, 4, "")]
    body = gaps_body(rows, [], {"e42"}, 30, None, 3, "2026-11-07", 0, True)
    assert [(g["area"], [q["query"] for q in g["queries"]]) for g in body["gaps"]] == [("drm", ["q1", "q2"]),
                                                                                        ("", ["e42 err_x"])]
    assert body["gaps"][1]["queries"][0]["undeclared_identifiers"] == ["err_x"]


# --- the store ---------------------------------------------------------------------------------------

def _event(query="q", caller="ana", confident=False, area="", kind="search", top=""):
    return QueryEvent(kind, query, area, "hybrid", confident, top, caller)


def _summary(store, k=3, unconfident=True, since="2000-01-01"):
    return store.query_summary(since, None, k, 50, unconfident)


def test_store_counts_requests_callers_and_applies_k(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    for caller in ("ana", "bob", "ana", "cy"):
        assert store.record_query(_event("missing thing", caller), 100)
    for caller in ("ana", "bob"):
        store.record_query(_event("rare thing", caller), 100)
    store.record_query(_event("found thing", "ana", confident=True, top="FAQ-1"), 100)
    assert _summary(store) == [("search", "missing thing", "", 4, 4, 1, 3, "")]
    assert [r[1] for r in _summary(store, k=2)] == ["missing thing", "rare thing"]
    assert _summary(store, k=1, unconfident=False) == [("search", "found thing", "", 1, 0, 1, 1, "FAQ-1")]
    with sqlite3.connect(tmp_path / "l.db") as conn:   # callers only as salted hashes
        hashes = [r[0] for r in conn.execute("SELECT caller FROM query_callers")]
    assert len(hashes) == 6 and not {"ana", "bob", "cy"} & set(hashes)


def test_distinct_queries_per_day_are_capped(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    assert all(store.record_query(_event(f"q{i}"), 3) for i in range(3))
    assert not store.record_query(_event("q-past-the-cap"), 3)
    assert store.record_query(_event("q0"), 3)                    # a known query is still counted
    assert store.record_query(_event("q-new", ), 3, day="2099-01-01")   # the next day starts afresh
    with sqlite3.connect(tmp_path / "l.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM query_days").fetchone()[0] == 4
    assert store.dropped_queries("2000-01-01") == 1


def test_callers_counted_up_to_a_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "CALLERS_COUNTED", 2)
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    for caller in ("a", "b", "c", "d"):
        store.record_query(_event("q", caller), 10)
    with sqlite3.connect(tmp_path / "l.db") as conn:
        assert conn.execute("SELECT requests, callers FROM query_days").fetchone() == (4, 2)
        assert conn.execute("SELECT COUNT(*) FROM query_callers").fetchone()[0] == 2


def test_retention_purges_query_days_and_caller_sets_expire(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
    store.record_query(_event("old"), 10, day="2026-01-01")
    store.record_query(_event("recent"), 10, day="2026-12-05")
    store.record_query(_event("today"), 10, day="2026-12-06")
    deleted = store.purge_expired(180, now=now)
    assert deleted["query_days"] == 1 and deleted["query_day_totals"] == 1
    assert store.purge_caller_sets(now=now) == 1                   # yesterday's hashes stay one more day
    with sqlite3.connect(tmp_path / "l.db") as conn:
        assert sorted(r[0] for r in conn.execute("SELECT query FROM query_days")) == ["recent", "today"]
        assert {r[0] for r in conn.execute("SELECT day FROM query_salts")} == {"2026-12-05", "2026-12-06"}
    assert store.purge_expired(0, now=now) == {}


def test_the_write_is_relaxed_but_link_writes_keep_full_durability(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    store.record_query(_event("q"), 10)
    store.add_link("T1", "FAQ-A-001", "", "manual", None)
    assert store._conn().execute("PRAGMA synchronous").fetchone()[0] == 2   # FULL again after the query write


def test_store_on_postgresql(pg_url):  # noqa: F811
    store = open_store(pg_url)
    for caller in ("ana", "bob", "cy", "ana"):
        assert store.record_query(_event("missing", caller), 2)
    assert store.record_query(_event("found", "ana", confident=True, top="FAQ-1"), 2)
    assert not store.record_query(_event("past the cap"), 2)
    assert _summary(store) == [("search", "missing", "", 4, 4, 1, 3, "")]
    assert _summary(store, k=1, unconfident=False) == [("search", "found", "", 1, 0, 1, 1, "FAQ-1")]
    assert store.dropped_queries("2000-01-01") == 1
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    assert store.purge_caller_sets(now=now) == 4
    deleted = store.purge_expired(180, now=now)
    assert deleted["query_days"] == 2 and deleted["query_day_totals"] == 1


# --- the API -------------------------------------------------------------------------------------------

def _app(real_settings, real_searcher, tmp_path, **changes):
    return _make(real_settings, real_searcher, tmp_path, **changes)


def test_search_and_suggest_are_recorded_and_reported(real_settings, real_searcher, tmp_path):
    app = _app(real_settings, real_searcher, tmp_path, gaps_min_callers=1)
    client = app.test_client()
    assert client.get(f"/api/search?q={GIBBERISH.upper()}&area=drm").get_json()["confident"] is False
    client.get(f"/api/search?q={GIBBERISH}&area=drm")
    client.get("/api/search?q=Shaka+6007")
    ticket = {"ticket_id": "ZD-4711", "body": "Customer ZD-4711 says: player shows ERR_WOBBLE_9 and 6007, "
              "mail jane@example.com"}
    assert client.post("/api/suggest", json=ticket).status_code == 200
    body = client.get("/api/gaps?days=7").get_json()
    gap = [q for g in body["gaps"] for q in g["queries"] if q["kind"] == "search"]
    assert gap[0]["query"] == GIBBERISH and gap[0]["area"] == "drm" and gap[0]["no_confident_match"] == 2
    assert body["gaps"][0]["area"] == "drm" and body["recording"] is True
    dump = "\n".join(" ".join(map(str, r)) for r in sqlite3.connect(tmp_path / "links.db").execute(
        "SELECT * FROM query_days"))
    assert "zd-4711" not in dump.lower() and "jane" not in dump and "customer" not in dump
    assert "err_wobble_9" in dump                                   # the identifier, not the text
    top = [q for q in body["top_queries"] if q["query"] == "shaka 6007"]
    assert not top or top[0]["top_article"]
    erased = client.delete("/api/tickets/ZD-4711")                  # nothing of the ticket lives in query_days
    assert erased.status_code == 200
    assert "err_wobble_9" in "\n".join(r[0] for r in sqlite3.connect(tmp_path / "links.db").execute(
        "SELECT query FROM query_days"))


def test_recording_can_be_switched_off(real_settings, real_searcher, tmp_path):
    app = _app(real_settings, real_searcher, tmp_path, record_queries=False, gaps_min_callers=1)
    client = app.test_client()
    client.get(f"/api/search?q={GIBBERISH}")
    client.post("/api/suggest", json={"body": "ERR_WOBBLE_9 again"})
    body = client.get("/api/gaps").get_json()
    assert body["gaps"] == [] and body["top_queries"] == [] and body["recording"] is False
    assert sqlite3.connect(tmp_path / "links.db").execute("SELECT COUNT(*) FROM query_days").fetchone()[0] == 0


def test_k_anonymity_across_token_callers(real_settings, real_searcher, tmp_path):
    app = _app(real_settings, real_searcher, tmp_path)     # gaps_min_callers 3 (the default)
    client = app.test_client()
    bots = [_bearer(_token(app, f"bot{i}", "read,internal")) for i in range(3)]
    for headers in bots:
        client.get(f"/api/search?q={GIBBERISH}", headers=headers)
    for headers in bots[:2]:
        client.get("/api/search?q=another+unknown+blorptastic+thing", headers=headers)
    client.get("/api/search?q=another+unknown+blorptastic+thing", headers=bots[0])   # same caller again
    queries = [q["query"] for g in client.get("/api/gaps").get_json()["gaps"] for q in g["queries"]]
    assert queries == [GIBBERISH]


def test_who_may_read_gaps(real_settings, real_searcher, tmp_path):
    app = _make(real_settings, real_searcher, tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9/never-fetched",
                oidc_client_id="kb", oidc_role_groups="reader=*,agent=support,editor=owners,admin=kb-admins")
    client = app.test_client()
    assert client.get("/api/gaps").status_code == 401
    _sign_in(client, "ana", ("agent",))
    denied = client.get("/api/gaps")
    assert denied.status_code == 403 and "'review'" in denied.get_json()["error"]["message"]
    outside = _bearer(_token(app, "outside-review", "read,review"))        # no 'internal': a customer integration
    assert client.get("/api/gaps", headers=outside).status_code == 403
    _sign_in(client, "eve", ("editor",))
    answer = client.get("/api/gaps?days=30&area=drm")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    exports = audit.rows(app.extensions["kb"].engine, action="export.gaps")
    assert [(r.actor, r.outcome) for r in exports] == [("eve", "ok")]


@pytest.mark.parametrize("query", ["days=0", "days=366", "days=x", "days=99999999999999999999", "area=%00",
                                   "area=" + "a" * 101, "area=%1b[31m", "area=%7f"])
def test_hostile_gaps_parameters_are_400(client, query):
    response = client.get("/api/gaps?" + query)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_parameter"


@pytest.mark.parametrize("q", ["x" * 512, "\u202e\u0000\u0007 sneaky", "東京 " * 100, "%ED%A0%80", "a\r\nb"])
def test_hostile_queries_are_recorded_safely(client, app, q):
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code in (200, 400)
    rows = app.extensions["kb"].store.query_summary("2000-01-01", None, 1, 50, True) + \
        app.extensions["kb"].store.query_summary("2000-01-01", None, 1, 50, False)
    for row in rows:
        assert len(row[1]) <= MAX_RECORDED and "\x00" not in row[1] and "\u202e" not in row[1]


def test_kb_gaps_cli(real_settings, real_searcher, tmp_path):
    app = _app(real_settings, real_searcher, tmp_path, gaps_min_callers=1)
    app.test_client().get(f"/api/search?q={GIBBERISH}&area=drm")
    env = {"KB_DATABASE_URL": app.extensions["kb"].settings.database, "KB_INDEX_ROOT": str(real_settings.index_path),
           "KB_DATA_DIR": str(tmp_path), "KB_GAPS_MIN_CALLERS": "1"}
    text = CliRunner().invoke(cli, ["gaps", "--days", "7"], obj={}, env=env)
    assert text.exit_code == 0, text.output
    assert "area drm:" in text.output and GIBBERISH in text.output
    as_json = CliRunner().invoke(cli, ["gaps", "--json"], obj={}, env=env)
    assert json.loads(as_json.output)["gaps"][0]["queries"][0]["query"] == GIBBERISH
    hidden = CliRunner().invoke(cli, ["gaps"], obj={}, env=dict(env, KB_GAPS_MIN_CALLERS="3"))
    assert GIBBERISH not in hidden.output
    bad = CliRunner().invoke(cli, ["gaps", "--days", "0"], obj={}, env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_cap_reached_through_the_api(real_settings, real_searcher, tmp_path):
    app = _app(real_settings, real_searcher, tmp_path, max_queries_per_day=2, gaps_min_callers=1)
    client = app.test_client()
    for i in range(5):   # five distinct queries: two recorded, three only counted; every search answered
        assert client.get(f"/api/search?q=blorptastic+{i}+wobble").status_code == 200
    body = client.get("/api/gaps").get_json()
    assert body["dropped_requests"] == 3
    assert sum(len(g["queries"]) for g in body["gaps"]) + len(body["top_queries"]) == 2


def test_a_busy_database_costs_the_search_nothing(client, app, monkeypatch):
    from search.service.links import StoreBusy

    def busy(*_args, **_kwargs):
        raise StoreBusy("the links database is busy")

    monkeypatch.setattr(app.extensions["kb"].store, "record_query", busy)
    assert client.get(f"/api/search?q={GIBBERISH}").status_code == 200


def test_a_locked_database_does_not_hold_up_searches(client, app, tmp_path):
    """Another writer holding SQLite's write lock: the search is answered after at most the query write's
    short wait (records.WAIT_MS), not the store's busy timeout of 5 s, and simply goes uncounted."""
    import time

    holder = sqlite3.connect(tmp_path / "links.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        assert client.get(f"/api/search?q={GIBBERISH}").status_code == 200
        waited = time.monotonic() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert waited < 3.0                   # far below the 5 s busy timeout the store uses for links
    store = app.extensions["kb"].store
    assert store.query_summary("2000-01-01", None, 1, 50, True) == []
    assert store._conn().execute("PRAGMA busy_timeout").fetchone()[0] == 5000   # restored for the next link write


def test_lock_wait_on_postgresql_is_short(pg_url):  # noqa: F811
    import psycopg

    store = open_store(pg_url)
    store.record_query(_event("q"), 10)
    with psycopg.connect(pg_url) as other:    # holds the row's lock until the block ends
        other.execute("UPDATE query_days SET requests = requests WHERE query = 'q'")
        with pytest.raises(StoreBusy):
            store.record_query(_event("q"), 10)
    assert store.record_query(_event("q"), 10)
