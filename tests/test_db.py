"""The service database's migrations (search/service/db): on SQLite and on a real PostgreSQL server.

The central test makes a database with the schema and data of the version before migrations (the
hand-written DDL of search/service/links.py, frozen below), upgrades it with ``kb db upgrade`` and
finds every link and suggestion intact; ``kb serve`` refuses that database until it is upgraded.
"""
from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from kb_cli.main import cli
from search.service import db
from search.service.db.tables import metadata
from search.service.links import open_store
from tests.conftest import free_port
from tests.test_links_postgres import pg_url  # noqa: F401 - fixture (postgres_server comes from conftest)

# The DDL before migrations (search/service/links.py at 3b989ef), as every existing database has it.
LEGACY_DDL = {
    "sqlite": [
        """CREATE TABLE IF NOT EXISTS links (id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL,
           article_id TEXT NOT NULL, anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT,
           created_at TEXT NOT NULL, UNIQUE (ticket_id, article_id, anchor))""",
        """CREATE TABLE IF NOT EXISTS suggestions (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL,
           ticket_id TEXT, article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL, score REAL NOT NULL,
           confident INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    ],
    "postgresql": [
        """CREATE TABLE IF NOT EXISTS links (id BIGSERIAL PRIMARY KEY, ticket_id TEXT NOT NULL,
           article_id TEXT NOT NULL, anchor TEXT NOT NULL DEFAULT '', source TEXT NOT NULL, agent TEXT,
           created_at TEXT NOT NULL, UNIQUE (ticket_id, article_id, anchor))""",
        """CREATE TABLE IF NOT EXISTS suggestions (id BIGSERIAL PRIMARY KEY, request_id TEXT NOT NULL,
           ticket_id TEXT, article_id TEXT NOT NULL, anchor TEXT NOT NULL, rank INTEGER NOT NULL,
           score DOUBLE PRECISION NOT NULL, confident INTEGER NOT NULL, created_at TEXT NOT NULL)""",
    ],
}
LEGACY_INDEXES = ["CREATE INDEX IF NOT EXISTS links_article ON links (article_id)",
                  "CREATE INDEX IF NOT EXISTS suggestions_article ON suggestions (article_id)",
                  "CREATE INDEX IF NOT EXISTS suggestions_ticket ON suggestions (ticket_id)"]
LINKS = [(f"ZD-{n}", f"FAQ-X-{n % 7:03d}", ("", "resolution", "cause")[n % 3], ("suggested", "searched", "manual")[n % 3],
          None if n % 5 == 0 else f"agent{n % 4}", f"2026-11-{1 + n % 28:02d}T10:00:00+00:00") for n in range(300)]
SUGGESTIONS = [(f"r{n}", None if n % 9 == 0 else f"ZD-{n}", f"FAQ-X-{n % 7:03d}", "", 1 + n % 5, 0.5 + n / 1000,
                n % 2, "2026-11-02T10:00:00+00:00") for n in range(120)]


def _legacy_database(url: str) -> None:
    """A database exactly as the version before migrations left it, with links and suggestions."""
    if url.startswith("sqlite:///"):
        conn, mark, dialect = sqlite3.connect(url[len("sqlite:///"):]), "?", "sqlite"
    else:
        conn, mark, dialect = psycopg.connect(url), "%s", "postgresql"
    with conn:
        cur = conn.cursor()
        for statement in LEGACY_DDL[dialect] + LEGACY_INDEXES:
            cur.execute(statement)
        cur.executemany(f"INSERT INTO links (ticket_id, article_id, anchor, source, agent, created_at) "
                        f"VALUES ({', '.join([mark] * 6)})", LINKS)
        cur.executemany(f"INSERT INTO suggestions (request_id, ticket_id, article_id, anchor, rank, score, confident, "
                        f"created_at) VALUES ({', '.join([mark] * 8)})", SUGGESTIONS)
        cur.execute("DELETE FROM links WHERE ticket_id = 'ZD-299'")   # a gap in the ids, as deletes leave
    conn.close()


# The report as the version before migrations computed it (links.py at 3b989ef), over every row.
LEGACY_REPORT = {
    "top": "SELECT article_id, COUNT(DISTINCT ticket_id) AS n FROM links GROUP BY article_id ORDER BY n DESC, article_id "
           "LIMIT 20",
    "requests": "SELECT COUNT(DISTINCT request_id), COUNT(DISTINCT CASE WHEN confident = 0 THEN request_id END) "
                "FROM suggestions",
    "accepted": "SELECT COUNT(*) FROM (SELECT DISTINCT s.ticket_id FROM suggestions s JOIN links l "
                "ON l.ticket_id = s.ticket_id AND l.article_id = s.article_id AND l.source = 'suggested') t",
    "suggested": "SELECT COUNT(DISTINCT ticket_id) FROM suggestions WHERE ticket_id IS NOT NULL",
    "gaps": "SELECT DISTINCT s.ticket_id FROM suggestions s WHERE s.ticket_id IS NOT NULL AND s.confident = 0 "
            "AND NOT EXISTS (SELECT 1 FROM links l WHERE l.ticket_id = s.ticket_id) ORDER BY s.ticket_id LIMIT 20",
}


def _legacy_report(url: str) -> dict:
    engine = db.make_engine(url)
    with engine.connect() as c:
        q = {name: c.execute(sa.text(sql)).all() for name, sql in LEGACY_REPORT.items()}
    engine.dispose()
    return {"top_articles": [{"article_id": a, "tickets": n} for a, n in q["top"]],
            "suggestion_requests": q["requests"][0][0], "no_confident_match_requests": q["requests"][0][1],
            "tickets_with_suggestions": q["suggested"][0][0], "tickets_linked_from_suggestion": q["accepted"][0][0],
            "knowledge_gaps": [row[0] for row in q["gaps"]]}


def _kb(*args: str, env: dict):
    return CliRunner().invoke(cli, list(args), obj={}, env=env)


def _schema_diff(url: str) -> list:
    engine = db.make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    return [d for d in diff if not _same_in_sqlite(url, d)
            and not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")]


def _same_in_sqlite(url: str, diff) -> bool:
    """Differences SQLite cannot have: an INTEGER PRIMARY KEY is the rowid (never NULL, whatever the DDL
    said), and REAL is its one floating-point type (the metadata's DOUBLE PRECISION on PostgreSQL)."""
    if not url.startswith("sqlite") or not isinstance(diff, list) or len(diff) != 1:
        return False
    kind, _schema, _table, column, _existing, old, new = diff[0]
    return (kind == "modify_nullable" and column == "id") or \
        (kind == "modify_type" and isinstance(old, sa.REAL) and isinstance(new, sa.Float))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'links.db'}"
    return request.getfixturevalue("pg_url")


@pytest.mark.slow
def test_upgrade_keeps_every_link_of_a_database_from_before_migrations(any_url, tmp_path):
    _legacy_database(any_url)
    before = _legacy_report(any_url)
    env = {"KB_DATABASE_URL": any_url, "KB_DATA_DIR": str(tmp_path)}
    assert "needs 'kb db upgrade'" in _kb("db", "status", env=env).output
    result = _kb("db", "upgrade", env=env)
    assert result.exit_code == 0, result.output
    assert f"from no revision to revision {db.head_revision()}" in result.output
    assert "up to date" in _kb("db", "upgrade", env=env).output        # idempotent
    store = open_store(any_url)
    report = store.report()
    days = report.pop("days")
    assert report == before                                            # the aggregates were filled from the rows
    assert sum(d["requests"] for d in days) == before["suggestion_requests"] or len(days) == 30
    assert 0 < before["tickets_linked_from_suggestion"] < before["tickets_with_suggestions"]
    kept = [(l.ticket_id, l.article_id, l.anchor, l.source, l.agent, l.created_at)
            for l in store.links(limit=10000)]
    assert kept == LINKS[:-1]                                          # every link, in order, unchanged
    assert [l.id for l in store.links(limit=10000)] == list(range(1, 300))
    new, created = store.add_link("ZD-new", "FAQ-X-001", "", "manual", None)
    assert created and new.id == 301                                   # ids keep counting past the deleted 300
    engine = db.make_engine(any_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT request_id, ticket_id, article_id, anchor, rank, score, confident, "
                                          "created_at FROM suggestions ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == SUGGESTIONS
    assert _schema_diff(any_url) == []                                 # adopted tables match the metadata


@pytest.mark.slow
def test_new_database_matches_the_tables(any_url):
    engine = db.make_engine(any_url)
    found = db.ensure_current(engine, any_url)
    engine.dispose()
    assert found.up_to_date and found.current == db.head_revision()
    assert _schema_diff(any_url) == []


@pytest.mark.slow
def test_audit_rows_cannot_be_changed_or_deleted(any_url):
    engine = db.make_engine(any_url)
    db.upgrade(engine, any_url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO audit (at, actor, action) VALUES ('2026-12-01T00:00:00+00:00', 'a', 'x')"))
    for statement in ("UPDATE audit SET actor = 'b'", "DELETE FROM audit"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(sa.text(statement))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT actor FROM audit")).scalar_one() == "a"
    engine.dispose()


def test_serve_refuses_a_database_from_before_migrations(tmp_path):
    url = f"sqlite:///{tmp_path / 'links.db'}"
    _legacy_database(url)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    env = {"KB_DATABASE_URL": url, "KB_DATA_DIR": str(tmp_path), "KB_SITE_DIR": str(tmp_path / "site"),
           "KB_PORT": str(free_port())}
    result = _kb("serve", env=env)
    assert result.exit_code == 1
    assert "from before migrations existed" in result.output and "run 'kb db upgrade'" in result.output
    with pytest.raises(db.NotMigrated, match="kb db upgrade"):
        db.ensure_current(db.make_engine(url), url)


def test_a_newer_database_is_refused_naming_its_revision(tmp_path):
    url = f"sqlite:///{tmp_path / 'links.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine, url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(db.DatabaseError, match="revision 9999, newer than"):
        db.ensure_current(engine, url)


@pytest.mark.slow
def test_workers_starting_at_once_on_a_new_database_all_succeed(any_url):
    """Several gunicorn workers (or replicas) create a new database at once: migrated once, no error."""
    barrier, errors = threading.Barrier(4), []

    def start():
        engine = db.make_engine(any_url)
        barrier.wait(timeout=30)
        try:
            db.ensure_current(engine, any_url)
        except Exception as exc:   # collected: an exception in a thread would not fail the test
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def test_bad_urls_name_the_setting(tmp_path):
    with pytest.raises(db.DatabaseError, match="database_url"):
        db.make_engine("mysql://x/y")
    env = {"KB_DATABASE_URL": f"postgresql://kb@127.0.0.1:{free_port()}/nowhere", "KB_DATA_DIR": str(tmp_path)}
    result = _kb("db", "upgrade", env=env)
    assert result.exit_code == 1 and "Error: database postgresql://kb@127.0.0.1" in result.output, result.output
    assert "Traceback" not in result.output


def test_a_database_being_created_is_waited_for_not_called_old(tmp_path):
    """Before: a worker that looked while another was creating the database (tables there, revision not
    yet) was told to run 'kb db upgrade' and failed to boot (seen 1 in 48 opens under load)."""
    import fcntl
    import time

    from alembic import command

    from search.service.db.migrate import _config

    path = tmp_path / "links.db"
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)                   # "another process" is creating the database
        with engine.begin() as connection:
            connection.execute(sa.text(LEGACY_DDL["sqlite"][0]))   # half-made: a table, no revision yet
        outcome: list = []

        def start():
            try:
                outcome.append(db.ensure_current(db.make_engine(url), url))
            except Exception as exc:   # noqa: BLE001 - collected for the assertion
                outcome.append(exc)

        waiter = threading.Thread(target=start)
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and outcome == []          # it waits for the lock instead of judging
        with engine.begin() as connection:
            command.upgrade(_config(connection), "head")     # the other process finishes
        fcntl.flock(lock, fcntl.LOCK_UN)
    waiter.join(timeout=30)
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception) and outcome[0].up_to_date, outcome
    engine.dispose()


@pytest.mark.slow
def test_upgrade_from_0003_adds_the_feedback_table_and_keeps_the_data(any_url, tmp_path):
    """A database of the version before feedback (revision 0003, with links) gains the table by kb db
    upgrade; its links and report stay, and feedback can be written and read (SQLite and PostgreSQL)."""
    from alembic import command

    from search.service.db.migrate import _config
    from search.service.feedback import store as feedback

    engine = db.make_engine(any_url)
    with engine.begin() as connection:
        command.upgrade(_config(connection), "0003")
    assert "feedback" not in sa.inspect(engine).get_table_names()
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO links (ticket_id, article_id, anchor, source, agent, created_at) "
                                   "VALUES ('ZD-1', 'FAQ-X-001', '', 'manual', 'ana', '2026-11-01T10:00:00+00:00')"))
    env = {"KB_DATABASE_URL": any_url, "KB_DATA_DIR": str(tmp_path)}
    assert "needs 'kb db upgrade'" in _kb("db", "status", env=env).output
    result = _kb("db", "upgrade", env=env)
    assert result.exit_code == 0 and "migrated from 0003 to revision" in result.output, result.output
    assert [(l.ticket_id, l.agent) for l in open_store(any_url).links()] == [("ZD-1", "ana")]
    row, created = feedback.add(engine, feedback.NewFeedback("FAQ-X-001", "", "flag", "wrong", "x", "ZD-1",
                                                             "article", "ana"))
    assert created and feedback.rows(engine, ["FAQ-X-001"], "open") == [row]
    vote = feedback.NewFeedback("FAQ-X-001", "", "helpful", None, "", None, "article", "ana")
    assert feedback.add(engine, vote)[1] and not feedback.add(engine, vote)[1]   # NULL ticket ids compare equal
    assert feedback.vote_counts(engine, ["FAQ-X-001"]) == {"FAQ-X-001": {"helpful": 1, "not_helpful": 0}}
    assert feedback.resolve(engine, row.id, "ed")[0].status == "resolved" and feedback.rows(engine, None, "open") == []
    assert _schema_diff(any_url) == []
    engine.dispose()
