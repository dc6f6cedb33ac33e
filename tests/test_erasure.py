"""Erasure of a ticket (kb erase --ticket, DELETE /api/tickets/ID): afterwards no table holds its id,
every aggregate is what it would be had the ticket never been seen, and the audit row names no ticket."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kb_cli.main import cli
from search.service import db
from search.service.auth import audit
from search.service.links import open_store
from tests.test_access import _bearer, _make, _token
from tests.test_links_postgres import pg_url  # noqa: F401 - fixture (postgres_server comes from conftest)


def _writes(store, tickets, url: str | None = None) -> None:
    """The same history for each ticket: suggestions (confident and not), links of every source, and
    (given the database ``url``) a flag filed for it plus a comment naming it on another ticket's flag."""
    if url is not None:
        _feedback(url, tickets)
    for n, ticket in enumerate(tickets):
        store.record_suggestions(f"r{ticket}a", ticket, [("A", "", 1, 0.9), ("B", "x", 2, 0.5)], confident=True)
        store.record_suggestions(f"r{ticket}b", ticket, [("C", "", 1, 0.2)], confident=False)
        store.add_link(ticket, "A", "", "suggested", "ana")
        store.add_link(ticket, "B", "x", "manual", None)
        if n % 2:
            store.add_link(ticket, "C", "", "searched", "bob")


def _feedback(url: str, tickets) -> None:
    from search.service.feedback import store as feedback

    engine = db.make_engine(url)
    for ticket in tickets:
        for named, comment in ((ticket, "step 2 is out of date"), ("ZD-OTHER", f"as in {ticket}, step 2")):
            feedback.add(engine, feedback.NewFeedback("A", "", "flag", "outdated", comment, named, "article", "ana"))
    engine.dispose()


def _text_everywhere(url: str, needle: str) -> list[str]:
    """Every (table.column) of the database whose text contains ``needle``."""
    engine = db.make_engine(url)
    found = []
    with engine.connect() as connection:
        for table in sa.inspect(connection).get_table_names():
            for row in connection.execute(sa.text(f"SELECT * FROM {table}")).mappings():
                found += [f"{table}.{k}" for k, v in row.items() if isinstance(v, str) and needle in v]
    engine.dispose()
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def two_urls(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    first = request.getfixturevalue("pg_url")
    return first, first.rsplit("/", 1)[0] + "/" + first.rsplit("/", 1)[1] + "_twin"


@pytest.mark.slow
def test_erasure_leaves_no_trace_and_exact_aggregates(two_urls, postgres_server, request):
    url, twin = two_urls
    if twin.startswith("postgresql"):
        import psycopg

        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {twin.rsplit('/', 1)[1]}")
    store, never = open_store(url), open_store(twin)
    _writes(store, ["ZD-ERASE-ME", "ZD-2", "ZD-3"], url)
    _writes(never, ["ZD-2", "ZD-3"], twin)                # the same history without the erased ticket
    assert set(_text_everywhere(url, "ZD-ERASE-ME")) >= {"feedback.ticket_id", "feedback.comment"}
    erased = store.erase_ticket("ZD-ERASE-ME")
    assert erased == {"links": 2, "suggestions": 3, "suggested_tickets": 1, "feedback": 1}
    assert _text_everywhere(url, "ZD-ERASE-ME") == []
    after, expected = store.report(), never.report()
    for counted in ("suggestion_requests", "no_confident_match_requests"):   # per-day counts, no ticket ids: kept
        assert after.pop(counted) == expected.pop(counted) + 2 - (counted != "suggestion_requests")
    days, expected_days = after.pop("days"), expected.pop("days")         # the same counts per day: kept too
    assert [(d["day"], d["requests"] - 2, d["no_confident_match"] - 1) for d in days] == \
        [(d["day"], d["requests"], d["no_confident_match"]) for d in expected_days]
    assert after == expected
    assert store.link_counts(["A", "B", "C"]) == never.link_counts(["A", "B", "C"])
    assert store.erase_ticket("ZD-ERASE-ME") == {"links": 0, "suggestions": 0, "suggested_tickets": 0, "feedback": 0}


def test_erase_api_is_for_admins_and_audited_without_the_ticket(real_settings, real_searcher, tmp_path):
    app = _make(real_settings, real_searcher, tmp_path, auth="oidc", oidc_issuer="http://127.0.0.1:9/x",
                oidc_client_id="kb", oidc_role_groups="reader=*")
    client, state = app.test_client(), app.extensions["kb"]
    state.store.add_link("ZD-77", "FAQ-DRM-001", "", "manual", None)
    agent, admin = _token(app, "agent", "read,suggest,links:write"), _token(app, "admin", "admin")
    assert client.delete("/api/tickets/ZD-77", headers=_bearer(agent)).status_code == 403
    assert client.delete("/api/tickets/ZD-77").status_code == 401
    done = client.delete("/api/tickets/ZD-77", headers=_bearer(admin))
    assert done.status_code == 200 and done.get_json() == {"erased": {"links": 1, "suggestions": 0, "suggested_tickets": 0,
                                                                     "feedback": 0}}
    assert state.store.links(ticket_id="ZD-77") == []
    assert client.delete("/api/tickets/%00", headers=_bearer(admin)).status_code == 400
    row = audit.rows(state.engine, action="ticket.erase")[0]
    assert (row.actor, row.outcome, row.detail["links"]) == ("token:admin", "ok", 1)
    assert "ZD-77" not in json.dumps(row.to_json())


def test_kb_erase(tmp_path):
    url = f"sqlite:///{tmp_path / 'links.db'}"
    store = open_store(url)
    store.add_link("ZD-9", "A", "", "manual", None)
    store.record_suggestions("r1", "ZD-9", [("A", "", 1, 0.9)], confident=True)
    env = {"KB_DATA_DIR": str(tmp_path), "KB_AUDIT_LOG": str(tmp_path / "audit.jsonl")}
    result = CliRunner().invoke(cli, ["erase", "--ticket", " ZD-9 "], obj={}, env=env)
    assert result.exit_code == 0 and "1 links, 1 suggestion records, 1 report row(s), 0 feedback" in result.output, result.output
    assert _text_everywhere(url, "ZD-9") == []
    logged = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert logged["action"] == "ticket.erase" and logged["actor"].startswith("cli:") and "ZD-9" not in str(logged)
    bad = CliRunner().invoke(cli, ["erase", "--ticket", "\x00"], obj={}, env=env)
    assert bad.exit_code == 2 and "--ticket" in bad.output
