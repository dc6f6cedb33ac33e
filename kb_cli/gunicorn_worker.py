"""The gunicorn worker class of ``kb serve``: gthread that gives a thread only to a complete request.

Slow clients. gunicorn's gthread hands a connection to a pool thread as soon as its first byte
arrives, and the thread then reads the rest of the head and the body with a blocking socket: twelve
clients sending one header byte per second (or a body slowly, or an endless chunked body) held all
2 × 4 threads of the default server, and it answered nobody (docs/reliability.md). This worker
reads each request's head and body in gthread's main loop, non-blocking, and queues the connection
for a thread only when the whole request is buffered (``kb_cli.request_reader.request_state``), so
a thread never waits for a client to send. A request must arrive within ``READ_TIMEOUT_S`` of its
first byte (of the accept, for a new connection), else 408 and the connection is closed; an idle
kept-alive connection is closed after gunicorn's ``keepalive`` seconds as before. A thread waits at
most ``IO_TIMEOUT_S`` on the socket (writing a response to a client that does not read, reading a
body too large to buffer); the connection is then closed.

Keep-alive. The pool thread that answered a request waits ``LINGER_MS`` for the connection's next
request and serves it itself when it arrives whole (a client sending requests back to back saves
two thread hand-offs, ≈ 0.15 ms per request); it never waits while another connection is queued
for a thread.

Errors gunicorn answers itself (malformed request line or headers: 400, 414, 431, 501) use the
API's one JSON error shape with the security headers, and no ``Server`` header is sent.
"""
from __future__ import annotations

import errno
import fcntl
import functools
import select
import selectors
import socket
import termios
import time
from collections import deque
from functools import partial

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from kb_cli.request_reader import MAX_BUFFER, MAX_HEAD, MORE, READY, TOO_LARGE, error_response, expects_continue, request_state

LINGER_MS = 2            # longer than a back-to-back client needs to send its next request, short next to a search
READ_TIMEOUT_S = 10.0    # a request's head and body must arrive within this
IO_TIMEOUT_S = 10.0      # longest a thread waits on a socket (total for one response's write)
DRAIN_S = 0.2            # an unread body is discarded from the buffer within this, else the connection closes
WORKER_CONNECTIONS = 400  # connections one worker holds (reading, in threads, kept alive); then it stops accepting
CLOSE_LINGER_S = 2.0     # after "Connection: close", how long the main loop drains a client that does not close
UNSENT_LIMIT = 256 * 1024  # a pipelined request waits (in the main loop) while more of the last response is unsent
CLOSED = "closed"


@functools.cache
def _security_headers() -> dict[str, str]:
    from search.service.site import SECURITY_HEADERS   # imported in the worker, after the fork

    return dict(SECURITY_HEADERS)


def _write_json_error(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error``, which wrote an HTML page, in the API's JSON error shape."""
    message = mesg or "internal error; the server log has the details"
    util.write_nonblock(sock, error_response(status_int, reason, message, _security_headers()))


class _ResponseWithoutServer(wsgi.Response):
    def default_headers(self):
        return [line for line in super().default_headers() if not line.startswith("Server:")]


# gunicorn looks both up at call time; patched once when this worker class is loaded
util.write_error = _write_json_error
wsgi.Response = _ResponseWithoutServer


class KeepAliveThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading = deque()   # connections whose request is being read, oldest deadline first
        self.draining = []       # whole requests waiting for the client to read earlier responses
        self.closing = deque()   # half-closed connections drained until the client closes, oldest first

    # ---- main loop: read each request without a thread -------------------------------------------
    def enqueue_req(self, conn):
        """A new connection, a kept-alive one that became readable, or one with bytes left over:
        read its request in the main loop; a pool thread gets it once the request is whole."""
        conn.kb_buf = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.kb_memo = {}   # request_state's notes on this request (kb_buf only grows until it is whole)
        conn.kb_deadline, conn.kb_polled, conn.kb_continued = time.monotonic() + READ_TIMEOUT_S, False, False
        conn.sock.setblocking(False)
        self._advance(conn)

    def _advance(self, conn, _fileobj=None):
        state = _receive(conn.sock, conn.kb_buf, conn.kb_memo)
        if state == MORE:
            if not conn.kb_continued and "start" in conn.kb_memo and expects_continue(conn.kb_buf):
                conn.kb_continued = True   # the client waits for this before sending its body
                _send_quietly(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
            if not conn.kb_polled:
                conn.kb_polled = True
                self.reading.append(conn)
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._advance, conn))
            return
        if state == READY and _unsent(conn.sock) > UNSENT_LIMIT:
            self._await_drain(conn)   # the client is not reading what it asked for: no thread until it does
            return
        self._stop_reading(conn)
        if state == READY:
            conn.kb_pending, conn.kb_buf = bytes(conn.kb_buf), None
            super().enqueue_req(conn)
        elif state == TOO_LARGE:
            self._refuse(conn, 431, "Request Header Fields Too Large",
                         f"the request head is larger than {MAX_HEAD // 1024} KB")
        else:
            self._drop(conn)

    def _await_drain(self, conn):
        """Park a connection whose client has not read its last response (no poller: a socket with
        free send space is "writable" long before its queue drains); murder_pending re-checks it."""
        self._stop_reading(conn)
        self.draining.append(conn)

    def _stop_reading(self, conn):
        if conn.kb_polled:
            conn.kb_polled = False
            self.poller.unregister(conn.sock)
            self.reading.remove(conn)

    def _drop(self, conn):
        self.nr_conns -= 1
        conn.close()

    def _refuse(self, conn, status, reason, message):
        _send_quietly(conn.sock, error_response(status, reason, message, _security_headers()))
        self._drop(conn)

    def finish_request(self, conn, fs):
        """gthread closed a finished connection with util.close_graceful, which waits up to 2 s for the
        client to close, on the main loop: eight clients that never close stalled the worker for
        8 s. Here the half-closed socket is drained from the poller instead."""
        if not fs.cancelled() and fs.exception() is None and fs.result() is False:
            self._linger_close(conn)
        else:
            super().finish_request(conn, fs)

    def _linger_close(self, conn):
        try:
            conn.sock.shutdown(socket.SHUT_WR)   # FIN after the response: no RST truncating it
            conn.sock.setblocking(False)
        except OSError:
            self._drop(conn)
            return
        conn.kb_deadline, conn.kb_drained = time.monotonic() + CLOSE_LINGER_S, 0
        self.closing.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain_closing, conn))

    def _drain_closing(self, conn, _fileobj=None):
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        conn.kb_drained += len(data)
        if not data or conn.kb_drained > 65536:
            self._end_closing(conn)

    def _end_closing(self, conn):
        self.poller.unregister(conn.sock)
        self.closing.remove(conn)
        self._drop(conn)

    def murder_pending(self):
        """Also close connections whose request did not arrive in time (408 if it had begun), and
        serve or close (at their deadline) those waiting for their client to read (once a second)."""
        super().murder_pending()
        now = time.monotonic()
        while self.closing and self.closing[0].kb_deadline <= now:
            self._end_closing(self.closing[0])
        parked, self.draining = self.draining, []
        for conn in parked:
            if _unsent(conn.sock) <= UNSENT_LIMIT:
                self._advance(conn)
            elif conn.kb_deadline <= now:
                self._drop(conn)
            else:
                self.draining.append(conn)
        while self.reading and self.reading[0].kb_deadline <= now:
            conn = self.reading[0]
            self._stop_reading(conn)
            if conn.kb_buf and request_state(conn.kb_buf, conn.kb_memo) != READY:
                self._refuse(conn, 408, "Request Timeout", f"the request did not arrive within {READ_TIMEOUT_S:g} s")
            else:
                self._drop(conn)

    # ---- pool thread: serve whole requests -------------------------------------------------------
    def handle(self, conn):
        while True:
            keep = self._serve(conn)
            if keep is not True or self.tpool._work_queue.qsize() or _unsent(conn.sock) > UNSENT_LIMIT:
                return keep   # closing, others wait for a thread, or the client is not reading its responses
            state = self._read_ahead(conn)
            if state != READY:   # partial bytes stay buffered: gthread hands them back to enqueue_req
                return False if state == CLOSED else keep

    def _read_ahead(self, conn):
        """The connection's next request, if it is buffered or arrives whole within LINGER_MS."""
        buf = bytearray(conn.parser.unreader.take_buffered())
        state = request_state(buf) if buf else MORE
        if state == MORE and _readable(conn.sock, LINGER_MS):
            conn.sock.setblocking(False)
            try:
                state = _receive(conn.sock, buf)
            finally:
                conn.sock.settimeout(IO_TIMEOUT_S)
        conn.parser.unreader.unread(bytes(buf))
        return state

    def _serve(self, conn):
        """One request, already buffered; True to keep the connection (gthread's handle, HTTP/1 only)."""
        req = None
        try:
            conn.init()
            conn.sock.settimeout(IO_TIMEOUT_S)
            if getattr(conn, "kb_pending", None) is not None:
                conn.parser.unreader.unread(conn.kb_pending)
                conn.kb_pending = None
            req = next(conn.parser)
            if not req:
                return False
            if not self.handle_request(req, conn):
                return False
            # a body the app left unread is discarded from the buffer; one that was too large to buffer closes
            return bool(conn.parser.finish_body(deadline=time.monotonic() + DRAIN_S))
        except TimeoutError:
            self.log.debug("Closing a connection stalled for %g s", IO_TIMEOUT_S)
        except (http.errors.NoMoreData, StopIteration) as exc:
            self.log.debug("Closing connection. %s", exc)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
        except Exception as exc:   # noqa: BLE001 - a malformed request: gunicorn answers it (JSON, above)
            self.handle_error(req, conn.sock, conn.client, exc)
        return False


def _receive(sock, buf: bytearray, memo: dict | None = None) -> str:
    """Append what the non-blocking ``sock`` has to ``buf``; the request's state, or CLOSED when the
    client closed (or failed) before sending a whole request."""
    eof = False
    while len(buf) < MAX_BUFFER:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            return CLOSED
        if not data:
            eof = True
            break
        buf += data
    state = request_state(buf, memo) if buf else MORE
    return CLOSED if eof and state == MORE else state


def _send_quietly(sock, data: bytes) -> None:
    """Best effort on a non-blocking socket: a short error or interim response fits the socket buffer."""
    try:
        sock.send(data)
    except OSError:
        pass


def _unsent(sock) -> int:
    """Bytes of earlier responses still in the socket's send queue (Linux SIOCOUTQ)."""
    try:
        return int.from_bytes(fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"), "little", signed=True)
    except OSError:
        return 0


def _readable(sock, timeout_ms: int) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout_ms))
