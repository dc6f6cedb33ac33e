"""The links store on a real PostgreSQL server: the SQLite store's behaviours (tests/test_links_store.py),
PostgreSQL's own failure modes (lock waits, lost connections, concurrent schema creation) and the API.

The session fixture ``postgres_server`` (tests/pg_server.py) runs the server binaries of Debian's
``postgresql`` package in a temporary directory on a free 127.0.0.1 port; a server that cannot be
started fails these tests, it never skips them.
"""
from __future__ import annotations

import datetime as dt
import dataclasses
import multiprocessing
import threading
import time

import psycopg
import pytest

from search.service.links import StoreBusy, StoreError, open_store
from tests.conftest import AUTH, free_port
from tests.pg_server import USER, create_database
from tests.test_links_store import _writer  # the same racing writer as the SQLite test
from tests.test_records import race_links

@pytest.fixture
def pg_url(postgres_server) -> str:
    """A fresh, empty database per test."""
    return create_database(postgres_server)


def _disconnect_everyone(url: str) -> int:
    """Terminate every other session on the database of `url` (a server restart, as the clients see it)."""
    with psycopg.connect(url, autocommit=True) as admin:
        return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]


def test_idempotent_on_ticket_article_anchor(pg_url):
    store = open_store(pg_url)
    first, created = store.add_link("T1", "FAQ-A-001", "resolution", "manual", "ana")
    again, created_again = store.add_link("T1", "FAQ-A-001", "resolution", "searched", "bob")
    other, _ = store.add_link("T1", "FAQ-A-001", "", "manual", None)
    assert created and not created_again and first == again and other.id != first.id
    assert again.source == "manual" and again.agent == "ana"   # the first write wins
    assert store.link_counts(["FAQ-A-001", "FAQ-B-001"]) == {"FAQ-A-001": 1, "FAQ-B-001": 0}


def test_links_survive_reopening_and_delete(pg_url):
    link, _ = open_store(pg_url).add_link("T9", "RB-X-001", "mitigation", "suggested", None)
    reopened = open_store(pg_url)
    assert reopened.links(ticket_id="T9") == [link]
    assert reopened.delete_link(link.id) and not reopened.delete_link(link.id)
    assert not reopened.delete_link(2 ** 63 - 1)
    assert open_store(pg_url).links(ticket_id="T9") == []


def test_listing_and_link_counts(pg_url):
    store = open_store(pg_url)
    for ticket, article in (("T1", "A"), ("T2", "A"), ("T1", "B"), ("T3", "A")):
        store.add_link(ticket, article, "", "manual", None)
    store.add_link("T1", "A", "cause", "manual", None)   # same ticket, other section: still one ticket for A
    assert store.link_counts() == {"A": 3, "B": 1}
    assert store.link_counts(["A", "C"]) == {"A": 3, "C": 0}
    assert [(l.ticket_id, l.anchor) for l in store.links(article_id="A")] == \
        [("T1", ""), ("T2", ""), ("T3", ""), ("T1", "cause")]
    assert [l.article_id for l in store.links(ticket_id="T1", article_id="B")] == ["B"]
    assert [l.ticket_id for l in store.links(limit=2, oldest_first=False)] == ["T1", "T3"]


def test_record_suggestions_and_report_match_sqlite(pg_url, tmp_path):
    reports = []
    for url in (pg_url, f"sqlite:///{tmp_path / 'l.db'}"):
        store = open_store(url)
        store.record_suggestions("r1", "T1", [("A", "", 1, 0.9), ("B", "x", 2, 0.5)], confident=True)
        store.record_suggestions("r2", "T2", [("C", "", 1, 0.2)], confident=False)
        store.record_suggestions("r3", "T3", [("A", "", 1, 0.3)], confident=False)
        store.record_suggestions("r4", None, [("A", "", 1, 0.1)], confident=False)
        store.record_suggestions("r5", "T4", [], confident=True)
        store.add_link("T1", "A", "", "suggested", None)
        store.add_link("T3", "B", "", "searched", None)
        store.add_link("T5", "B", "", "manual", None)
        reports.append(store.report())
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert [r.pop("days") for r in reports] == [[{"day": today, "requests": 5, "no_confident_match": 3}]] * 2
    assert reports[0] == reports[1] == {
        "top_articles": [{"article_id": "B", "tickets": 2}, {"article_id": "A", "tickets": 1}],
        "suggestion_requests": 5, "no_confident_match_requests": 3, "tickets_with_suggestions": 4,
        "tickets_linked_from_suggestion": 1, "knowledge_gaps": ["T2"]}


def test_counts_stay_exact_under_concurrent_link_writes(pg_url):
    """The per-article ticket counts are kept in step by each write: concurrent transactions on
    PostgreSQL (READ COMMITTED) must neither double-count nor miss a ticket."""
    race_links(pg_url)


def test_purge_and_bounded_records(pg_url):
    import datetime as dt

    from search.service.schema import RECORDED_PER_REQUEST

    store = open_store(pg_url)
    now = dt.datetime.now(dt.timezone.utc)
    rows = [(f"A{i}", "", i + 1, 0.5) for i in range(50)]
    store.record_suggestions("r1", "OLD", rows, confident=False, now=(now - dt.timedelta(days=300)).isoformat())
    store.record_suggestions("r2", "NEW", rows, confident=True, now=now.isoformat())
    store.record_suggestions("r3", None, rows, confident=True, now=now.isoformat())
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM suggestions").fetchone()[0] == 2 * RECORDED_PER_REQUEST
    assert store.purge_expired(180) == {"suggestions": RECORDED_PER_REQUEST, "suggested_tickets": 1, "suggestion_days": 1,
                                         "feedback": 0, "query_days": 0, "query_day_totals": 0}
    report = store.report()
    assert (report["suggestion_requests"], report["tickets_with_suggestions"], report["knowledge_gaps"]) == (2, 1, [])


def test_concurrent_writers_in_processes_and_threads(pg_url):
    shared = open_store(pg_url)   # threads sharing one store (one connection each), as in a gunicorn worker
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(pg_url, w, 40)) for w in range(3)]
    threads = [threading.Thread(target=_writer, args=(pg_url, 10 + t, 40)) for t in range(2)]
    threads += [threading.Thread(target=lambda t=t: [shared.add_link(f"S-{t}-{i}", "FAQ-A-001", "", "manual", None)
                                                     for i in range(40)]) for t in range(2)]
    for worker in procs + threads:
        worker.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive()
    links = open_store(pg_url).links(article_id="FAQ-A-001", limit=10000)
    keys = [(l.ticket_id, l.article_id, l.anchor) for l in links]
    assert len(links) == 7 * 40 + 1 and len(set(keys)) == len(keys) and len({l.id for l in links}) == len(links)


def test_first_opens_racing_on_an_empty_database_all_succeed(pg_url):
    """Several gunicorn workers start at once on a new database: the schema is created once, no error."""
    barrier, errors = threading.Barrier(6), []

    def first_open():
        barrier.wait(timeout=30)
        try:
            open_store(pg_url).ping()
        except Exception as exc:   # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=first_open) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def test_lock_wait_is_store_busy_within_the_timeout(pg_url):
    store = open_store(pg_url, busy_timeout=0.3)
    outcome: list = []

    def write():
        started = time.monotonic()
        try:
            store.add_link("T1", "FAQ-A-001", "", "manual", None)
        except Exception as exc:
            outcome.append(exc)
        outcome.append(time.monotonic() - started)

    with psycopg.connect(pg_url) as blocker:
        blocker.execute("LOCK TABLE links IN ACCESS EXCLUSIVE MODE")
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=10)
        blocker.rollback()   # releases the lock (and a writer that would otherwise wait forever)
        writer.join(timeout=10)
    assert isinstance(outcome[0], StoreBusy) and "busy" in str(outcome[0]), outcome
    assert outcome[1] < 3
    assert store.add_link("T1", "FAQ-A-001", "", "manual", None)[1]   # works again once released


def test_lost_connection_is_store_error_then_reconnects(pg_url):
    store = open_store(pg_url)
    link, _ = store.add_link("T1", "FAQ-A-001", "", "manual", None)
    assert _disconnect_everyone(pg_url) >= 1
    with pytest.raises(StoreError):
        store.links(ticket_id="T1")
    assert store.links(ticket_id="T1") == [link]   # a new connection, not the dead one


def test_unreachable_server_is_store_error():
    started = time.monotonic()
    with pytest.raises(StoreError, match="database_url"):
        open_store(f"postgresql://{USER}@127.0.0.1:{free_port()}/nowhere")
    assert time.monotonic() - started < 10


@pytest.fixture
def pg_app(real_settings, real_searcher, pg_url):
    """conftest's `app`, with its links in PostgreSQL."""
    from search.service import create_app

    settings = dataclasses.replace(real_settings, api_token="test-token", rate_limit_per_minute=0, database_url=pg_url)
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


def test_api_links_on_postgres(pg_app, pg_url):
    client = pg_app.test_client()
    assert client.get("/readyz").status_code == 200
    link = {"ticket_id": "ZD-7", "article_id": "FAQ-DRM-001", "anchor": "resolution", "source": "suggested",
            "agent": "ana"}
    first, again = (client.post("/api/links", json=link, headers=AUTH) for _ in range(2))
    assert (first.status_code, again.status_code) == (201, 200) and first.get_json() == again.get_json()
    client.post("/api/links", json={"ticket_id": "ZD-8", "article_id": "FAQ-DRM-001"}, headers=AUTH)
    assert [l["id"] for l in client.get("/api/links?ticket_id=ZD-7").get_json()["links"]] == [first.get_json()["id"]]
    listed = client.get("/api/links?article_id=FAQ-DRM-001").get_json()["links"]
    assert [l["ticket_id"] for l in listed] == ["ZD-7", "ZD-8"]
    assert [l["ticket_id"] for l in client.get("/api/links?limit=1").get_json()["links"]] == ["ZD-8"]
    assert client.get("/api/articles/FAQ-DRM-001").get_json()["linked_tickets"] == 2
    assert client.post("/api/suggest", json={"ticket_id": "ZD-9", "body": "Shaka error 6007"}).status_code == 200
    report = client.get("/api/reports").get_json()
    assert report["suggestion_requests"] == 1 and report["tickets_with_suggestions"] == 1
    assert report["top_articles"] == [{"article_id": "FAQ-DRM-001", "tickets": 2}]
    assert client.delete(f"/api/links/{first.get_json()['id']}", headers=AUTH).status_code == 204
    assert client.delete(f"/api/links/{first.get_json()['id']}", headers=AUTH).status_code == 404
    # PostgreSQL text cannot hold NUL: a 400 naming the field, not a 500 from the driver
    for bad in ({"ticket_id": "ZD\x00", "article_id": "FAQ-DRM-001"},
                {"ticket_id": "Z", "article_id": "FAQ-DRM-001", "agent": "a\x00"}):
        assert client.post("/api/links", json=bad, headers=AUTH).status_code == 400
    assert client.post("/api/suggest", json={"ticket_id": "ZD\x00", "body": "Shaka error 6007"}).status_code == 400
    assert client.get("/api/links?ticket_id=ZD%00").status_code == 400
    _disconnect_everyone(pg_url)   # the database restarts under the app: 503 with Retry-After, then it recovers
    lost = client.get("/api/links?ticket_id=ZD-8")
    assert lost.status_code == 503 and lost.headers["Retry-After"]
    assert lost.get_json()["error"]["code"] == "database_unavailable"
    assert [l["ticket_id"] for l in client.get("/api/links?ticket_id=ZD-8").get_json()["links"]] == ["ZD-8"]
