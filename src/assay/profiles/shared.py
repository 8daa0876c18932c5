"""Row-hash arrays in shared memory, written in place by the pass's worker processes.

Without them a worker returns each task's partial row hashes in its pickled result — 8 bytes
× rows × hash groups, about 6 MB per 263k-row task — and the audit process unpickles them and
copies them into the whole-dataset arrays: four copies of every hash and a page fault per
4 KB of each fresh buffer. With them, the audit creates one anonymous shared file
(``memfd_create``) holding every dataset's arrays, and a task writes its hashes straight into
its rows: a worker opens the file through ``/proc/<audit pid>/fd/<fd>`` (Linux; same user)
and maps it once per pass.

The file has no name in any file system: it needs no room in ``/dev/shm`` (64 MB in a
default Docker container) and nothing is left behind if the audit is killed. Where it cannot
be made or opened (not Linux, ``/proc`` hidden), tasks return their hashes as before.
"""

from __future__ import annotations

import mmap
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_MAPPED: dict[str, np.ndarray] = {}
"""This process's mappings, by the shared file's token."""


@dataclass(frozen=True)
class HashTarget:
    """Where a task writes one hash group's rows: ``rows`` uint64 from element ``offset``."""

    path: str
    token: str
    offset: int
    rows: int

    def view(self) -> np.ndarray | None:
        """The rows to write, mapped in this process; ``None`` if the file cannot be opened
        here (the task then returns its hashes instead)."""
        whole = _MAPPED.get(self.token)
        if whole is None:
            try:
                with Path(self.path).open("r+b") as fh:
                    mapped = mmap.mmap(fh.fileno(), 0)
            except (OSError, ValueError):
                return None
            whole = _MAPPED[self.token] = np.frombuffer(mapped, np.uint64)
        return whole[self.offset : self.offset + self.rows]


class SharedHashes:
    """Every dataset's row-hash arrays in one shared file (see the module doc)."""

    def __init__(self, sizes: Mapping[tuple[str, str], int]) -> None:
        self.token = uuid.uuid4().hex
        total = sum(sizes.values())
        self._fd = os.memfd_create(f"assay-row-hashes-{self.token[:8]}", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self._fd, max(total, 1) * 8)
            mapped = mmap.mmap(self._fd, max(total, 1) * 8)
        except OSError:
            os.close(self._fd)
            raise
        self.path = f"/proc/{os.getpid()}/fd/{self._fd}"
        whole = np.frombuffer(mapped, np.uint64)
        _MAPPED[self.token] = whole
        self._offsets: dict[tuple[str, str], int] = {}
        self.arrays: dict[tuple[str, str], np.ndarray] = {}
        start = 0
        for key, rows in sizes.items():
            self._offsets[key] = start
            self.arrays[key] = whole[start : start + rows]
            start += rows

    @classmethod
    def create(cls, sizes: Mapping[tuple[str, str], int]) -> SharedHashes | None:
        """The shared arrays, or ``None`` where this system cannot make them."""
        if not hasattr(os, "memfd_create") or not Path(f"/proc/{os.getpid()}/fd").is_dir():
            return None
        try:
            return cls(sizes)
        except OSError:
            return None

    def target(self, key: tuple[str, str], row_offset: int, rows: int) -> HashTarget:
        return HashTarget(self.path, self.token, self._offsets[key] + row_offset, rows)

    def close(self) -> None:
        """Close the file (the arrays stay mapped while they are used) and forget it here."""
        _MAPPED.pop(self.token, None)
        os.close(self._fd)


def forget_mappings() -> None:
    """Drop this process's mappings of earlier passes (a worker, when a pass ends)."""
    _MAPPED.clear()
