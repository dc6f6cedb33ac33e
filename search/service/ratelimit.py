"""Per-client fixed-window rate limit shared by every worker process of one server.

The counters live in a small memory-mapped file (under the data directory) guarded by ``flock``,
so N gunicorn workers enforce one limit together instead of N× the limit. Each client key hashes
to one of ``SLOTS`` slots holding (key hash, window start, count); a slot taken by another client in
the same window is shared (a collision only makes the limit stricter for both, never looser).
"""
from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from pathlib import Path

from search.files import private_dir, tighten_file

SLOTS = 8192
SLOT = struct.Struct("<QqI4x")   # key hash, window start (s), count
WINDOW_S = 60


class RateLimiter:
    def __init__(self, path: Path, per_minute: int):
        self.per_minute = per_minute
        self.path = Path(path)
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        # flock excludes other processes only: threads of one worker share the descriptor
        self._threads = threading.Lock()

    def _open(self) -> None:
        if self._map is not None:
            return
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        tighten_file(self.path)   # one created by an older version with the umask's mode
        size = SLOTS * SLOT.size
        if os.fstat(fd).st_size != size:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.fstat(fd).st_size != size:
                    os.ftruncate(fd, size)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        self._fd, self._map = fd, mmap.mmap(fd, size)

    def hit(self, client: str, now: float | None = None, per_minute: int | None = None) -> tuple[bool, int]:
        """Count one request against ``per_minute`` (default: the limiter's). Returns (allowed, seconds
        until the window resets). Keys of different budgets must differ (a prefix)."""
        per_minute = self.per_minute if per_minute is None else per_minute
        if per_minute <= 0:
            return True, 0
        with self._threads:
            self._open()
        now = time.time() if now is None else now
        window = int(now // WINDOW_S) * WINDOW_S
        digest = int.from_bytes(hashlib.blake2b(client.encode(), digest_size=8).digest(), "little")
        offset = (digest % SLOTS) * SLOT.size
        with self._threads:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                _key, start, count = SLOT.unpack_from(self._map, offset)
                count = count + 1 if start == window else 1
                SLOT.pack_into(self._map, offset, digest, window, count)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        retry_after = max(1, int(window + WINDOW_S - now))
        return count <= per_minute, retry_after
