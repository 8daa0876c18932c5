"""The on-disk parts of a repository: folder set-up, the lock, objects, ledger and index upkeep.

:class:`Store` holds everything that touches files, so :class:`~assay.evidence.Repository`
reads as the public story (store a run, resolve it, approve it). Every mutation runs under
``lock``; the order of writes is objects, then the ledger entry (the commit point), then the
index.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from assay._files import (
    TEMP_PREFIX,
    atomic_write,
    fsync_dir,
    make_dir,
    nearest_existing,
    probe_writable,
)
from assay.errors import REPO_NEWER, REPO_NOT_WRITABLE, RepositoryError, VerificationError
from assay.evidence import _index
from assay.evidence import _messages as msg
from assay.evidence._ledger import (
    HEX64,
    Kind,
    LedgerEntry,
    entry_name,
    ledger_seqs,
    object_name,
    short,
)
from assay.evidence.attachment import Attachment
from assay.evidence.signing import Approval
from assay.run import Run, canonical_json, sha256_hex

FORMAT_NAME = "assay-repository"
FORMAT_VERSION = 2
"""The repository layout this Assay writes. Bump it, and add a migration, on any change.

1. objects, ledger entries of kind ``run`` and ``approval``, the index.
2. adds ledger entries of kind ``attachment`` (documents attached to a run).
"""


def _add_attachments(root: Path) -> None:
    """Version 1 to 2: nothing moves on disk. A version-1 repository is already a valid
    version-2 one; raising the version makes an Assay that knows only version 1 refuse the
    repository (it would misread attachment entries) instead of failing on the first one."""


MIGRATIONS: dict[int, Callable[[Path], None]] = {1: _add_attachments}
"""Layout upgrades by the version they upgrade from: ``MIGRATIONS[1](root)`` turns a version-1
repository into version 2. They run under the lock, one step at a time; FORMAT is rewritten
after each step, so an interrupted upgrade resumes where it stopped."""

_OWN_NAMES = frozenset({"objects", "ledger", "lock", "index.sqlite", "index.sqlite-journal"})
_OK, _BEHIND, _REBUILD = "ok", "behind", "rebuild"
_READ_LOCK_TIMEOUT = 2.0  # seconds a reader waits to update the index before indexing in memory


def _problem(exc: OSError) -> str:
    return exc.strerror or str(exc)


def prepare_folder(root: Path, *, create: bool = True) -> None:
    """Make sure ``root`` is, or can become, a writable folder, before writing anything in it.

    With ``create=False`` nothing is created: only whether it could be is checked.
    """
    try:
        if root.exists() or root.is_symlink():
            if not root.is_dir():
                raise NotADirectoryError(0, "it is a file, not a folder")
            probe_writable(root)
        else:
            ancestor = nearest_existing(root)
            if not ancestor.is_dir():
                raise NotADirectoryError(0, f"{ancestor} is a file, not a folder")
            probe_writable(ancestor)
            if create:
                root.mkdir(parents=True)
    except OSError as exc:
        raise RepositoryError(REPO_NOT_WRITABLE.format(path=root, problem=_problem(exc))) from None


def is_writable(root: Path) -> bool:
    try:
        probe_writable(root)
    except OSError:
        return False
    return True


class Store:
    """Files of the repository in folder ``root``."""

    def __init__(self, root: Path, *, writable: bool, lock_timeout: float) -> None:
        self.root = root
        self.writable = writable
        self.lock_timeout = lock_timeout
        self._lock = FileLock(root / "lock", timeout=lock_timeout, preserve_lock_file=True)
        self._memory: sqlite3.Connection | None = None

    # -- set-up ---------------------------------------------------------------------------

    def require_writable(self, action: str) -> None:
        if not self.writable:
            problem = msg.READ_ONLY.format(action=action)
            raise RepositoryError(REPO_NOT_WRITABLE.format(path=self.root, problem=problem))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process repository lock."""
        self.require_writable("change the repository")
        try:
            self._lock.acquire()
        except Timeout:
            raise RepositoryError(
                msg.REPO_LOCKED.format(
                    path=self.root, lock=self.root / "lock", timeout=self.lock_timeout
                )
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    def initialise(self) -> None:
        """Lay out an empty repository in ``root`` (which exists and is writable)."""
        strangers = sorted(
            child.name
            for child in self.root.iterdir()
            if child.name not in _OWN_NAMES and not child.name.startswith(TEMP_PREFIX)
        )
        if strangers and not (self.root / "FORMAT").exists():
            problem = f"the folder holds {', '.join(strangers[:3])} and no FORMAT file"
            raise RepositoryError(msg.NOT_A_REPOSITORY.format(path=self.root, problem=problem))
        with self.locked():
            if (self.root / "FORMAT").exists():
                return  # another process got here first
            try:
                make_dir(self.root / "objects")
                make_dir(self.root / "ledger")
                self.sync_index()
                self._write_format(FORMAT_VERSION)
            except OSError as exc:
                raise RepositoryError(
                    REPO_NOT_WRITABLE.format(path=self.root, problem=_problem(exc))
                ) from None

    def _write_format(self, version: int) -> None:
        data = canonical_json({"format": FORMAT_NAME, "version": version})
        atomic_write(self.root / "FORMAT", data)

    def format_version(self) -> int:
        """The FORMAT file's version; :class:`RepositoryError` if this is no repository."""
        try:
            data = json.loads((self.root / "FORMAT").read_bytes())
        except OSError as exc:
            problem = f"FORMAT cannot be read: {_problem(exc)}"
            raise RepositoryError(
                msg.NOT_A_REPOSITORY.format(path=self.root, problem=problem)
            ) from None
        except ValueError:
            problem = "FORMAT is not valid JSON"
            raise RepositoryError(
                msg.NOT_A_REPOSITORY.format(path=self.root, problem=problem)
            ) from None
        version = data.get("version") if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("format") != FORMAT_NAME
            or not isinstance(version, int)
            or version < 1
        ):
            problem = f"FORMAT holds {data!r}"
            raise RepositoryError(msg.NOT_A_REPOSITORY.format(path=self.root, problem=problem))
        return version

    def check_format(self) -> None:
        """Refuse a newer layout; upgrade an older one through :data:`MIGRATIONS`."""
        found = self.format_version()
        if found > FORMAT_VERSION:
            raise RepositoryError(
                REPO_NEWER.format(path=self.root, found=found, supported=FORMAT_VERSION)
            )
        if found == FORMAT_VERSION:
            return
        if not self.writable:
            raise RepositoryError(
                msg.REPO_OLDER.format(path=self.root, found=found, supported=FORMAT_VERSION)
            )
        with self.locked():
            for version in range(self.format_version(), FORMAT_VERSION):
                migrate = MIGRATIONS.get(version)
                if migrate is None:
                    raise RepositoryError(
                        msg.REPO_NO_MIGRATION.format(
                            path=self.root, found=version, supported=FORMAT_VERSION
                        )
                    )
                migrate(self.root)
                self._write_format(version + 1)

    # -- objects and ledger ---------------------------------------------------------------

    def object_path(self, sha: str) -> Path:
        return self.root / object_name(sha)

    def write_object(self, data: bytes) -> str:
        """Store ``data`` under its sha256 (caller holds the lock); idempotent."""
        sha = sha256_hex(data)
        path = self.object_path(sha)
        if not path.exists():
            make_dir(path.parent)
            atomic_write(path, data, mode=0o444)
        return sha

    def read_object(self, sha: str) -> bytes:
        """An object's bytes, checked against its name; :class:`KeyError` if absent."""
        if not HEX64.fullmatch(sha):
            raise ValueError(f"{sha!r} is not a sha256 hex digest (64 lower-case hex digits)")
        label = object_name(sha)
        try:
            data = self.object_path(sha).read_bytes()
        except FileNotFoundError:
            raise KeyError(msg.OBJECT_MISSING.format(path=label, repo=self.root)) from None
        actual = sha256_hex(data)
        if actual != sha:
            raise VerificationError(
                msg.V_OBJECT_CHANGED.format(path=label, actual=short(actual), expected=short(sha))
            )
        return data

    def entry_bytes(self, seq: int) -> bytes:
        try:
            return (self.root / entry_name(seq)).read_bytes()
        except FileNotFoundError:
            raise RepositoryError(msg.LEDGER_MISSING.format(path=entry_name(seq))) from None

    def append_entry(self, kind: Kind, obj: str, time: str) -> tuple[int, str]:
        """Write the next ledger entry (caller holds the lock): the commit point."""
        seqs = ledger_seqs(self.root / "ledger")
        last = seqs[-1] if seqs else 0
        prev = sha256_hex(self.entry_bytes(last)) if last else None
        raw = LedgerEntry(seq=last + 1, kind=kind, object=obj, prev=prev, time=time).to_bytes()
        atomic_write(self.root / entry_name(last + 1), raw, mode=0o444, overwrite=False)
        return last + 1, sha256_hex(raw)

    # -- index ----------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        return self.root / "index.sqlite"

    @contextmanager
    def query(self) -> Iterator[sqlite3.Connection]:
        """A connection to an index that has caught up with the ledger."""
        state = self._file_state()
        if state != _OK and self.writable and self._try_sync():
            state = _OK
        if state == _OK:
            with _index.connect(self.index_path, read_only=not self.writable) as conn:
                yield conn
        else:  # read-only, or a writer holds the lock: index the ledger in memory instead
            yield self._memory_index()

    def _try_sync(self) -> bool:
        """Bring the index file up to date unless another process holds the lock for long."""
        try:
            self._lock.acquire(timeout=min(self.lock_timeout, _READ_LOCK_TIMEOUT))
        except Timeout:
            return False
        try:
            self.sync_index()
        finally:
            self._lock.release()
        return True

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def _state(self, conn: sqlite3.Connection) -> str:
        found = _index.head(conn)
        if found is None:
            return _REBUILD
        seq, entry_hash = found
        if seq:
            try:
                raw = (self.root / entry_name(seq)).read_bytes()
            except OSError:
                return _REBUILD
            if sha256_hex(raw) != entry_hash:
                return _REBUILD
        return _BEHIND if (self.root / entry_name(seq + 1)).exists() else _OK

    def _file_state(self) -> str:
        if not self.index_path.is_file():
            return _REBUILD
        try:
            with _index.connect(self.index_path, read_only=True) as conn:
                return self._state(conn)
        except sqlite3.Error:
            return _REBUILD

    def sync_index(self) -> None:
        """Catch the index file up with the ledger, or rebuild it (caller holds the lock)."""
        state = self._file_state()
        if state == _BEHIND:
            try:
                with _index.connect(self.index_path) as conn:
                    self._catch_up(conn)
                return
            except sqlite3.Error:
                pass  # unusable: rebuild below
        if state == _OK:
            return
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + "index-", dir=self.root)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            with _index.connect(tmp) as conn:
                _index.create_schema(conn)
                self._catch_up(conn)
            tmp.chmod(0o644)  # readable by reviewers, like every other file here
            for stale in ("index.sqlite-journal", "index.sqlite-wal", "index.sqlite-shm"):
                (self.root / stale).unlink(missing_ok=True)
            tmp.replace(self.index_path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        fsync_dir(self.root)

    def _memory_index(self) -> sqlite3.Connection:
        if self._memory is None or self._state(self._memory) == _REBUILD:
            self.close()
            self._memory = sqlite3.connect(":memory:", isolation_level=None)
            _index.create_schema(self._memory)
        if self._state(self._memory) == _BEHIND:
            self._catch_up(self._memory)
        return self._memory

    def _catch_up(self, conn: sqlite3.Connection) -> None:
        """Index every ledger entry after the index's head, in one transaction."""
        conn.execute("BEGIN IMMEDIATE")
        found = _index.head(conn)
        seq = (found[0] if found else 0) + 1
        while True:
            try:
                raw = (self.root / entry_name(seq)).read_bytes()
            except FileNotFoundError:
                break
            self._index_entry(conn, seq, raw)
            _index.set_head(conn, seq, sha256_hex(raw))
            seq += 1
        conn.execute("COMMIT")

    def _index_entry(self, conn: sqlite3.Connection, seq: int, raw: bytes) -> None:
        try:
            entry = LedgerEntry.from_bytes(raw)
            data = self.read_object(entry.object)
            if entry.kind == "run":
                _index.add_run(conn, seq, entry.object, Run.from_bytes(data))
            elif entry.kind == "approval":
                _index.add_approval(conn, seq, entry.object, Approval.from_bytes(data))
            else:
                _index.add_attachment(conn, seq, entry.object, Attachment.from_bytes(data))
        except (ValueError, KeyError, TypeError, AttributeError, OSError, VerificationError):
            return  # a damaged entry stays out of the index; `verify` reports it

    def index_new_entry(self, seq: int, raw_hash: str) -> None:
        """Add the entry just committed to the index (caller holds the lock).

        The index is derived, so a failure here loses nothing: the next query catches up.
        """
        try:
            with _index.connect(self.index_path) as conn:
                found = _index.head(conn)
                if found is None or found[0] != seq - 1:
                    return
                conn.execute("BEGIN IMMEDIATE")
                self._index_entry(conn, seq, self.entry_bytes(seq))
                _index.set_head(conn, seq, raw_hash)
                conn.execute("COMMIT")
        except sqlite3.Error:
            return
