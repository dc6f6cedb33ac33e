"""The shared rate limiter counts every request exactly once, across threads and processes."""
from __future__ import annotations

import multiprocessing
import threading

from search.service.ratelimit import RateLimiter


def _hammer(path: str, n: int) -> None:
    limiter = RateLimiter(path, per_minute=10**6)
    for _ in range(n):
        limiter.hit("client-a", now=1_000_000.0)


def test_no_lost_increments_across_threads_and_processes(tmp_path):
    path = str(tmp_path / "rl.bin")
    shared = RateLimiter(path, per_minute=10**6)
    threads = [threading.Thread(target=lambda: [shared.hit("client-a", now=1_000_000.0) for _ in range(300)])
               for _ in range(4)]
    procs = [multiprocessing.get_context("spawn").Process(target=_hammer, args=(path, 300)) for _ in range(2)]
    for worker in (*threads, *procs):
        worker.start()
    for t in threads:
        t.join(timeout=60)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    limiter = RateLimiter(path, per_minute=6 * 300 + 1)
    assert limiter.hit("client-a", now=1_000_000.0) == (True, 20)        # the 1801st request still fits
    assert limiter.hit("client-a", now=1_000_000.0)[0] is False           # the 1802nd does not


def test_window_resets(tmp_path):
    limiter = RateLimiter(tmp_path / "rl.bin", per_minute=2)
    assert [limiter.hit("c", now=60.0)[0] for _ in range(3)] == [True, True, False]
    assert limiter.hit("c", now=120.0)[0] is True
