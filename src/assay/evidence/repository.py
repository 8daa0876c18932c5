"""The evidence repository: stored runs, their artefacts, approvals, attachments, and a
hash-chained ledger.

Layout of the folder (``.assay/`` by default)::

    FORMAT                 {"format": "assay-repository", "version": 2}
    objects/ab/cdef…       content-addressed blobs, named by the sha256 of their bytes: run,
                           approval and attachment records, artefacts, attached files
    ledger/00000001.json   append-only entries, each holding the hash of the one before; kind
                           ``run``, ``approval`` (of an earlier run) or ``attachment``
                           (documents generated from an earlier run, e.g. its model card)
    index.sqlite           derived index for listing; rebuilt from the ledger when behind
    lock                   cross-process lock held by every write

Example::

    repo = Repository.open(".assay")
    stored = repo.store_run(run, blobs={sha: data})
    repo.resolve("latest").id == stored.id
    repo.attach("latest", "model_card", [("model_card.md", "text/markdown", text)])
    repo.verify().ok
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from assay._version import __version__
from assay.errors import REPO_NEWER, RUN_NOT_FOUND, RepositoryError, RunNotFoundError
from assay.evidence import _index
from assay.evidence import _messages as msg
from assay.evidence._index import RunSummary
from assay.evidence._ledger import HEX64, iso_utc, utc_now
from assay.evidence._store import FORMAT_VERSION, Store, is_writable, prepare_folder
from assay.evidence.attachment import Attachment, StoredAttachment, check_kind
from assay.evidence.bundle import add_attachment_roles, export_bundle
from assay.evidence.signing import Approval, load_private_key, sign_approval
from assay.evidence.verify import VerifyReport, verify_repository
from assay.run import Run, sha256_hex

_SEQ_REF = re.compile(r"#?(\d+)")
_HEX_REF = re.compile(r"[0-9a-f]{4,64}")


@dataclass(frozen=True)
class StoredRun:
    """A run as stored: its ledger position, its id (sha256 of its record) and the record."""

    seq: int
    id: str
    run: Run


class Repository:
    """An evidence repository folder. Open one with :meth:`Repository.open`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = True, lock_timeout: float = 60.0
    ) -> Repository:
        """Open the repository in folder ``path``.

        With ``create=True`` the folder is created (and laid out) if needed, and must be
        writable: :class:`~assay.errors.RepositoryError` otherwise, before anything is written.
        With ``create=False`` the folder must already be a repository; if it is not writable it
        opens read-only, which is enough for listing, resolving, exporting and verifying.
        ``lock_timeout`` is how long a write waits for another process's write to finish.
        """
        root = Path(path)
        if create:
            prepare_folder(root)
            writable = True
        else:
            if not (root / "FORMAT").is_file():
                problem = "no such folder" if not root.exists() else "it has no FORMAT file"
                raise RepositoryError(msg.NOT_A_REPOSITORY.format(path=root, problem=problem))
            writable = is_writable(root)
        store = Store(root, writable=writable, lock_timeout=lock_timeout)
        if not (root / "FORMAT").exists():
            store.initialise()
        store.check_format()
        return cls(store)

    @classmethod
    def check(cls, path: str | os.PathLike[str]) -> None:
        """Raise :class:`~assay.errors.RepositoryError` unless :meth:`open` could create or
        write a repository at ``path`` — without creating or changing anything."""
        root = Path(path)
        prepare_folder(root, create=False)
        if (root / "FORMAT").exists():
            found = Store(root, writable=False, lock_timeout=0).format_version()
            if found > FORMAT_VERSION:
                raise RepositoryError(
                    REPO_NEWER.format(path=root, found=found, supported=FORMAT_VERSION)
                )

    @property
    def path(self) -> Path:
        """The repository folder."""
        return self._store.root

    @property
    def writable(self) -> bool:
        """False when the repository was opened read-only."""
        return self._store.writable

    def close(self) -> None:
        """Release the in-memory index a read-only repository may hold."""
        self._store.close()

    def __enter__(self) -> Repository:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Repository({str(self.path)!r}{'' if self.writable else ', read-only'})"

    # -- objects --------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its sha256 hex digest. Storing it again changes nothing."""
        with self._store.locked():
            return self._store.write_object(data)

    def get(self, sha: str) -> bytes:
        """The bytes of object ``sha``.

        :class:`KeyError` if there is none; :class:`~assay.errors.VerificationError` if its
        content no longer hashes to its name.
        """
        return self._store.read_object(sha)

    def has(self, sha: str) -> bool:
        """True if an object named ``sha`` is stored (its content is not re-hashed)."""
        return bool(HEX64.fullmatch(sha)) and self._store.object_path(sha).is_file()

    # -- runs -----------------------------------------------------------------------------

    def store_run(self, run: Run, blobs: Mapping[str, bytes]) -> StoredRun:
        """Store ``run`` with the artefacts it lists, and commit it to the ledger.

        ``blobs`` maps the sha256 hex digest of each artefact in ``run.artefacts`` to its
        bytes (artefacts already stored may be left out). The stored record's ``previous`` is
        set to the id of the latest stored run, under the lock, so concurrent audits chain
        correctly. :class:`ValueError` if a blob does not hash to its key, is not one of the
        run's artefacts, or an artefact is neither given nor stored.
        """
        self._store.require_writable("store a run")
        listed = {a.sha256 for a in run.artefacts}
        for key, data in blobs.items():
            actual = sha256_hex(data)
            if actual != key:
                raise ValueError(msg.BLOB_HASH.format(key=key, actual=actual))
            if key not in listed:
                raise ValueError(msg.BLOB_UNLISTED.format(key=key))
        for artefact in run.artefacts:
            if artefact.sha256 in blobs:
                size = len(blobs[artefact.sha256])
                if size != artefact.size:
                    raise ValueError(
                        msg.ARTEFACT_SIZE.format(
                            name=artefact.name, size=artefact.size, actual=size
                        )
                    )
            elif not self.has(artefact.sha256):
                raise ValueError(
                    msg.ARTEFACT_MISSING.format(name=artefact.name, sha=artefact.sha256)
                )
        with self._store.locked():
            self._store.sync_index()
            with self._store.query() as conn:
                latest = _index.latest_run(conn)
            stored = run.with_previous(latest.id if latest else None)
            for data in blobs.values():
                self._store.write_object(data)
            run_id = self._store.write_object(stored.to_bytes())
            seq, entry_hash = self._store.append_entry("run", run_id, utc_now())
            self._store.index_new_entry(seq, entry_hash)
        return StoredRun(seq=seq, id=run_id, run=stored)

    def runs(self) -> list[RunSummary]:
        """Every stored run, oldest first (newest last)."""
        with self._store.query() as conn:
            return _index.list_runs(conn)

    def resolve(self, ref: str) -> StoredRun:
        """The stored run that ``ref`` names.

        ``ref`` is ``latest``; ``approved`` (the newest run with an approval); a ledger
        number (``3`` or ``#3``); or at least 4 leading hex digits of a run id. A reference
        that matches nothing, or more than one run, raises
        :class:`~assay.errors.RunNotFoundError`.
        """
        text = ref.strip()
        with self._store.query() as conn:
            row = self._find(conn, text)
        return StoredRun(seq=row.seq, id=row.id, run=self._load(row.id))

    def _find(self, conn: sqlite3.Connection, ref: str) -> RunSummary:
        if ref == "latest":
            row = _index.latest_run(conn)
            return row or self._not_found(ref, msg.HINT_EMPTY)
        if ref == "approved":
            row = _index.latest_run(conn, approved=True)
            return row or self._not_found(ref, msg.HINT_NOT_APPROVED)
        number = _SEQ_REF.fullmatch(ref)
        if number:
            row = _index.run_by_seq(conn, int(number.group(1)))
            if row is not None:
                return row
            if ref.startswith("#") or len(ref) < 4:
                approved = _index.approval_at(conn, int(number.group(1)))
                if approved is not None:
                    hint = msg.HINT_APPROVAL_ENTRY.format(seq=number.group(1), run=approved[:12])
                    return self._not_found(ref, hint)
                attached = _index.attachment_at(conn, int(number.group(1)))
                if attached is not None:
                    hint = msg.HINT_ATTACHMENT_ENTRY.format(
                        seq=number.group(1), kind=attached[0], run=attached[1][:12]
                    )
                    return self._not_found(ref, hint)
                return self._not_found(ref, msg.HINT_LIST)
        prefix = ref.lower()
        if not _HEX_REF.fullmatch(prefix):
            return self._not_found(ref, msg.HINT_LIST)
        rows = _index.runs_by_prefix(conn, prefix)
        if not rows:
            return self._not_found(ref, msg.HINT_LIST)
        if len(rows) > 1:
            candidates = ", ".join(f"#{r.seq} {r.id[:12]}…" for r in rows[:5])
            raise RunNotFoundError(
                msg.RUN_AMBIGUOUS.format(
                    ref=ref, count=len(rows), repo=self.path, candidates=candidates
                )
            )
        return rows[0]

    def _not_found(self, ref: str, hint: str) -> NoReturn:
        raise RunNotFoundError(RUN_NOT_FOUND.format(ref=ref, repo=self.path, hint=hint))

    def load_run(self, run_id: str) -> Run:
        """The stored run with id ``run_id`` (the full sha256); only committed runs load."""
        with self._store.query() as conn:
            rows = _index.runs_by_prefix(conn, run_id) if HEX64.fullmatch(run_id) else []
        if not rows:
            self._not_found(run_id, msg.HINT_LIST)
        return self._load(run_id)

    def _load(self, run_id: str) -> Run:
        return Run.from_bytes(self.get(run_id))

    # -- approvals ------------------------------------------------------------------------

    def approve(
        self,
        run_ref: str,
        *,
        by: str,
        private_key_path: str | os.PathLike[str],
        now: datetime | None = None,
    ) -> Approval:
        """Sign and record ``by``'s approval of the run ``run_ref`` names (see :meth:`resolve`).

        The approval states the run's verdict, so approving a failing run is visible as such.
        ``now`` fixes the timestamp (UTC), e.g. for reproducible tests.
        """
        self._store.require_writable("record an approval")
        key = load_private_key(private_key_path)
        stored = self.resolve(run_ref)
        at = utc_now() if now is None else iso_utc(now)
        approval = sign_approval(
            key, run=stored.id, verdict=stored.run.verdict.status, by=by, at=at
        )
        with self._store.locked():
            self._store.sync_index()
            approval_id = self._store.write_object(approval.to_bytes())
            seq, entry_hash = self._store.append_entry("approval", approval_id, at)
            self._store.index_new_entry(seq, entry_hash)
        return approval

    def approvals(self, run_ref: str) -> list[Approval]:
        """The approvals of a run (an id or any reference :meth:`resolve` takes), oldest first."""
        with self._store.query() as conn:
            run_id = self._find(conn, run_ref.strip()).id
            found = _index.approvals_of(conn, run_id)
        return [Approval.from_bytes(self.get(obj)) for _, obj in found]

    # -- attachments ----------------------------------------------------------------------

    def attach(
        self,
        run_ref: str,
        kind: str,
        files: Sequence[tuple[str, str, bytes]],
        *,
        now: datetime | None = None,
    ) -> StoredAttachment:
        """Attach documents of ``kind`` to the run ``run_ref`` names (see :meth:`resolve`).

        ``kind`` is a slug such as ``model_card``; ``files`` are ``(name, media type, bytes)``,
        e.g. ``("model_card.md", "text/markdown", data)``. The run is not changed: its files are
        stored as objects, then an :class:`~assay.evidence.attachment.Attachment` record, then
        a ledger entry commits it. Attaching the same kind again adds a newer attachment.
        ``now`` fixes the timestamp (UTC). :class:`ValueError` for a bad kind, file name or
        media type; :class:`~assay.errors.RunNotFoundError` if no stored run matches.
        """
        self._store.require_writable("attach documents to a run")
        check_kind(kind)
        stored = self.resolve(run_ref)
        created = utc_now() if now is None else iso_utc(now)
        record = Attachment.build(
            run=stored.id, kind=kind, created=created, tool_version=__version__, files=files
        )
        with self._store.locked():
            self._store.sync_index()
            for _, _, data in files:
                self._store.write_object(data)
            attachment_id = self._store.write_object(record.to_bytes())
            seq, entry_hash = self._store.append_entry("attachment", attachment_id, created)
            self._store.index_new_entry(seq, entry_hash)
        return StoredAttachment(seq=seq, id=attachment_id, attachment=record)

    def attachments(self, run_ref: str, kind: str | None = None) -> list[StoredAttachment]:
        """The attachments of a run (an id or any reference :meth:`resolve` takes), oldest
        first; only those of ``kind`` if given."""
        if kind is not None:
            check_kind(kind)
        with self._store.query() as conn:
            run_id = self._find(conn, run_ref.strip()).id
            found = _index.attachments_of(conn, run_id, kind)
        return [
            StoredAttachment(seq=seq, id=obj, attachment=Attachment.from_bytes(self.get(obj)))
            for seq, obj in found
        ]

    def attachments_of_kind(self, kind: str, *, limit: int = 100) -> list[StoredAttachment]:
        """The newest ``limit`` attachments of ``kind`` to any run, newest first (the monitor
        attaches drill records and snapshots to the run it watches)."""
        check_kind(kind)
        with self._store.query() as conn:
            found = _index.attachments_of_kind(conn, kind, limit)
        return [
            StoredAttachment(seq=seq, id=obj, attachment=Attachment.from_bytes(self.get(obj)))
            for seq, obj in found
        ]

    def latest_attachment(self, run_ref: str, kind: str) -> StoredAttachment | None:
        """The newest attachment of ``kind`` to the run, or ``None`` if it has none."""
        found = self.attachments(run_ref, kind)
        return found[-1] if found else None

    # -- verification and export ----------------------------------------------------------

    def verify(self, *, trusted_keys: Iterable[str] | None = None) -> VerifyReport:
        """Re-hash every object and walk the ledger from entry 1; see :mod:`.verify`.

        ``trusted_keys`` (public key PEM texts), if given, must include every approver's key.
        """
        return verify_repository(self.path, trusted_keys=trusted_keys)

    def export(self, run_ref: str, out_path: str | os.PathLike[str]) -> Path:
        """Write a self-contained, verifiable tar bundle of one run; see :mod:`.bundle`."""
        stored = self.resolve(run_ref)
        with self._store.query() as conn:
            approvals = _index.approvals_of(conn, stored.id)
            attachments = _index.attachments_of(conn, stored.id)
        last = max([stored.seq, *(seq for seq, _ in approvals), *(seq for seq, _ in attachments)])
        entries = [self._store.entry_bytes(seq) for seq in range(1, last + 1)]
        roles = {stored.id: "run"}
        roles.update((a.sha256, "artefact") for a in stored.run.artefacts)
        roles.update((obj, "approval") for _, obj in approvals)
        for _, obj in attachments:
            record = Attachment.from_bytes(self.get(obj))
            add_attachment_roles(roles, obj, (f.sha256 for f in record.files))
        objects = {sha: self._store.object_path(sha) for sha in roles}
        return export_bundle(
            Path(out_path),
            run_seq=stored.seq,
            approval_seqs=[seq for seq, _ in approvals],
            entries=entries,
            objects=objects,
            roles=roles,
            attachment_seqs=[seq for seq, _ in attachments],
        )
