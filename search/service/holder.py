"""Holds the served ``Searcher`` and swaps it when ``kb index`` publishes a new build.

A background thread polls the ``current`` pointer every ``reload_interval`` seconds. A new build is
verified and loaded *beside* the old one; only then is the reference replaced (one assignment, so
requests already running keep the searcher they started with and never fail). A build that fails
verification is remembered and not retried until the pointer changes again.
"""
from __future__ import annotations

import gc
import logging
import re
import threading
from pathlib import Path

from search import store
from search.encoder import Encoder, make_encoder, resolve_model
from search.errors import SearchError
from search.searcher import Searcher
from search.build import LoadedBuild

log = logging.getLogger(__name__)
DIRECTORIES = re.compile(r"(?<![\w.~-])/(?:[^\s/'\"]+/)+")   # an absolute path's directories


class IndexHolder:
    def __init__(self, settings, encoder: Encoder | None = None):
        self.settings = settings
        self.root = settings.index_path
        self._encoder = encoder
        self._fingerprint: str | None = None
        self.searcher: Searcher | None = None
        self.error: str | None = None       # why nothing (new) could be loaded, for /readyz and logs
        self._rejected: str | None = None   # build id that failed verification
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def public_error(self) -> str | None:
        """``error`` for anonymous clients (/readyz): file names kept, the server's directories left out."""
        return DIRECTORIES.sub("", self.error) if self.error else None

    def _encoder_and_model(self) -> tuple[Encoder, str]:
        if self._fingerprint is None:
            self._fingerprint = resolve_model(self.settings.model).fingerprint
        if self._encoder is None:
            self._encoder = make_encoder(self.settings.model, self.settings.encoder_backend,
                                         Path(self.settings.data_dir), "query")
        return self._encoder, self._fingerprint

    def refresh(self) -> bool:
        """Load the published build if it differs from the served one. Returns True on a swap."""
        with self._lock:
            served = self.searcher.build.build_id if self.searcher else None
            try:
                build_id = store.current_build_id(self.root)
            except SearchError as exc:   # a corrupt pointer: keep serving what is loaded, say why
                if self.error != str(exc):
                    log.error("%s; still serving %s", exc, served or "nothing")
                self.error = str(exc)
                return False
            if build_id is None:
                self.error = self.error or f"{self.root}: no published index build; run 'kb index'"
                return False
            if build_id == served:   # (again: `current` pointed back at the served build clears the warning)
                self.error = self._rejected = None
                return False
            if build_id == self._rejected:
                return False
            try:
                encoder, fingerprint = self._encoder_and_model()
                build = LoadedBuild.open(self.root / "builds" / build_id, fingerprint, encoder.dim)
            except SearchError as exc:
                self._rejected, self.error = build_id, str(exc)
                log.error("index build %s rejected, still serving %s: %s", build_id, served or "nothing", exc)
                return False
            self.searcher = Searcher(build, encoder)
            self.error = None
            if gc.get_freeze_count():   # the process keeps its long-lived data out of collections (kb serve):
                gc.collect()            # (≈ 25 ms, once per swap) so no garbage of the moment is frozen for good,
                gc.freeze()             # then the new build joins the frozen objects
            log.info("serving index build %s (%d chunks)", build_id, len(build.chunks))
            return True

    def start(self) -> None:
        """Start polling (idempotent; call after fork, in the worker)."""
        if self._thread is None and self.settings.reload_interval > 0:
            self._thread = threading.Thread(target=self._poll, name="index-reload", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.reload_interval):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the poller must survive anything
                log.exception("index reload check failed")

    def stop(self) -> None:
        self._stop.set()
