"""Alembic, run programmatically: the migration scripts ship in ``migrations/`` inside the package.

``status`` tells where a database stands; ``upgrade`` migrates it to the newest revision (one process
at a time: a PostgreSQL advisory lock, or a lock file beside the SQLite database); ``ensure_current``
is what the server calls before serving: a new, empty database is created at the newest revision,
an older one is refused with the command that migrates it.
"""
from __future__ import annotations

import contextlib
import fcntl
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from search.service.db.engine import DatabaseError, describe, sqlite_path

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PG_LOCK_KEY = 7242702   # pg_advisory_lock key of migrations (links.py's DDL uses 7242701)


class NotMigrated(DatabaseError):
    """The database is at an older revision (or predates migrations): ``kb db upgrade`` migrates it."""


@dataclass(frozen=True)
class Status:
    current: str | None   # the revision the database is at (None: no migration history)
    head: str             # the newest revision this version of the code knows
    empty: bool           # no tables at all: a new database

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _status(connection: Connection) -> Status:
    current = MigrationContext.configure(connection).get_current_revision()
    empty = current is None and not sa.inspect(connection).get_table_names()
    return Status(current, head_revision(), empty)


def status(engine: Engine) -> Status:
    try:
        with engine.connect() as connection:
            return _status(connection)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"database {describe(str(engine.url))}: {_reason(exc)}") from None


@contextlib.contextmanager
def _one_migrator(engine: Engine, url: str):
    """Serialise migrations across processes (several workers or replicas starting at once)."""
    path = sqlite_path(url)
    if path is not None:
        with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with engine.begin() as connection:
                yield connection
        return
    with engine.begin() as connection:   # PostgreSQL: DDL is transactional; the lock ends with it
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})"))
        yield connection


def upgrade(engine: Engine, url: str) -> tuple[str | None, str]:
    """Migrate to the newest revision; returns (revision before, revision after). Idempotent."""
    try:
        with _one_migrator(engine, url) as connection:
            before = _status(connection).current
            command.upgrade(_config(connection), "head")
            return before, _status(connection).current
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"database {describe(url)}: migration failed: {_reason(exc)}") from None


def ensure_current(engine: Engine, url: str) -> Status:
    """Create a new, empty database at the newest revision; refuse one at an older revision.

    Decided under the migration lock: a process that finds the database half-made (another one is
    creating it right now: tables, but no revision yet) waits for it instead of calling it old."""
    found = status(engine)
    if found.up_to_date:
        return found
    try:
        with _one_migrator(engine, url) as connection:
            found = _status(connection)
            if found.empty:
                command.upgrade(_config(connection), "head")
                return _status(connection)
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"database {describe(url)}: {_reason(exc)}") from None
    if found.up_to_date:
        return found
    if found.current is not None and found.current not in _known_revisions():
        raise DatabaseError(f"database {describe(url)} is at revision {found.current}, newer than this version "
                            f"of kb knows (newest {found.head}); run the newer version, or restore a backup")
    at = f"at revision {found.current}" if found.current else "from before migrations existed"
    raise NotMigrated(f"database {describe(url)} is {at}; this version needs revision {found.head}: "
                      "run 'kb db upgrade' (with the same settings), then start again")


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def _reason(exc: sa.exc.SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
