"""The gunicorn worker class of ``kb serve``: gthread, minus two thread hand-offs per keep-alive request.

gunicorn's gthread worker returns a kept-alive connection to its main thread after every response.
The next request then wakes the main thread (epoll), which queues the connection for the pool,
whose thread wakes in turn, and the finished request wakes the main thread once more to re-register
the socket. On a small machine those wake-ups and the main loop's work between them cost ≈ 0.15 ms
per request for a client that sends its requests back to back on one connection (an integration,
a batch job, the load test). This worker lets the pool thread that answered wait briefly for the
connection's next request and serve it itself. It never waits while another connection is queued
for a thread, so a busy server schedules exactly like gthread; an idle connection goes back to the
main loop after ``LINGER_MS`` and is kept alive or closed by gthread as before.
"""
from __future__ import annotations

import select

from gunicorn.workers.gthread import ThreadWorker

LINGER_MS = 2   # longer than a back-to-back client needs to send its next request, short next to a search


class KeepAliveThreadWorker(ThreadWorker):
    def handle(self, conn):
        while True:
            keep = super().handle(conn)
            if keep is not True or self.tpool._work_queue.qsize():   # closing, or others wait for a thread
                return keep
            if not conn.parser.unreader.buf.getvalue() and not _readable(conn.sock, LINGER_MS):
                return keep   # (bytes already buffered: a pipelined request, serve it now)


def _readable(sock, timeout_ms: int) -> bool:
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(timeout_ms))
