"""Purges recorded data older than ``retention_days`` (records.py ``RETAINED``), in the background,
and the gaps report's per-day caller hashes once their day is over (``gaps/records.py``; also when
``retention_days`` is 0, which keeps everything else for ever).

Each serving worker purges once when it starts and then every ``INTERVAL_S``; several workers or
replicas purging at once only find less to delete (each batch is its own short transaction). A
failed purge (database busy or unreachable) is logged and tried again at the next interval.
"""
from __future__ import annotations

import logging
import threading

from search.service.links import StoreBusy, StoreError

log = logging.getLogger(__name__)
INTERVAL_S = 3600.0


class Retention:
    def __init__(self, store, retention_days: int, interval: float = INTERVAL_S):
        self.store, self.days, self.interval = store, retention_days, interval
        self._stop = threading.Event()

    def run_once(self) -> dict[str, int]:
        try:
            self.store.purge_caller_sets()   # the per-day caller hashes live a day, whatever the retention
            deleted = self.store.purge_expired(self.days)
        except (StoreBusy, StoreError) as exc:
            log.warning("retention purge failed, retrying in %.0f s: %s", self.interval, exc)
            return {}
        if any(deleted.values()):
            log.info("retention purge (older than %d days): %s", self.days,
                     ", ".join(f"{table} {count}" for table, count in deleted.items()))
        return deleted

    def start(self) -> None:
        # runs even with retention_days 0 (keep forever): the gaps report's caller hashes expire daily
        threading.Thread(target=self._loop, name="retention-purge", daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the purger must survive anything
                log.exception("retention purge failed")
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
