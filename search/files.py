"""Private files and directories for what the service stores (links database, index builds, counters).

Data files are 0600 and their directories 0700, whatever the process umask: the links database holds
ticket ids, and nobody else on the machine needs to read any of it. ``private_dir`` and
``private_file`` create with those modes and tighten an existing path that this user owns (a path
created by another user, such as a shared parent, is left alone). A shared scratch directory —
world-writable or sticky, such as /tmp — is never changed, even when it is ours (as root, every path
is): a database file placed directly in /tmp must not lock every other user out of /tmp.
"""
from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        info = path.lstat()
        shared = stat.S_ISDIR(info.st_mode) and info.st_mode & (stat.S_ISVTX | stat.S_IWOTH)
        if info.st_uid == os.geteuid() and (info.st_mode & 0o777) != mode and not path.is_symlink() and not shared:
            os.chmod(path, mode)


def private_dir(path: Path) -> Path:
    """``mkdir -p`` whose new directories are 0700; an existing ``path`` of ours is made 0700."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        _tighten(directory, DIR_MODE)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing, and make it 0600 (its content is left untouched).

    An existing file is never opened here: closing any descriptor of a SQLite database drops every
    POSIX lock this process holds on it (other threads' connections included)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    _tighten(path, FILE_MODE)
    return path


def tighten_file(path: Path) -> None:
    """Make an existing file of ours 0600 (a missing one is no error)."""
    _tighten(Path(path), FILE_MODE)
