"""The links store: idempotency, persistence across restarts, concurrent writers, a locked database."""
from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest

from search.service.links import StoreBusy, open_store


def test_idempotent_on_ticket_article_anchor(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    first, created = store.add_link("T1", "FAQ-A-001", "resolution", "manual", "ana")
    again, created_again = store.add_link("T1", "FAQ-A-001", "resolution", "searched", "bob")
    other, _ = store.add_link("T1", "FAQ-A-001", "", "manual", None)
    assert created and not created_again and first == again and other.id != first.id
    assert store.link_counts(["FAQ-A-001", "FAQ-B-001"]) == {"FAQ-A-001": 1, "FAQ-B-001": 0}


def test_links_survive_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    link, _ = open_store(url).add_link("T9", "RB-X-001", "mitigation", "suggested", None)
    reopened = open_store(url)
    assert reopened.links(ticket_id="T9") == [link]
    assert reopened.delete_link(link.id) and open_store(url).links(ticket_id="T9") == []


def _writer(url: str, worker: int, count: int) -> None:
    store = open_store(url)
    for i in range(count):
        store.add_link(f"T-{worker}-{i}", "FAQ-A-001", "", "manual", None)
        store.add_link("SHARED", "FAQ-A-001", "", "manual", None)   # every writer races on the same key


def test_concurrent_writers_in_processes_and_threads(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    open_store(url)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(url, w, 40)) for w in range(3)]
    threads = [threading.Thread(target=_writer, args=(url, 10 + t, 40)) for t in range(2)]
    for p in procs:
        p.start()
    for t in threads:
        t.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    for t in threads:
        t.join(timeout=120)
    store = open_store(url)
    assert len(store.links(article_id="FAQ-A-001", limit=10000)) == 5 * 40 + 1
    conn = sqlite3.connect(str(tmp_path / "l.db"))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_locked_database_is_store_busy_within_the_timeout(tmp_path):
    path = tmp_path / "l.db"
    store = open_store(f"sqlite:///{path}", busy_timeout=0.3)
    blocker = sqlite3.connect(str(path), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreBusy, match="busy"):
            store.add_link("T1", "FAQ-A-001", "", "manual", None)
    finally:
        blocker.execute("ROLLBACK")
    store.add_link("T1", "FAQ-A-001", "", "manual", None)   # works again once released


def _open_new(url: str, ready, errors) -> None:
    ready.wait(timeout=60)
    try:
        open_store(url)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path):
    """gunicorn's workers start together and each opens the links database. On a brand-new file
    their switches to WAL collide, and SQLite does not wait for that lock ("database is locked" at
    once); a worker that failed to boot took the whole server down. Every opener must succeed."""
    ctx = multiprocessing.get_context("forkserver")
    failures = []
    for trial in range(12):
        url = f"sqlite:///{tmp_path / f'new-{trial}.db'}"
        ready, errors = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_open_new, args=(url, ready, errors)) for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        while not errors.empty():
            failures.append(errors.get())
    assert not failures, failures
