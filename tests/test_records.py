"""What the links store records and how its aggregates stay right (issue 17 item 4, SQLite; the same
behaviours on PostgreSQL are in test_links_postgres.py): a suggest request records a bounded number of
rows, article counts and the report read aggregate tables kept in step by every write, an older
database is upgraded once, old records are purged after ``retention_days``, and the data files are
private (item 12)."""
from __future__ import annotations

import datetime as dt
import sqlite3
import stat

import pytest

from search.files import private_dir

from search.service import db
from search.service.links import StoreError, open_store
from search.service.schema import RECORDED_PER_REQUEST
from search.service.records import REPORT_DAYS


def _rows(path, table: str) -> int:
    with sqlite3.connect(str(path)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _suggestions(n: int) -> list[tuple[str, str, int, float]]:
    return [(f"FAQ-X-{i:03d}", "resolution", i + 1, 1.0 - i / 100) for i in range(n)]


def test_a_request_records_a_bounded_number_of_rows(tmp_path):
    """Before: every suggestion of every request was a row (k=50 → 43 rows, ~7 KB), anonymous ones too."""
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    for i in range(20):
        store.record_suggestions(f"anon-{i}", None, _suggestions(50), confident=i % 2 == 0)
    assert _rows(tmp_path / "l.db", "suggestions") == 0          # anonymous: counted, not stored
    store.record_suggestions("r1", "ZD-1", _suggestions(50), confident=True)
    assert _rows(tmp_path / "l.db", "suggestions") == RECORDED_PER_REQUEST
    report = store.report()
    assert report["suggestion_requests"] == 21 and report["no_confident_match_requests"] == 10
    assert report["tickets_with_suggestions"] == 1


def test_report_has_a_bounded_per_day_series_oldest_first(tmp_path):
    """The dashboard's chart: requests and no-confident-match requests per day, the last REPORT_DAYS days."""
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    assert store.report()["days"] == []
    for day in range(1, REPORT_DAYS + 6):
        for confident in (True, False, True):
            store.record_suggestions(f"r{day}-{confident}", None, [], confident, now=f"2026-01-{day:02d}T10:00:00+00:00"
                                     if day <= 31 else f"2026-02-{day - 31:02d}T10:00:00+00:00")
    days = store.report()["days"]
    assert len(days) == REPORT_DAYS and days[-1] == {"day": "2026-02-04", "requests": 3, "no_confident_match": 1}
    assert [d["day"] for d in days] == sorted(d["day"] for d in days) and days[0]["day"] == "2026-01-06"


def test_report_and_counts_follow_every_write(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    store.record_suggestions("r1", "T1", [("A", "", 1, 0.9), ("B", "x", 2, 0.5)], confident=True)
    store.record_suggestions("r2", "T2", [("C", "", 1, 0.2)], confident=False)
    store.record_suggestions("r3", "T3", [("A", "", 1, 0.3)], confident=False)
    first, _ = store.add_link("T1", "A", "", "suggested", None)
    store.add_link("T1", "A", "cause", "manual", None)          # same ticket, other section: still one ticket
    store.add_link("T3", "B", "", "searched", None)
    store.add_link("T5", "B", "", "manual", None)
    assert store.link_counts(["A", "B", "Z"]) == {"A": 1, "B": 2, "Z": 0}
    report = store.report()
    assert report["top_articles"] == [{"article_id": "B", "tickets": 2}, {"article_id": "A", "tickets": 1}]
    assert (report["tickets_linked_from_suggestion"], report["knowledge_gaps"]) == (1, ["T2"])
    assert store.delete_link(first.id)
    assert store.link_counts(["A"]) == {"A": 1}                 # T1 still linked through "cause"
    assert store.report()["tickets_linked_from_suggestion"] == 0
    other = store.links(ticket_id="T1")[0]
    assert store.delete_link(other.id) and not store.delete_link(other.id)
    assert store.link_counts(["A"]) == {"A": 0} and store.link_counts() == {"B": 2}
    gap_link, _ = store.add_link("T2", "C", "", "suggested", None)   # the gap is closed, and it was a suggestion
    report = store.report()
    assert report["knowledge_gaps"] == [] and report["tickets_linked_from_suggestion"] == 1
    store.delete_link(gap_link.id)                                     # and open again
    assert store.report()["knowledge_gaps"] == ["T2"] and store.report()["tickets_linked_from_suggestion"] == 0
    store.add_link("T2", "C", "", "suggested", None)
    store.record_suggestions("r4", "T5", [("B", "", 1, 0.9)], confident=True)   # suggested after the link
    assert store.report()["tickets_linked_from_suggestion"] == 1   # T5's link is 'manual': not from a suggestion


def test_an_older_database_is_upgraded_once_with_the_same_report(tmp_path):
    """A database written by the previous version (no aggregate tables) gets them filled by the migration
    (kb db upgrade, search/service/db); before it, opening the store refuses it naming the command."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(str(path))
    conn.executescript("""
        CREATE TABLE links (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL, article_id TEXT NOT NULL,
          anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT, created_at TEXT NOT NULL,
          UNIQUE (ticket_id, article_id, anchor));
        CREATE TABLE suggestions (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, ticket_id TEXT,
          article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL, score REAL NOT NULL,
          confident INTEGER NOT NULL, created_at TEXT NOT NULL);
        CREATE INDEX links_article ON links (article_id);
        INSERT INTO links (ticket_id, article_id, anchor, source, created_at) VALUES
          ('T1', 'A', '', 'suggested', '2026-11-01T00:00:00+00:00'), ('T1', 'A', 'x', 'manual', '2026-11-01T00:00:00+00:00'),
          ('T3', 'B', '', 'searched', '2026-11-01T00:00:00+00:00'), ('T5', 'B', '', 'manual', '2026-11-01T00:00:00+00:00');
        INSERT INTO suggestions (request_id, ticket_id, article_id, anchor, rank, score, confident, created_at) VALUES
          ('r1', 'T1', 'A', '', 1, 0.9, 1, '2026-11-01T10:00:00+00:00'), ('r1', 'T1', 'B', 'x', 2, 0.5, 1, '2026-11-01T10:00:00+00:00'),
          ('r2', 'T2', 'C', '', 1, 0.2, 0, '2026-11-02T10:00:00+00:00'), ('r3', NULL, 'A', '', 1, 0.1, 0, '2026-11-02T11:00:00+00:00');
    """)
    conn.close()
    expected = {"top_articles": [{"article_id": "B", "tickets": 2}, {"article_id": "A", "tickets": 1}],
                "suggestion_requests": 3, "no_confident_match_requests": 2, "tickets_with_suggestions": 2,
                "tickets_linked_from_suggestion": 1, "knowledge_gaps": ["T2"],
                "days": [{"day": "2026-11-01", "requests": 1, "no_confident_match": 0},
                         {"day": "2026-11-02", "requests": 2, "no_confident_match": 2}]}
    with pytest.raises(StoreError, match="kb db upgrade"):
        open_store(f"sqlite:///{path}")
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine, f"sqlite:///{path}")
    assert open_store(f"sqlite:///{path}").report() == expected
    db.upgrade(engine, f"sqlite:///{path}")                        # upgraded again: not counted twice
    engine.dispose()
    assert open_store(f"sqlite:///{path}").report() == expected
    with sqlite3.connect(str(path)) as conn:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "links_article" not in indexes and "links_article_id" in indexes


def test_records_older_than_the_retention_are_purged(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    now = dt.datetime(2026, 12, 6, 12, tzinfo=dt.timezone.utc)
    old, recent = (now - dt.timedelta(days=200)).isoformat(), (now - dt.timedelta(days=10)).isoformat()
    store.record_suggestions("r1", "OLD-1", _suggestions(3), confident=False, now=old)
    store.record_suggestions("r2", None, _suggestions(3), confident=False, now=old)
    store.record_suggestions("r3", "NEW-1", _suggestions(3), confident=False, now=recent)
    store.add_link("OLD-1", "FAQ-X-000", "", "manual", None)    # links are the agents' work: never purged
    assert store.purge_expired(0, now=now) == {}                # 0 keeps everything
    deleted = store.purge_expired(180, now=now)
    assert deleted == {"suggestions": 3, "suggested_tickets": 1, "suggestion_days": 1, "feedback": 0, "query_days": 0,
                       "query_day_totals": 0}
    report = store.report()
    assert report["suggestion_requests"] == 1 and report["tickets_with_suggestions"] == 1
    assert report["knowledge_gaps"] == ["NEW-1"] and len(store.links(ticket_id="OLD-1")) == 1
    assert store.purge_expired(180, now=now) == {"suggestions": 0, "suggested_tickets": 0, "suggestion_days": 0,
                                                 "feedback": 0, "query_days": 0, "query_day_totals": 0}


def test_purge_deletes_in_batches(tmp_path, monkeypatch):
    from search.service import records

    monkeypatch.setattr(records, "PURGE_BATCH", 7)
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)).isoformat()
    for i in range(5):
        store.record_suggestions(f"r{i}", f"T{i}", _suggestions(5), confident=True, now=old)
    assert store.purge_expired(180)["suggestions"] == 25 and _rows(tmp_path / "l.db", "suggestions") == 0


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_are_private_even_under_a_permissive_umask(tmp_path):
    """Before: links.db and links.db-wal were created 0644 (the umask's default)."""
    import os

    old_umask = os.umask(0o022)
    try:
        data = tmp_path / "data"
        store = open_store(f"sqlite:///{data / 'links.db'}")
        store.add_link("T1", "A", "", "manual", None)     # the WAL and shared-memory files now exist
        assert _mode(data) == 0o700
        for name in ("links.db", "links.db-wal", "links.db-shm"):
            assert _mode(data / name) == 0o600, name
        legacy = tmp_path / "legacy"
        legacy.mkdir(mode=0o755)
        (legacy / "links.db").touch(mode=0o644)
        open_store(f"sqlite:///{legacy / 'links.db'}")
        assert (_mode(legacy), _mode(legacy / "links.db")) == (0o700, 0o600)   # an existing one is tightened
    finally:
        os.umask(old_umask)



def test_a_shared_scratch_directory_is_never_tightened(tmp_path):
    """Before: a links database placed directly in /tmp (``sqlite:////tmp/links.db``) made the service,
    running as root, chmod /tmp itself to 0700, dropping its sticky bit and locking every other user
    (PostgreSQL's initdb among them) out of it. A world-writable or sticky directory is shared: left as is."""
    shared = tmp_path / "scratch"
    shared.mkdir()
    shared.chmod(0o1777)
    open_store(f"sqlite:///{shared / 'links.db'}")
    assert _mode(shared) == 0o1777
    assert _mode(shared / "links.db") == 0o600
    private_dir(shared)
    assert _mode(shared) == 0o1777
    world = tmp_path / "world"
    world.mkdir()
    world.chmod(0o777)
    private_dir(world / "data")
    assert (_mode(world), _mode(world / "data")) == (0o777, 0o700)
    loose = world / "data" / "links.db"
    loose.touch(mode=0o666)
    loose.chmod(0o666)
    open_store(f"sqlite:///{loose}")
    assert _mode(loose) == 0o600   # a world-writable data FILE is still tightened

def race_links(url: str) -> None:
    """Threads add and delete links of the same few (ticket, article) pairs with different anchors;
    afterwards each article's cached ticket count equals a recount of its links."""
    import threading

    store = open_store(url)
    for t in range(4):
        store.record_suggestions(f"r{t}", f"T{t}", [("A", "", 1, 0.9)], confident=False)
    errors = []

    def work(worker: int) -> None:
        try:
            for i in range(30):
                link, _ = store.add_link(f"T{i % 4}", "AB"[i % 2], f"w{worker}-{i}", "suggested", None)
                store.record_suggestions(f"w{worker}-{i}", f"N{i % 5}", [("B", "", 1, 0.5)], confident=True)
                if i % 3 == 0:
                    store.delete_link(link.id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    links = store.links(limit=10000, oldest_first=False)
    expected = {a: len({l.ticket_id for l in links if l.article_id == a}) for a in "AB"}
    assert store.link_counts(["A", "B"]) == expected
    report = store.report()
    assert report["tickets_with_suggestions"] == 4 + 5
    assert report["tickets_linked_from_suggestion"] == len({l.ticket_id for l in links if l.article_id == "A"})


def test_counts_stay_exact_under_concurrent_link_writes(tmp_path):
    race_links(f"sqlite:///{tmp_path / 'l.db'}")
