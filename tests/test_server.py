"""The production server (gunicorn via `kb serve`) on 127.0.0.1: real HTTP, and a hot index swap
while clients are querying. Bounded in time."""
from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


from tests.conftest import get_json as _get, running_server


@pytest.fixture
def server(real_settings, tmp_path):
    index_root = tmp_path / "index"
    shutil.copytree(real_settings.index_path, index_root)
    with running_server(real_settings, tmp_path, index_root) as base:
        yield base, index_root, real_settings


def test_real_server_serves_site_and_api(server):
    base, _, _ = server
    status, body = _get(base + "/api/search?q=6007&k=1")
    assert status == 200 and body["results"][0]["article_id"] == "FAQ-DRM-001"
    with urllib.request.urlopen(base + "/", timeout=10) as response:
        assert response.status == 200 and "Content-Security-Policy" in response.headers
    status, body = _get(base + "/api/search?q=")
    assert status == 400 and body["error"]["code"] == "invalid_parameter"


def test_keep_alive_connection_back_to_back_pipelined_and_after_idle(server):
    """kb_cli.gunicorn_worker serves a connection's next request on the same thread when it comes at
    once (or is already buffered) and hands an idle connection back to gthread's main loop."""
    import http.client
    import socket
    from urllib.parse import urlsplit

    port = urlsplit(server[0]).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.connect()
    sock = conn.sock
    for pause in [0] * 20 + [0.1, 0.3, 0]:   # back to back, then idle longer than the linger
        time.sleep(pause)
        conn.request("GET", "/api/search?q=6007&k=1")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["results"][0]["article_id"] == "FAQ-DRM-001"
    assert conn.sock is sock   # one connection throughout
    conn.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n" * 2
                    + b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK") == 3 and data.count(b'{"status":"ok"}') == 2 and b'"status":"ready"' in data


def test_hot_swap_during_requests(server):
    from search.corpus import parse_corpus
    from search.indexer import build_index

    base, index_root, settings = server
    old = _get(base + "/readyz")[1]["build_id"]
    failures, seen, stop = [], set(), threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, body = _get(base + "/api/search?q=license%20request%20failed&k=3")
                if status != 200:
                    failures.append(status)
                else:
                    seen.add(body["build_id"])
            except OSError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        doc = json.loads(Path(settings.corpus_path).read_text(encoding="utf-8"))
        doc["articles"][0]["sections"][0]["text"] += " Updated for the hot swap test."
        import dataclasses
        report = build_index(dataclasses.replace(settings, index_root=str(index_root)),
                             corpus=parse_corpus(doc), progress=False)
        published = time.monotonic()
        while time.monotonic() - published < 10 and report.build_id not in seen:
            time.sleep(0.1)
        switched_after = time.monotonic() - published
        time.sleep(1.5)   # both workers have had time to swap; keep querying meanwhile
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert failures == []
    assert report.build_id in seen and old in seen and switched_after < 5
    statuses = {_get(base + "/readyz")[1]["build_id"] for _ in range(10)}
    assert statuses == {report.build_id}


FREEZE_CHECK = """
import gc, sys
from kb_cli.serve import _gunicorn_app
from search.settings import load_settings
settings = load_settings(None, {"site_dir": sys.argv[1], "data_dir": sys.argv[2]}, environ={})
app = _gunicorn_app(settings, 1).load()            # what each gunicorn worker runs
holder = app.extensions["kb"].holder
def collected(searcher):   # how many of the build's big containers the collector still walks
    tracked = {id(o) for o in gc.get_objects()}
    build = searcher.build
    return sum(id(o) in tracked for o in (build.chunks, build.articles, *build.chunks[:50]))
before = collected(holder.searcher)
holder.searcher = None                             # the next refresh loads a build, as a hot swap does
assert holder.refresh()
print(gc.get_freeze_count(), before, collected(holder.searcher))
"""


def test_worker_keeps_its_loaded_index_out_of_garbage_collection(real_settings):
    """kb serve's worker freezes the objects of the index it loaded (gc.freeze), and a hot swap
    freezes the new build's too, so no full collection has to walk them under load."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FREEZE_CHECK, str(real_settings.site_dir), str(real_settings.data_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout.split()
    frozen, after_load, after_swap = map(int, out)
    assert frozen > 10_000 and after_load == 0 and after_swap == 0


def test_serve_on_a_port_in_use_fails_at_once_naming_it(real_settings, tmp_path):
    """kb serve on an occupied port: a non-zero exit and a message naming the port and the setting to
    change, from the check before gunicorn starts (not gunicorn's five retries ending in "Can't connect")."""
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env = dict(os.environ, KB_SITE_DIR=str(real_settings.site_dir), KB_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Can't connect" not in proc.stderr and "Starting gunicorn" not in proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "--port" in proc.stderr and "Traceback" not in proc.stderr


def test_serve_with_a_corrupt_links_database_fails_at_once_naming_the_file(real_settings, tmp_path):
    import os
    import subprocess
    import sys

    (tmp_path / "links.db").write_bytes(b"this is not an SQLite database" * 200)
    env = dict(os.environ, KB_SITE_DIR=str(real_settings.site_dir), KB_DATA_DIR=str(tmp_path),
               KB_INDEX_ROOT=str(real_settings.index_path), PYTHONPATH=str(ROOT))
    from tests.conftest import free_port

    proc = subprocess.run([sys.executable, "-m", "kb_cli.main", "serve", "--port", str(free_port())], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stdout + proc.stderr
    assert f"links database {tmp_path / 'links.db'}: file is not a database" in proc.stderr


@pytest.mark.parametrize("host, fragment", [
    ("999.1.1.1", "setting 'host': cannot resolve '999.1.1.1'"),
    ("192.0.2.1", "192.0.2.1 is not an address of this machine"),   # TEST-NET-1: never assigned
])
def test_unusable_host_is_one_clear_error(host, fragment):
    import click

    from kb_cli.serve import _check_port_free
    from tests.conftest import free_port

    with pytest.raises(click.ClickException) as caught:
        _check_port_free(host, free_port())
    assert fragment in caught.value.message


def _chunked_post(base: str, path: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=30)
    try:
        pieces = (body[i:i + 8192] for i in range(0, len(body), 8192))
        conn.request("POST", path, body=pieces, encode_chunked=True,
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked", **(headers or {})})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_real_server_limits_chunked_bodies_refuses_other_hosts_purges_and_keeps_files_private(real_settings, tmp_path):
    """Issue 17 on gunicorn: a chunked 100 KB ticket was cut at 64 KB and answered 200 (now 413 like the
    same body with Content-Length); an unknown Host is a 400; records older than retention_days are
    purged when a worker starts; the data directory, links database, WAL and rate-limit file are private."""
    import datetime as dt
    import os
    import sqlite3
    import stat

    from search.service.links import open_store

    index_root = tmp_path / "index"
    shutil.copytree(real_settings.index_path, index_root)
    data = tmp_path / "data"
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)).isoformat()
    open_store(f"sqlite:///{data / 'links.db'}").record_suggestions("old", "ZD-OLD", [("FAQ-DRM-001", "", 1, 0.5)],
                                                                    confident=False, now=old)
    os.chmod(data, 0o755)
    os.chmod(data / "links.db", 0o644)     # as an older version left them
    with running_server(real_settings, data, index_root, extra_env={"KB_RATE_LIMIT_PER_MINUTE": "1000"}) as base:
        big = json.dumps({"ticket_id": "ZD-1", "body": "6007 " * 20000}).encode()   # 100 KB
        status, body = _chunked_post(base, "/api/suggest", big)
        assert status == 413 and body["error"]["code"] == "request_entity_too_large"
        status, body = _chunked_post(base, "/api/suggest", json.dumps({"ticket_id": "ZD-2", "body": "Shaka 6007"}).encode())
        assert status == 200 and body["suggestions"][0]["article_id"] == "FAQ-DRM-001"
        request = urllib.request.Request(base + "/api/reports", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400 and json.loads(refused.value.read())["error"]["code"] == "host_not_allowed"
        deadline = time.monotonic() + 30
        while _get(base + "/api/reports")[1]["tickets_with_suggestions"] != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        report = _get(base + "/api/reports")[1]
        assert report["tickets_with_suggestions"] == 1 and report["knowledge_gaps"] == []   # ZD-OLD purged
        with sqlite3.connect(str(data / "links.db")) as conn:
            assert conn.execute("SELECT COUNT(*) FROM suggestions WHERE ticket_id = 'ZD-OLD'").fetchone()[0] == 0
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (data, data / "links.db", data / "links.db-wal",
                                                                  data / "links.db-shm", data / "ratelimit.bin")}
        assert modes == {"data": 0o700, "links.db": 0o600, "links.db-wal": 0o600, "links.db-shm": 0o600,
                         "ratelimit.bin": 0o600}
