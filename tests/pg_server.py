"""A throwaway PostgreSQL server for the test session (Debian's ``postgresql`` binaries, installed by
``scripts/setup --test``) in a temporary directory, listening on a free 127.0.0.1 port only. initdb and
postgres refuse to run as root, so under root they run as the package's ``postgres`` user. A server
that cannot be started fails the tests that use it; it never skips them.

``postgres_server`` (a session fixture, registered in tests/conftest.py) yields the URL of its
'postgres' database; ``create_database`` makes a fresh one on it. Used by tests/test_links_postgres.py
and tests/test_front_door.py.
"""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

INITDB_TIMEOUT_S = 60
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
USER = "kb"


def _server_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin (Debian), else wherever `postgres` is on PATH."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    if shutil.which("postgres") and shutil.which("initdb"):
        return Path(shutil.which("postgres")).parent
    pytest.fail("PostgreSQL tests: no server binaries (/usr/lib/postgresql/*/bin/postgres); "
                "run scripts/setup --test, which apt-installs Debian's 'postgresql'")


def _run_as() -> dict:
    """Popen arguments that drop root to the 'postgres' user (no-op for an unprivileged user)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("PostgreSQL tests run as root but there is no 'postgres' user to run the server as "
                    "(initdb/postgres refuse root); run scripts/setup --test, whose 'postgresql' package creates it")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


def _start(bindir: Path, data: Path, log_path: Path, run_as: dict) -> tuple[subprocess.Popen, str]:
    """postgres on a free 127.0.0.1 port (retried if another process takes the port first), no Unix socket."""
    from tests.conftest import free_port   # here: conftest imports this module

    for _attempt in range(3):
        port = free_port()
        with open(log_path, "ab") as log:
            proc = subprocess.Popen([str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                                     "-k", "", "-c", "fsync=off", "-c", "max_connections=60"],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=data.parent, **run_as)
        url = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        deadline = time.monotonic() + START_TIMEOUT_S
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                return proc, url
            except psycopg.OperationalError:
                time.sleep(0.1)
        _stop(proc)
        if "could not bind" not in _log_tail(log_path):
            break
    pytest.fail(f"PostgreSQL tests: {bindir / 'postgres'} did not accept connections on 127.0.0.1 within "
                f"{START_TIMEOUT_S} s; its log:\n{_log_tail(log_path)}")


def _stop(proc: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT: disconnects clients, checkpoints), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the session; yields the URL of its 'postgres' database."""
    bindir, run_as = _server_bindir(), _run_as()
    # not pytest's tmp_path: that is private to the current user, and the server may run as 'postgres'
    root = Path(tempfile.mkdtemp(prefix="kb-postgres-"))
    data, log_path = root / "data", root / "server.log"
    try:
        if run_as:
            os.chown(root, run_as["user"], run_as["group"])
        try:
            done = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                                   "--encoding=UTF8", "--no-locale", "--no-sync"],
                                  capture_output=True, text=True, timeout=INITDB_TIMEOUT_S, cwd=root, **run_as)
        except subprocess.TimeoutExpired:
            pytest.fail(f"PostgreSQL tests: initdb took longer than {INITDB_TIMEOUT_S} s")
        if done.returncode != 0:
            pytest.fail(f"PostgreSQL tests: initdb failed (exit {done.returncode}):\n"
                        f"{done.stdout[-1500:]}{done.stderr[-1500:]}")
        proc, url = _start(bindir, data, log_path, run_as)
        try:
            yield url
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count()


def create_database(server_url: str, prefix: str = "links") -> str:
    """A fresh, empty database on the session's server; its URL."""
    name = f"{prefix}_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name
