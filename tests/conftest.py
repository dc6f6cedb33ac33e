"""Layered fixtures: the fixture KB is built once per session into a temporary directory."""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_KB = ROOT / "tests" / "fixtures" / "kb"


def build_mkdocs(config_file: Path, site_dir: Path) -> None:
    """Run the real MkDocs build (strict, with the kb plugin)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    build(load_config(config_file=str(config_file), strict=True, site_dir=str(site_dir)))


@pytest.fixture(scope="session")
def fixture_kb(tmp_path_factory) -> Path:
    """A private copy of the fixture KB (tests may not write into the repository)."""
    dest = tmp_path_factory.mktemp("fixture") / "kb"
    shutil.copytree(FIXTURE_KB, dest, ignore=shutil.ignore_patterns("site"))
    return dest


@pytest.fixture(scope="session")
def fixture_site(fixture_kb: Path) -> Path:
    site = fixture_kb / "site"
    build_mkdocs(fixture_kb / "mkdocs.yml", site)
    return site


@pytest.fixture(scope="session")
def real_kb_site(tmp_path_factory) -> Path:
    """The real knowledge base (kb/), built once per session; strict, so any problem fails it."""
    site = tmp_path_factory.mktemp("kb-site") / "site"
    build_mkdocs(ROOT / "mkdocs.yml", site)
    return site


@pytest.fixture(scope="session")
def real_settings(fixture_site: Path, tmp_path_factory):
    """Settings of an index of the fixture KB built with the real model (ONNX export included)."""
    from search.indexer import build_index
    from search.settings import load_settings

    data = tmp_path_factory.mktemp("real-index")
    settings = load_settings(None, {"site_dir": str(fixture_site), "data_dir": str(data)}, environ={})
    build_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def real_searcher(real_settings):
    from search.searcher import open_searcher

    return open_searcher(real_settings)


@pytest.fixture
def app(real_settings, real_searcher, tmp_path):
    """A fresh app (own links database) over the session's real-model index."""
    import dataclasses

    from search.service import create_app

    settings = dataclasses.replace(real_settings, api_token="test-token", rate_limit_per_minute=0,
                                   database_url=f"sqlite:///{tmp_path / 'links.db'}")
    return create_app(settings, encoder=real_searcher.encoder, watch=False)


@pytest.fixture
def client(app):
    return app.test_client()


AUTH = {"Authorization": "Bearer test-token"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 10.0) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@contextlib.contextmanager
def running_server(settings, data_dir: Path, index_root: Path, token: str = "t", workers: int = 2,
                   extra_env: dict | None = None, processes: list | None = None, port: int | None = None):
    """`kb serve` (gunicorn) on ``port`` (default: a free one) of 127.0.0.1 until the block ends; yields
    the base URL. ``extra_env`` adds or overrides KB_* settings. ``processes``, if given, receives the
    server's Popen: a test that kills the server itself (``os.killpg(proc.pid, …)``) must pass it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    port = port or free_port()
    env = dict(os.environ, KB_SITE_DIR=str(settings.site_dir), KB_DATA_DIR=str(data_dir),
               KB_INDEX_ROOT=str(index_root), KB_RELOAD_INTERVAL="0.5", KB_WORKERS=str(workers), KB_API_TOKEN=token,
               KB_RATE_LIMIT_PER_MINUTE="0", PYTHONPATH=str(ROOT))
    env.update(extra_env or {})
    log_path = Path(data_dir) / f"server-{port}.log"
    log = open(log_path, "wb")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen([sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    if processes is not None:
        processes.append(proc)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if get_json(base + "/readyz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail("server did not become ready: " + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield base
        if proc.poll() is not None and processes is None:
            pytest.fail(f"the server exited during the test (code {proc.returncode}): "
                        + log_path.read_text(errors="replace")[-3000:])
    finally:
        log.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


from tests.pg_server import postgres_server  # noqa: E402,F401  (the session's PostgreSQL server fixture)


@contextlib.contextmanager
def hard_limit(seconds: float):
    """Raise TimeoutError after ``seconds``: SIGALRM interrupts even a backtracking regex, so a
    regression fails its test instead of hanging the suite (main thread only)."""
    import signal

    def expire(*_args):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium at desktop size, one per test module (tests/browser_kit.py)."""
    from tests import browser_kit as kit

    driver = kit.make_driver(kit.DESKTOP)
    yield driver
    driver.quit()
