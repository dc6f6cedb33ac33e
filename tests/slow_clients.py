"""Slow-client attacks on 127.0.0.1, bounded in connections and time (tests and scripts/slow_clients.py).

``SlowClients`` holds ``count`` connections of each kind open from one background thread and sends
one byte (or one tiny chunk) per ``tick`` seconds; a connection the server closes is opened again,
as a persistent attacker would. ``probe`` then times ordinary requests on fresh connections.
"""
from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.error
import urllib.request

KINDS = ("slow_head", "slow_body", "endless_chunked", "big_chunk", "idle", "never_read", "no_close")


def _opening(kind: str, big_path: str) -> tuple[bytes, bytes]:
    """(bytes sent at connect, bytes sent one tick at a time, repeated)."""
    if kind == "slow_head":
        return b"", b"GET /healthz HTTP/1.1\r\nHost: kb\r\nX-Slow: " + b"a" * 10000
    if kind == "slow_body":
        return (b"POST /api/suggest HTTP/1.1\r\nHost: kb\r\nContent-Type: text/plain\r\n"
                b"Content-Length: 60000\r\n\r\n"), b"a" * 60000
    if kind == "endless_chunked":
        return (b"POST /api/suggest HTTP/1.1\r\nHost: kb\r\nContent-Type: text/plain\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"), b"1\r\na\r\n" * 10000
    if kind == "big_chunk":   # one chunk declared at 1 MB, its bytes sent one a second
        return (b"POST /api/suggest HTTP/1.1\r\nHost: kb\r\nContent-Type: text/plain\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n100000\r\n"), b"a" * 10000
    if kind == "idle":
        return b"", b""
    if kind == "no_close":   # asks the server to close, then neither reads nor closes; a new one every 3 ticks
        return b"GET /healthz HTTP/1.1\r\nHost: kb\r\nConnection: close\r\n\r\n", b""
    if kind == "never_read":   # pipelined requests for a large file, responses never read
        return f"GET {big_path} HTTP/1.1\r\nHost: kb\r\n\r\n".encode() * 200, b""
    raise ValueError(kind)


class _Conn:
    def __init__(self, address, kind: str, big_path: str, tls: ssl.SSLContext | None):
        self.sock = socket.create_connection(address, timeout=5)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=address[0])
        first, self.trickle = _opening(kind, big_path)
        self.trickle_at, self.kind, self.tls, self.ticks = 0, kind, tls is not None, 0
        self.sock.sendall(first)
        self.sock.setblocking(False)

    def send(self, data: bytes) -> bool:
        try:
            if data:
                self.sock.send(data)   # partial sends are fine: this client is slow anyway
            return True
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return True
        except OSError:
            return False

    def tick(self) -> bool:
        """Send the next byte (or chunk); False when the server has closed the connection."""
        self.ticks += 1
        if self.kind == "no_close":
            return self.ticks % 3 != 0
        if not (self.tls and self.kind == "never_read"):   # a TLS record cannot be peeked at: never read those
            try:
                if (self.sock.recv(65536) if self.tls else self.sock.recv(65536, socket.MSG_PEEK)) == b"":
                    return False
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except OSError:
                return False
        if not self.trickle:
            return True
        piece = 6 if self.trickle.startswith(b"1\r\n") else 1
        data = self.trickle[self.trickle_at:self.trickle_at + piece]
        self.trickle_at += piece
        return self.send(data)

    def close(self):
        self.sock.close()


class SlowClients:
    """``with SlowClients(("127.0.0.1", port), {"slow_head": 12}):`` — the attack runs inside the block."""

    def __init__(self, address, counts: dict[str, int], big_path: str = "/", tick: float = 1.0,
                 tls: ssl.SSLContext | None = None):
        self.address, self.counts, self.big_path, self.tick, self.tls = address, counts, big_path, tick, tls
        self.conns: list[tuple[str, _Conn]] = []
        self.reopened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        for kind, count in self.counts.items():
            self.conns += [(kind, _Conn(self.address, kind, self.big_path, self.tls)) for _ in range(count)]
        self._thread.start()
        time.sleep(min(2.0, 2 * self.tick))   # every connection has reached the server
        return self

    def _run(self):
        while not self._stop.wait(self.tick):
            for i, (kind, conn) in enumerate(self.conns):
                try:
                    alive = conn.tick()
                except (OSError, ValueError):   # a TLS socket the server tore down, or a closed one
                    alive = False
                if not alive:
                    conn.close()
                    try:
                        self.conns[i] = (kind, _Conn(self.address, kind, self.big_path, self.tls))
                        self.reopened += 1
                    except (OSError, ValueError):
                        pass

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        for _kind, conn in self.conns:
            conn.close()


def probe(url: str, count: int = 5, timeout: float = 10.0, pause: float = 0.5,
          tls: ssl.SSLContext | None = None) -> list[float | str]:
    """``count`` GETs of ``url``, each on a new connection: the seconds each took, or why it failed."""
    results: list[float | str] = []
    for _ in range(count):
        start = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout, context=tls) as response:
                response.read()
                results.append(round(time.monotonic() - start, 3) if response.status == 200 else f"HTTP {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            results.append(f"{type(exc).__name__}: {exc}"[:120])
        time.sleep(pause)
    return results
