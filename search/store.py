"""Index builds on disk (contract 2): immutable directories, a manifest, atomic publication.

Layout under the index root::

    builds/<build id>/manifest.json + files   one immutable build each
    current                                    text file naming the served build (os.replace'd)
    .tmp-<build id>/                           a build in progress (removed by the next run)
    .lock                                      flock held by the running builder

Every file of a build is listed in the manifest with its SHA-256 and size; ``verify`` checks
them all, plus the schema, model and dimension, before anything is loaded. No pickle anywhere.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

from search.errors import IndexIntegrityError, NoIndexError, SearchError
from search.files import FILE_MODE, private_dir

MANIFEST_SCHEMA = 1
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def new_build_id() -> str:
    """Sortable by creation time (microseconds), unique (random suffix)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def builder_lock(root: Path):
    """One builder at a time per index root; a killed builder's lock is released by the kernel."""
    private_dir(root)
    with os.fdopen(os.open(root / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE), "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SearchError(f"{root}: another 'kb index' is running (lock {root / '.lock'})") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def clean_leftovers(root: Path) -> list[str]:
    """Remove temporary directories of builds that never finished (call with the lock held)."""
    removed = []
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp.name)
    for pointer in root.glob(".current-*"):  # a pointer written but never renamed into place
        pointer.unlink(missing_ok=True)
        removed.append(pointer.name)
    return removed


def write_manifest(directory: Path, manifest: dict) -> None:
    """Also makes every file of the build 0600 (its directory is 0700: ``private_dir``)."""
    files = sorted(p.name for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    for name in files:
        os.chmod(directory / name, FILE_MODE)
    manifest = dict(manifest, schema_version=MANIFEST_SCHEMA,
                    files={name: {"sha256": sha256_file(directory / name), "bytes": (directory / name).stat().st_size}
                           for name in files})
    _write_synced(directory / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def _write_synced(path: Path, text: str) -> None:
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexIntegrityError(f"{path}: manifest missing; rebuild with 'kb index'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexIntegrityError(f"{path}: manifest unreadable ({exc}); rebuild with 'kb index'") from None
    if not isinstance(manifest, dict) or manifest.get("schema_version") != MANIFEST_SCHEMA:
        raise IndexIntegrityError(f"{path}: manifest schema_version is not {MANIFEST_SCHEMA}; rebuild with 'kb index'")
    return manifest


def verify(directory: Path, expect_model: str | None = None, expect_dim: int | None = None) -> dict:
    """Check the manifest, every file's size and SHA-256, the model and the dimension."""
    manifest = read_manifest(directory)
    if expect_model is not None and manifest["model"]["fingerprint"] != expect_model:
        raise IndexIntegrityError(
            f"{directory / MANIFEST}: built with model {manifest['model']['name']!r} "
            f"(weights {manifest['model']['fingerprint'][:12]}), but the configured model's weights are "
            f"{expect_model[:12]}; rebuild with 'kb index' or set 'model' to the one the index was built with")
    if expect_dim is not None and manifest["dim"] != expect_dim:
        raise IndexIntegrityError(f"{directory / MANIFEST}: dimension {manifest['dim']} does not match the "
                                  f"encoder's {expect_dim}; rebuild with 'kb index'")
    for name, meta in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise IndexIntegrityError(f"{path}: listed in the manifest but missing; rebuild with 'kb index'")
        if path.stat().st_size != meta["bytes"]:
            raise IndexIntegrityError(f"{path}: {path.stat().st_size} bytes, the manifest says {meta['bytes']} "
                                      "(truncated or replaced); rebuild with 'kb index'")
        if sha256_file(path) != meta["sha256"]:
            raise IndexIntegrityError(f"{path}: checksum mismatch (corrupted); rebuild with 'kb index'")
    return manifest


def publish(root: Path, tmp_dir: Path, build_id: str) -> Path:
    """Move a verified temporary build into ``builds/`` and point ``current`` at it, atomically."""
    final = root / "builds" / build_id
    private_dir(final.parent)
    os.replace(tmp_dir, final)
    pointer_tmp = root / f".current-{build_id}"
    _write_synced(pointer_tmp, build_id + "\n")
    os.replace(pointer_tmp, root / "current")
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


BUILD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def current_build_id(root: Path) -> str | None:
    """The build id the ``current`` pointer names; None when nothing is published. A pointer that
    is not a build id (bytes that are not UTF-8, a path, garbage) is an IndexIntegrityError naming
    it: never followed outside ``builds/``. The next ``kb index`` replaces it."""
    pointer = root / "current"
    try:
        value = pointer.read_bytes().decode("utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexIntegrityError(f"{pointer}: unreadable ({exc}); run 'kb index' to publish a build") from None
    if value and not BUILD_ID_RE.fullmatch(value):
        raise IndexIntegrityError(f"{pointer}: {value[:80]!r} is not a build id; run 'kb index' to publish a build")
    return value or None


def current_dir(root: Path) -> Path:
    build_id = current_build_id(root)
    if build_id is None:
        raise NoIndexError(f"{root}: no published index build; run 'kb index'")
    return root / "builds" / build_id


def collect_garbage(root: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` builds; the current build is always kept."""
    current = current_build_id(root)
    builds = sorted((p for p in (root / "builds").glob("*") if p.is_dir()), key=lambda p: p.name, reverse=True)
    removed = []
    for path in builds[max(keep, 1):]:
        if path.name != current:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
