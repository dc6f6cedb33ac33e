"""API tokens (hashed, shown once, revocable without a restart) and the audit trail (table + JSON log)."""
from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kb_cli.main import cli
from search.service import db
from search.service.auth import audit, tokens
from search.service.db.tables import api_tokens


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'links.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine, url)
    yield engine
    engine.dispose()


def _kb(tmp_path, *args: str, **env):
    env = {"KB_DATA_DIR": str(tmp_path), "KB_AUDIT_LOG": str(tmp_path / "audit.jsonl"), **env}
    return CliRunner().invoke(cli, list(args), obj={}, env=env)


def test_token_is_high_entropy_stored_hashed_and_verified(engine):
    token, info = tokens.create(engine, "ticket-bot", frozenset({"read", "suggest"}), None, "cli:ana")
    other, _ = tokens.create(engine, "other", frozenset({"read"}), 30, "cli:ana")
    assert token.startswith("kb_") and len(token) >= 43 and token != other
    with engine.connect() as connection:
        stored = connection.execute(sa.select(api_tokens)).all()
    assert all(token not in str(tuple(row)) for row in stored)          # only its hash is kept
    assert tokens.verify(engine, token) == info and info.scopes == {"read", "suggest"}
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), "", "kb_", token + "x", "Bearer " + token,
                  "kb_" + "\udcff" * 10, "x" * 10000):
        assert tokens.verify(engine, wrong) is None


def test_revoked_and_expired_tokens_are_refused_at_once(engine):
    token, _ = tokens.create(engine, "bot", frozenset({"read"}), 1, "cli:ana")
    assert tokens.verify(engine, token) is not None
    tokens.revoke(engine, "bot", "cli:ana")
    assert tokens.verify(engine, token) is None                          # the next check, no restart
    late, _ = tokens.create(engine, "late", frozenset({"read"}), 1, "cli:ana")
    with engine.begin() as connection:   # a day has passed
        past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat(timespec="seconds")
        connection.execute(api_tokens.update().where(api_tokens.c.name == "late").values(expires_at=past))
    assert tokens.verify(engine, late) is None
    assert {t.name: t.state for t in tokens.list_tokens(engine)} == {"bot": "revoked", "late": "expired"}


@pytest.mark.parametrize("name, scope, expires, message", [
    ("bad name", "read", None, "--name 'bad name'"),
    ("", "read", None, "--name ''"),
    ("x" * 65, "read", None, "1 to 64"),
    ("ok", "read,write", None, "unknown write; choose from read, internal, suggest, links:read, links:write, feedback:write, review, reports, "
     "admin"),
    ("ok", " , ", None, "none given"),
    ("ok", "read", 0, "--expires 0: from 1 to 3650 days"),
    ("ok", "read", 100000, "--expires 100000"),
])
def test_bad_token_requests_say_what_to_change(engine, name, scope, expires, message):
    with pytest.raises(tokens.TokenError, match=message.replace("(", r"\(")):
        tokens.create(engine, name, tokens.parse_scopes(scope), expires, "cli:ana")


def test_names_are_never_reused_and_revoking_twice_is_refused(engine):
    tokens.create(engine, "bot", frozenset({"read"}), None, "cli:ana")
    tokens.revoke(engine, "bot", "cli:ana")
    with pytest.raises(tokens.TokenError, match="exists"):
        tokens.create(engine, "bot", frozenset({"read"}), None, "cli:ana")
    with pytest.raises(tokens.TokenError, match="already revoked"):
        tokens.revoke(engine, "bot", "cli:ana")
    with pytest.raises(tokens.TokenError, match="no token named 'ghost'"):
        tokens.revoke(engine, "ghost", "cli:ana")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_token_changes_are_audited_in_the_table_and_the_log(engine):
    collect, log = _Collect(), logging.getLogger("kb.audit")
    log.addHandler(collect)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        tokens.create(engine, "bot", frozenset({"read", "admin"}), 7, "cli:ana")
        tokens.revoke(engine, "bot", "cli:bob")
    finally:
        log.removeHandler(collect)
        log.setLevel(level)
    found = audit.rows(engine)
    assert [(r.actor, r.action, r.target, r.client) for r in found] == \
        [("cli:ana", "token.create", "bot", "cli"), ("cli:bob", "token.revoke", "bot", "cli")]
    assert found[0].detail["scopes"] == ["admin", "read"] and found[0].detail["expires_at"]
    logged = [json.loads(r.getMessage()) for r in collect.records]
    assert [(e["actor"], e["action"], e["event"]) for e in logged] == \
        [("cli:ana", "token.create", "audit"), ("cli:bob", "token.revoke", "audit")]
    assert audit.rows(engine, actor="cli:bob")[0].action == "token.revoke"
    assert audit.rows(engine, since="2999-01-01T00:00:00+00:00") == []


def test_failed_token_creation_leaves_no_audit_row(engine):
    tokens.create(engine, "bot", frozenset({"read"}), None, "cli:ana")
    with pytest.raises(tokens.TokenError):
        tokens.create(engine, "bot", frozenset({"read"}), None, "cli:ana")
    assert [r.action for r in audit.rows(engine)] == ["token.create"]


def test_cli_create_list_revoke_and_audit(tmp_path):
    created = _kb(tmp_path, "token", "create", "--name", "zendesk", "--scope", "read,suggest,links:write",
                  "--expires", "90")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("kb_") and "shown only now" in created.stderr
    listed = _kb(tmp_path, "token", "list", "--json")
    entry = json.loads(listed.output)[0]
    assert entry["name"] == "zendesk" and entry["state"] == "active" and token not in listed.output
    assert entry["scopes"] == ["links:write", "read", "suggest"]
    assert _kb(tmp_path, "token", "revoke", "zendesk").exit_code == 0
    again = _kb(tmp_path, "token", "revoke", "zendesk")
    assert again.exit_code == 1 and "already revoked" in again.output
    bad = _kb(tmp_path, "token", "create", "--name", "x", "--scope", "root")
    assert bad.exit_code == 1 and "choose from read" in bad.output
    rows = [json.loads(line) for line in _kb(tmp_path, "audit", "--json", "--since", "1d").output.splitlines()]
    assert [r["action"] for r in rows] == ["token.create", "token.revoke"] and rows[0]["actor"].startswith("cli:")
    text = _kb(tmp_path, "audit", "--actor", rows[0]["actor"], "--action", "token.revoke").output
    assert "token.revoke" in text and "token.create" not in text
    logged = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [e["action"] for e in logged] == ["token.create", "token.revoke"]
    assert token not in (tmp_path / "audit.jsonl").read_text()
    bad_since = _kb(tmp_path, "audit", "--since", "yesterday")
    assert bad_since.exit_code == 2 and "give 7d, 12h, 30m or a date" in bad_since.output


def test_parse_since():
    assert audit.parse_since("2026-12-01") == "2026-12-01T00:00:00+00:00"
    assert audit.parse_since("2026-12-01T10:00:00+02:00") == "2026-12-01T08:00:00+00:00"
    assert audit.parse_since("7d") < audit.now()
    for bad in ("", "7w", "-1d", "1" * 20 + "d"):
        with pytest.raises(ValueError, match="--since"):
            audit.parse_since(bad)
