"""`kb serve` (gunicorn, 2 workers x 4 threads) against slow clients, and the errors gunicorn answers
itself. Real server on 127.0.0.1; every attack is bounded in connections and seconds.

Before kb_cli.gunicorn_worker read requests in the main loop, 12 connections sending one header byte
per second made the server answer nobody (the probe below timed out); docs/reliability.md has the
measurements."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kb_cli.gunicorn_worker import READ_TIMEOUT_S
from tests.conftest import running_server
from tests.slow_clients import SlowClients, probe

ATTACKERS = 24   # per kind; the server has 2 workers x 4 threads


@pytest.fixture(scope="module")
def server(real_settings, tmp_path_factory):
    data = tmp_path_factory.mktemp("slow-clients")
    with running_server(real_settings, data, real_settings.index_path) as base:
        yield base, ("127.0.0.1", urlsplit(base).port)


def largest_file(site_dir) -> str:
    """URL path of the site's largest file (what a never-reading client asks for, pipelined)."""
    site = Path(site_dir)
    return "/" + max(site.rglob("*.js"), key=lambda p: p.stat().st_size).relative_to(site).as_posix()


@pytest.mark.parametrize("kinds", [("slow_head", "slow_body"), ("endless_chunked", "idle", "no_close"),
                                   ("big_chunk", "never_read")])
def test_slow_clients_do_not_starve_the_server(server, kinds, real_settings):
    base, address = server
    with SlowClients(address, {kind: ATTACKERS for kind in kinds}, big_path=largest_file(real_settings.site_dir)):
        results = probe(base + "/api/search?q=6007&k=1", count=4, timeout=10)
    assert all(isinstance(r, float) for r in results), results


def _exchange(address, data: bytes, wait: float = 15.0) -> bytes:
    with socket.create_connection(address, timeout=wait) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _split(response: bytes) -> tuple[int, dict, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_a_request_that_does_not_arrive_in_time_is_408_json(server):
    with socket.create_connection(server[1], timeout=READ_TIMEOUT_S + 10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: kb\r\n")   # and nothing more
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status, headers, body = _split(received)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert headers["x-content-type-options"] == "nosniff" and "server" not in headers


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: kb\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: kb\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: kb\r\n" + b"X-A: " + b"b" * 40000 + b"\r\n\r\n", 431),
    (b"POST /api/suggest HTTP/1.1\r\nHost: kb\r\nTransfer-Encoding: bogus\r\n\r\n", 501),
])
def test_errors_gunicorn_answers_itself_are_json_with_security_headers(server, request_bytes, status):
    got, headers, body = _split(_exchange(server[1], request_bytes))
    assert got == status and set(body["error"]) == {"code", "message"}
    assert headers["content-type"] == "application/json" and "server" not in headers
    assert headers["x-content-type-options"] == "nosniff" and "frame-ancestors 'none'" in headers["content-security-policy"]


def test_no_server_header_and_whole_requests_still_work(server):
    """Keep-alive, pipelining, chunked and Expect: 100-continue bodies all pass the main-loop reader."""
    ticket = b'{"body": "Shaka error 6007 since today"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(ticket), ticket)
    received = _exchange(server[1], b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         + b"POST /api/suggest?k=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n" + chunked
                         + b"POST /api/suggest?k=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(ticket)
                         + ticket)
    assert received.count(b"HTTP/1.1 200 OK") == 3 and received.count(b"FAQ-DRM-001") >= 2
    assert b"\r\nServer:" not in received
