"""Self-contained, verifiable tar bundles of one stored run.

A bundle holds ``bundle.json`` (the manifest), the ledger entries from 1 through the last of
the run's entry, its approvals and its attachments (so every ``prev`` link can be checked), the
run record, its artefacts, its approvals, and its attachment records with their files, each
under its repository path. It is written deterministically (sorted members, mtime 0, uid/gid
0, mode 0644, GNU tar format), so the same run always gives the same bytes.

:func:`~assay.evidence.verify_bundle` needs nothing but the file; see
:mod:`assay.evidence.bundle_verify` for what it checks.

Example::

    repo.export("approved", "release-7.tar")
    assert verify_bundle("release-7.tar").ok   # on another machine, without the repository
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from assay._files import TEMP_PREFIX, fsync_dir, hash_file
from assay.errors import REPO_NOT_WRITABLE, RepositoryError, VerificationError
from assay.evidence import _messages as msg
from assay.evidence._ledger import entry_name, object_name, short
from assay.run import canonical_json, sha256_hex

BUNDLE_FORMAT = "assay-bundle"
BUNDLE_VERSION = 2
"""Version of the bundle layout and manifest. Bump it on an incompatible change.

1. the run, its artefacts and approvals.
2. adds the run's attachments (manifest field ``attachments``).

A bundle is written with the lowest version that holds its contents: a run without
attachments gives a version-1 bundle, byte for byte what earlier Assay wrote and still
verifiable by it; a run with attachments gives version 2, which earlier Assay refuses as newer
rather than misreading it.
"""

TAR_FORMAT = tarfile.GNU_FORMAT
MANIFEST = "bundle.json"
MEMBER_NAME = re.compile(r"bundle\.json|ledger/\d{8}\.json|objects/[0-9a-f]{2}/[0-9a-f]{62}")

Opener = Callable[[], IO[bytes]]


def manifest_bytes(
    *,
    run_id: str,
    run_seq: int,
    approval_seqs: Iterable[int],
    entries: Sequence[bytes],
    objects: Mapping[str, tuple[str, int]],
    attachment_seqs: Iterable[int] = (),
) -> bytes:
    """The manifest, a function of the bundle's contents alone.

    ``entries`` are the ledger entry bytes from seq 1 on; ``objects`` maps each object's
    sha256 to its role (``run``, ``artefact``, ``approval``, ``attachment``,
    ``attachment_file``) and size.
    """
    attachments = sorted(attachment_seqs)
    manifest: dict[str, object] = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION if attachments else 1,
        "run": run_id,
        "run_seq": run_seq,
        "approvals": sorted(approval_seqs),
        "entries": [{"seq": i, "sha256": sha256_hex(raw)} for i, raw in enumerate(entries, 1)],
        "objects": [
            {"sha256": sha, "role": objects[sha][0], "size": objects[sha][1]}
            for sha in sorted(objects)
        ],
    }
    if attachments:
        manifest["attachments"] = attachments
    return canonical_json(manifest)


def add_attachment_roles(roles: dict[str, str], record: str, files: Iterable[str]) -> None:
    """Give an attachment record and its files their roles, after the run's own objects.

    An object that already has a role keeps it (a file may have the same bytes as an
    artefact, or as a file of another attachment), so export and verification agree.
    """
    roles.setdefault(record, "attachment")
    for sha in files:
        roles.setdefault(sha, "attachment_file")


def canonical_info(name: str, size: int) -> tarfile.TarInfo:
    """The one tar header a bundle member may have."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def write_canonical(fileobj: Any, members: Iterable[tuple[str, int, Opener]]) -> None:
    """Write ``(name, size, open)`` members as a canonical tar, sorted by name."""
    with tarfile.open(fileobj=fileobj, mode="w", format=TAR_FORMAT) as tar:
        for name, size, opener in sorted(members, key=lambda m: m[0]):
            with opener() as handle:
                tar.addfile(canonical_info(name, size), handle)


def export_bundle(
    out: Path,
    *,
    run_seq: int,
    approval_seqs: Sequence[int],
    entries: Sequence[bytes],
    objects: Mapping[str, Path],
    roles: Mapping[str, str],
    attachment_seqs: Sequence[int] = (),
) -> Path:
    """Write the bundle atomically to ``out``; used by :meth:`Repository.export`.

    Every object is re-hashed first: a damaged object is never exported
    (:class:`~assay.errors.VerificationError`).
    """
    sizes: dict[str, tuple[str, int]] = {}
    for sha, path in objects.items():
        actual = hash_file(path)
        if actual != sha:
            raise VerificationError(
                msg.V_OBJECT_CHANGED.format(
                    path=object_name(sha), actual=short(actual), expected=short(sha)
                )
            )
        sizes[sha] = (roles[sha], path.stat().st_size)
    run_id = next(sha for sha, role in roles.items() if role == "run")
    manifest = manifest_bytes(
        run_id=run_id,
        run_seq=run_seq,
        approval_seqs=approval_seqs,
        entries=entries,
        objects=sizes,
        attachment_seqs=attachment_seqs,
    )
    members: list[tuple[str, int, Opener]] = [(MANIFEST, len(manifest), _bytes_opener(manifest))]
    members += [
        (entry_name(seq), len(raw), _bytes_opener(raw)) for seq, raw in enumerate(entries, 1)
    ]
    members += [
        (object_name(sha), sizes[sha][1], _file_opener(path)) for sha, path in objects.items()
    ]
    folder = out.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise RepositoryError(REPO_NOT_WRITABLE.format(path=folder, problem=problem)) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write_canonical(handle, members)
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        tmp.replace(out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(folder)
    return out


def _bytes_opener(data: bytes) -> Opener:
    return lambda: io.BytesIO(data)


def _file_opener(path: Path) -> Opener:
    return lambda: path.open("rb")
