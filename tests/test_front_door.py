"""The production front door, for real on 127.0.0.1: nginx (deploy/nginx/kb.conf, TLS) in front of two
`kb serve` instances sharing one PostgreSQL links database. One nginx + two instances for the whole
session; the test that kills an instance runs last. Bounded: every attack and load has a fixed
number of connections and seconds."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from tests.conftest import free_port, running_server
from tests.front_door import DEFAULT_USER, client_tls, running_nginx, running_verifier, template_values, tls_certificate
from tests.pg_server import create_database
from tests.slow_clients import KINDS, SlowClients, probe
from tests.test_slow_clients import largest_file

TOKEN = "front-door-token"
RATE_LIMIT = 30   # per minute per client, shared by both instances (one data_dir, one counter file)
SECURITY = ("x-content-type-options", "content-security-policy", "strict-transport-security", "x-frame-options")


@pytest.fixture(scope="session")
def front_door(real_settings, postgres_server, tmp_path_factory):
    import contextlib

    data = tmp_path_factory.mktemp("front-door")
    # auth = proxy: nginx asks the verifier (oauth2-proxy's stand-in) about every request and passes the
    # user and groups it names; the instances believe them from nginx (127.0.0.1/32) only
    env = {"KB_DATABASE_URL": create_database(postgres_server, "frontdoor"), "KB_TRUSTED_PROXIES": "127.0.0.1",
           "KB_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT), "KB_AUTH": "proxy",
           "KB_OIDC_ROLE_GROUPS": "reader=*,agent=support,admin=kb-admins"}
    processes: list = []
    with contextlib.ExitStack() as stack:
        verifier = stack.enter_context(running_verifier())
        instances = [stack.enter_context(running_server(real_settings, data, real_settings.index_path, token=TOKEN,
                                                        workers=1, extra_env=env, processes=processes))
                     for _ in range(2)]
        cert, key = tls_certificate(data)
        ports = [int(base.rsplit(":", 1)[1]) for base in instances]
        https, http_port, _prefix = stack.enter_context(running_nginx(
            lambda https, http_port, prefix: template_values(https, http_port, ports, cert, key,
                                                             verifier=verifier.server_port)))
        yield SimpleNamespace(https=https, http=http_port, instances=instances, processes=processes, verifier=verifier,
                              tls=client_tls(cert), base=f"https://127.0.0.1:{https}", site=real_settings.site_dir)


def fetch(door, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
          source: str = "127.0.0.1", port: int | None = None, tls: bool = True):
    """One request on a new connection from ``source`` (any 127.x address): (status, headers, body)."""
    cls, extra = (http.client.HTTPSConnection, {"context": door.tls}) if tls else (http.client.HTTPConnection, {})
    conn = cls("127.0.0.1", port or door.https, timeout=15, source_address=(source, 0), **extra)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def assert_json_error(status, headers, body, expected_status, code=None):
    assert status == expected_status, (status, body[:300])
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message"} and (code is None or error["code"] == code)
    for name in SECURITY:
        assert name in headers, f"{name} missing on {status}"


def test_tls_hsts_security_headers_and_no_server_version(front_door):
    status, headers, body = fetch(front_door, "GET", "/api/search?q=6007&k=1")
    assert status == 200 and json.loads(body)["results"][0]["article_id"] == "FAQ-DRM-001"
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "content-security-policy" in headers and headers["x-content-type-options"] == "nosniff"   # one, not two
    assert headers["server"] == "nginx"   # server_tokens off: no version; gunicorn's own is gone
    status, headers, _ = fetch(front_door, "GET", "/id/FAQ-DRM-001/?x=1", port=front_door.http, tls=False)
    assert status == 308 and headers["location"] == f"https://127.0.0.1:{front_door.https}/id/FAQ-DRM-001/?x=1"


@pytest.mark.parametrize("method, path, body, headers, status, code", [
    ("POST", "/api/suggest", b"x" * 70_000, {"Content-Type": "text/plain"}, 413, "request_entity_too_large"),
    ("GET", "/api/search?q=" + "a" * 9000, None, {}, 414, "uri_too_long"),
    ("GET", "/healthz", None, {"X-Big": "b" * 9000}, 431, "request_header_fields_too_large"),
])
def test_errors_nginx_answers_itself_are_json_with_the_headers(front_door, method, path, body, headers, status, code):
    assert_json_error(*fetch(front_door, method, path, body, headers), status, code)


def test_a_malformed_request_is_json_400(front_door):
    with front_door.tls.wrap_socket(socket.create_connection(("127.0.0.1", front_door.https), timeout=15),
                                    server_hostname="127.0.0.1") as sock:
        sock.sendall(b"GARBAGE\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert_json_error(int(lines[0].split()[1]), headers, body, 400, "bad_request")


def test_links_written_through_either_instance_are_visible_through_both(front_door):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for i, base in enumerate(front_door.instances):
        port = int(base.rsplit(":", 1)[1])
        link = {"ticket_id": "ZD-FRONT-1", "article_id": "FAQ-DRM-001", "anchor": ["resolution", "cause"][i],
                "source": "manual"}
        status, _, _ = fetch(front_door, "POST", "/api/links", json.dumps(link).encode(), auth, port=port, tls=False)
        assert status in (200, 201)
    for port in [int(b.rsplit(":", 1)[1]) for b in front_door.instances] + [None]:
        status, _, body = fetch(front_door, "GET", "/api/links?ticket_id=ZD-FRONT-1", port=port, tls=port is None,
                                headers=auth if port else None)   # an instance itself: an integration's token
        assert status == 200 and sorted(link["anchor"] for link in json.loads(body)["links"]) == ["cause", "resolution"]


def _whoami(door, cookie: str | None = None, headers: dict | None = None, **where):
    headers = dict(headers or {}) | ({"Cookie": f"kbtest={cookie}"} if cookie else {})
    status, _, body = fetch(door, "GET", "/auth/whoami", headers=headers, **where)
    return status, json.loads(body)


def test_auth_proxy_the_identity_is_the_one_nginx_got_from_the_verifier(front_door):
    """nginx's auth_request asks the verifier; the instance sees the user and groups it named, never
    the ones a client wrote itself."""
    spoof = {"X-Forwarded-User": "mallory", "X-Forwarded-Groups": "kb-admins", "X-Auth-Request-User": "mallory"}
    status, me = _whoami(front_door, "ana:support+tier2", spoof)
    assert status == 200 and me["user"] == "ana" and me["kind"] == "proxy" and me["roles"] == ["reader", "agent"]
    assert front_door.verifier.seen[-1] == ("/oauth2/auth", "/auth/whoami", "ana:support+tier2")
    status, me = _whoami(front_door, ":kb-admins", spoof)    # the verifier named nobody: the client's copy is dropped too
    assert status == 200 and me["authenticated"] is False
    status, me = _whoami(front_door, "rui:", spoof)          # signed in, no groups: a reader, not mallory
    assert me["user"] == "rui" and me["roles"] == ["reader"]
    status, _, _ = fetch(front_door, "GET", "/api/reports", headers=spoof | {"Cookie": "kbtest=ana:support"})
    assert status == 403                                      # an agent, whatever the client's own headers say
    assert fetch(front_door, "GET", "/api/reports")[0] == 200  # the verifier's default user is an admin
    link = {"ticket_id": "ZD-FRONT-PROXY", "article_id": "FAQ-DRM-001", "anchor": "resolution", "source": "manual"}
    status, _, body = fetch(front_door, "POST", "/api/links", json.dumps(link).encode(),
                            {"Content-Type": "application/json", "Cookie": "kbtest=ana:support"} | spoof)
    assert status == 201 and json.loads(body)["agent"] == "ana"   # no CSRF token: the identity is nginx's


def test_auth_proxy_no_session_is_nginx_json_401(front_door):
    before = len(front_door.verifier.seen)
    for path in ("/api/search?q=6007&k=1", "/auth/whoami", "/"):
        response = fetch(front_door, "GET", path, headers={"Cookie": "kbtest=-", "X-Forwarded-User": "root"})
        assert_json_error(*response, 401, "unauthorized")
    assert len(front_door.verifier.seen) == before + 3
    # /oauth2/auth is nginx's subrequest only: a client asking for it directly is answered by the proxy pages' location
    assert fetch(front_door, "GET", "/oauth2/auth")[0] == 404


def test_auth_proxy_a_forged_header_straight_to_an_instance_is_refused(front_door):
    """Bypassing nginx: the peer (127.0.0.9) is not in trusted_proxies, so the header is a 401, not a login."""
    port = int(front_door.instances[1].rsplit(":", 1)[1])
    forged = {"X-Forwarded-User": "root", "X-Forwarded-Groups": "kb-admins"}
    for method, path, body in (("GET", "/api/reports", None), ("GET", "/api/search?q=6007&k=1", None),
                               ("POST", "/api/links", b"{}")):
        status, _, answer = fetch(front_door, method, path, body, forged | {"Content-Type": "application/json"},
                                  source="127.0.0.9", port=port, tls=False)
        assert status == 401 and json.loads(answer)["error"]["code"] == "unauthorized", (path, status, answer[:200])
    status, me = _whoami(front_door, None, forged, source="127.0.0.9", port=port, tls=False)
    assert status == 200 and me["authenticated"] is False
    status, me = _whoami(front_door)                                       # through nginx: the verifier's user
    assert me["user"] == DEFAULT_USER


def test_the_rate_limit_keys_on_the_client_behind_nginx(front_door):
    """nginx appends the peer to X-Forwarded-For; the instances trust only nginx (127.0.0.1), so each
    client address has its own bucket and a forged header entry changes nothing."""
    for source in ("127.0.0.2", "127.0.0.4"):   # the limiter's window is a fixed minute: once more if one ended
        window = int(time.time() // 60)
        statuses = [fetch(front_door, "GET", "/api/search?q=6007&k=1", source=source,
                          headers={"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(RATE_LIMIT + 1)]
        if int(time.time() // 60) == window:
            break
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT and statuses[-1] == 429
    assert fetch(front_door, "GET", "/api/search?q=6007&k=1", source="127.0.0.3")[0] == 200


def test_slow_clients_through_nginx_do_not_delay_other_requests(front_door):
    attack = {kind: 24 for kind in KINDS}
    with SlowClients(("127.0.0.1", front_door.https), attack, big_path=largest_file(front_door.site),
                     tls=front_door.tls):
        results = probe(front_door.base + "/healthz", count=5, timeout=10, tls=front_door.tls)
    assert all(isinstance(r, float) for r in results), results


@pytest.fixture(scope="module")
def unreachable_door(tmp_path_factory):
    """A second nginx from the same template whose one upstream is a closed port, and one request in
    progress per client: the 502 and 429 nginx sends itself."""
    data = tmp_path_factory.mktemp("unreachable")
    cert, key = tls_certificate(data)
    with running_nginx(lambda https, http_port, prefix: template_values(https, http_port, [free_port()], cert, key,
                                                                        connections_per_client=1)) as (https, _, _):
        yield SimpleNamespace(https=https, tls=client_tls(cert))


def test_without_auth_request_nginx_sends_no_identity_header(tmp_path):
    """AUTH_REQUEST off (auth none or oidc): a client's X-Forwarded-User / X-Forwarded-Groups never reach
    an instance (here an upstream that echoes the headers it got)."""
    cert, key = tls_certificate(tmp_path)
    with running_verifier("echo") as echo, running_nginx(
            lambda https, http_port, prefix: template_values(https, http_port, [echo.server_port], cert, key)) \
            as (https, _, _):
        door = SimpleNamespace(https=https, tls=client_tls(cert))
        status, _, body = fetch(door, "GET", "/x", headers={"X-Forwarded-User": "root", "X-Forwarded-Groups": "kb-admins",
                                                            "X-Other": "kept"})
    got = json.loads(body)
    assert status == 200 and got["x-other"] == "kept"
    assert "x-forwarded-user" not in got and "x-forwarded-groups" not in got, got


def test_no_instance_is_json_502_and_too_many_connections_json_429(unreachable_door):
    assert_json_error(*fetch(unreachable_door, "GET", "/api/search?q=x"), 502, "bad_gateway")
    with SlowClients(("127.0.0.1", unreachable_door.https), {"slow_body": 2}, tls=unreachable_door.tls):
        for _attempt in range(6):   # a slow request counts once nginx has read its head
            response = fetch(unreachable_door, "GET", "/healthz")
            if response[0] == 429:
                break
            time.sleep(0.5)
        assert_json_error(*response, 429, "rate_limited")


def _load(door, stop: threading.Event, results: list, worker: int):
    """GETs through nginx until ``stop``, one connection each, from rotating 127.0.1.x addresses (each
    under the rate limit)."""
    paths = ["/api/search?q=6007&k=1", "/api/articles/FAQ-DRM-001", "/healthz", "/id/FAQ-DRM-001/"]
    n = 0
    while not stop.is_set():
        n += 1
        source = f"127.0.{1 + worker}.{1 + n % 250}"
        try:
            results.append(fetch(door, "GET", paths[n % len(paths)], source=source)[0])
        except OSError as exc:
            results.append(repr(exc))


def test_killing_one_instance_under_load_fails_no_get(front_door):
    """Runs last in this file: the instance stays dead. nginx passes a GET that the dead instance
    refused or dropped to the other one (proxy_next_upstream)."""
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=_load, args=(front_door, stop, results, w)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2)
    before = len(results)
    os.killpg(front_door.processes[0].pid, signal.SIGKILL)
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    failures = [r for r in results if r != 200]
    assert before > 0 and len(results) > before + 10 and not failures, (len(results), failures[:5])
