"""SQLAlchemy engines from the ``database_url`` setting, with the same bounded waits as the links store:
SQLite in WAL mode with a busy timeout; PostgreSQL through psycopg 3 with a connect and lock timeout."""
from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from search.files import private_dir, private_file

BUSY_TIMEOUT_S = 5.0


class DatabaseError(Exception):
    """The database cannot be opened or used; the message names the setting or the file."""


def sqlalchemy_url(url: str) -> str:
    """``sqlite:///PATH`` stays; ``postgresql://`` and ``postgres://`` select the psycopg 3 driver."""
    if url.startswith("sqlite:///"):
        return url
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise DatabaseError(f"setting 'database_url': {url!r} is neither sqlite:///PATH nor postgresql://…")


def sqlite_path(url: str) -> Path | None:
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def make_engine(url: str, busy_timeout: float = BUSY_TIMEOUT_S) -> Engine:
    """An engine for the service database at ``url`` (the ``database`` of the settings)."""
    path = sqlite_path(url)
    if path is not None:
        private_dir(path.parent)   # 0700 / 0600 like every data file (search/files.py): it holds ticket ids
        private_file(path)
        engine = sa.create_engine(url, connect_args={"timeout": busy_timeout})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            _wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.close()
        return engine
    try:
        import psycopg  # noqa: F401 - the driver SQLAlchemy will load
    except ImportError:
        raise DatabaseError("setting 'database_url' is a PostgreSQL URL but the 'psycopg' package is not "
                            "installed; pip install 'psycopg[binary]'") from None
    return sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True,
                            connect_args={"connect_timeout": max(2, round(busy_timeout)),
                                          "options": f"-c lock_timeout={max(1, int(busy_timeout * 1000))}"})


def _wal(cursor, busy_timeout: float) -> None:
    """Switch to WAL. Processes opening a new database at once collide on this switch, which needs an
    exclusive lock SQLite does not wait for ("database is locked" at once): retry within the timeout."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))


def describe(url: str) -> str:
    """The database for messages: the SQLite file, or the PostgreSQL URL without its password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return sa.engine.make_url(sqlalchemy_url(url)).render_as_string(hide_password=True).replace("+psycopg", "")
