"""The production front door for tests: deploy/nginx/kb.conf rendered and run with Debian's nginx on
127.0.0.1, unprivileged-friendly (its own prefix, temp and pid under a temporary directory,
``daemon off``, errors to a log file), with a throwaway TLS certificate from ``openssl``, and a
stand-in for oauth2-proxy's ``/oauth2/auth`` that nginx's ``auth_request`` asks (auth = proxy)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = ROOT / "deploy" / "nginx"
START_TIMEOUT_S = 15


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        pytest.fail("front-door tests: no nginx; run scripts/setup --test, which apt-installs Debian's 'nginx'")
    return found


def tls_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (subjectAltName IP), valid two days."""
    cert, key = directory / "kb.crt", directory / "kb.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def client_tls(cert: Path) -> ssl.SSLContext:
    """A client context that trusts exactly the test certificate (verification stays on)."""
    return ssl.create_default_context(cafile=str(cert))


def render(prefix: Path, values: dict[str, str]) -> Path:
    """deploy/nginx/kb.conf with its {{PLACEHOLDERS}} filled, and its include, into ``prefix``."""
    text = (TEMPLATE_DIR / "kb.conf").read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, f"unrendered placeholder in kb.conf: {text[text.index('{{'):][:40]}"
    conf = prefix / "kb.conf"
    conf.write_text(text, encoding="utf-8")
    shutil.copy(TEMPLATE_DIR / "kb-error-headers.conf", prefix / "kb-error-headers.conf")
    return conf


def template_values(https_port: int, http_port: int, upstreams: list[int], cert: Path, key: Path,
                    connections_per_client: int = 200, verifier: int | None = None) -> dict[str, str]:
    """``verifier``: the port of a stand-in for oauth2-proxy's /oauth2/auth (auth = proxy); None: auth_request off."""
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in upstreams)
    return {"DAEMON": "off", "ACCESS_LOG": "off", "SERVER_NAME": "127.0.0.1",
            "HTTPS_LISTEN": f"127.0.0.1:{https_port}", "HTTPS_PORT": str(https_port),
            "HTTP_LISTEN": f"127.0.0.1:{http_port}", "UPSTREAM_SERVERS": servers,
            "TLS_CERTIFICATE": str(cert), "TLS_CERTIFICATE_KEY": str(key),
            "CONNECTIONS_PER_CLIENT": str(connections_per_client),
            "AUTH_REQUEST": "/oauth2/auth" if verifier else "off", "OAUTH2_PROXY": f"127.0.0.1:{verifier or 9}",
            # the tests' clients all come from 127.0.0.1: a rate that no test reaches
            "REQUESTS_PER_SECOND": "1000", "REQUEST_BURST": "1000"}


@contextlib.contextmanager
def running_nginx(values_for_ports):
    """nginx on free 127.0.0.1 ports until the block ends. ``values_for_ports(https, http, prefix)``
    returns the template values. Yields (https_port, http_port, prefix)."""
    from tests.conftest import free_port

    # mkdtemp, made traversable: nginx started by root runs its workers as 'nobody'
    prefix = Path(tempfile.mkdtemp(prefix="kb-nginx-"))
    prefix.chmod(0o755)
    (prefix / "temp").mkdir()
    https_port, http_port = free_port(), free_port()
    conf = render(prefix, values_for_ports(https_port, http_port, prefix))
    log_path = prefix / "error.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([nginx_binary(), "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(https_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("nginx did not start: " + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
        yield https_port, http_port, prefix
        assert proc.poll() is None, "nginx exited during the tests: " + log_path.read_text(errors="replace")[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)   # fast shutdown
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(prefix, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


DEFAULT_USER, DEFAULT_GROUPS = "front-door", "kb-admins"


class _Verifier(BaseHTTPRequestHandler):
    """oauth2-proxy's /oauth2/auth as nginx's auth_request sees it: 202 with X-Auth-Request-User and
    X-Auth-Request-Groups (comma-separated), or 401. Its "session cookie" is ``kbtest=USER:GROUP+GROUP``;
    ``kbtest=-`` is no session; no cookie at all signs in DEFAULT_USER (so other tests need none)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        cookie = SimpleCookie(self.headers.get("Cookie", ""))
        value = cookie["kbtest"].value if "kbtest" in cookie else f"{DEFAULT_USER}:{DEFAULT_GROUPS}"
        self.server.seen.append((self.path, self.headers.get("X-Forwarded-Uri", ""), value))
        if value == "-":
            self.send_response(401)
        else:
            user, _, groups = value.partition(":")
            self.send_response(202)
            self.send_header("X-Auth-Request-User", user)
            self.send_header("X-Auth-Request-Groups", groups.replace("+", ","))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):   # quiet
        pass


class _Echo(BaseHTTPRequestHandler):
    """An upstream that answers with the request headers it received, as JSON."""

    def do_GET(self):  # noqa: N802 - http.server's name
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):   # quiet
        pass


@contextlib.contextmanager
def running_verifier(handler=None):
    """The stand-in for oauth2-proxy on a free 127.0.0.1 port (a thread); yields the server (``.seen``
    lists (path, X-Forwarded-Uri, cookie value) of each verdict asked). ``handler="echo"``: an
    upstream that echoes the headers it got instead."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo if handler == "echo" else _Verifier)
    server.daemon_threads, server.seen = True, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
