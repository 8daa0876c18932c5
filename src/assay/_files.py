"""Crash-safe file writes: temporary file, fsync, rename, fsync the folder.

A reader never sees a half-written file: it sees the old file or the new one. Leftover
temporary files (named ``.tmp-…``) from a process killed mid-write are harmless; verification
lists them as notes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

TEMP_PREFIX = ".tmp-"
"""Name prefix of temporary files; anything with it is never part of the repository."""

_CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in folder ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either no file or the whole file.

    With ``overwrite=False`` an existing ``path`` is never replaced: :class:`FileExistsError`
    is raised instead, even if another process creates it at the same moment.
    """
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if overwrite:
            tmp.replace(path)
        else:
            _link_new(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(folder)


def _link_new(tmp: Path, path: Path) -> None:
    """Move ``tmp`` to ``path`` only if ``path`` does not exist."""
    try:
        path.hardlink_to(tmp)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links
        if path.exists():
            raise FileExistsError(f"{path} exists") from None
        tmp.replace(path)
        return
    tmp.unlink()


def make_dir(path: Path) -> None:
    """Create folder ``path`` (one level) durably; an existing folder is fine."""
    try:
        path.mkdir()
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    fsync_dir(path.parent)


def probe_writable(folder: Path) -> None:
    """Raise :class:`OSError` unless a file can be created and removed in ``folder``."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX + "probe-", dir=folder)
    os.close(fd)
    Path(name).unlink()


def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists (as anything, not only a folder)."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def hash_file(path: Path) -> str:
    """The sha256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
