"""Verify an exported bundle with nothing but the file.

The checks, in the order their problems are reported:

1. the file is a tar archive whose members all have bundle names (no path traversal, no
   links, no duplicates);
2. re-serialising the members canonically gives the file's bytes exactly — otherwise the
   first differing byte offset is named. This catches changes to headers, padding and the
   end-of-archive blocks, which a tar reader ignores;
3. the ledger entries link back to entry 1, every bundled object hashes to its name, the
   run's artefacts are present, approvals carry valid signatures over the bundled run,
   attachments name the bundled run and their files are present and unchanged;
4. nothing extra is bundled, and ``bundle.json`` is exactly what the members imply.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, cast

from assay.evidence import _messages as msg
from assay.evidence._chain import ChainFacts, RawEntry, walk
from assay.evidence._ledger import entry_name, object_name, short
from assay.evidence.bundle import (
    BUNDLE_FORMAT,
    BUNDLE_VERSION,
    MANIFEST,
    MEMBER_NAME,
    TAR_FORMAT,
    add_attachment_roles,
    canonical_info,
    manifest_bytes,
)
from assay.evidence.signing import fingerprints
from assay.evidence.verify import VerifyReport

_A_KIND = {"run": "a run", "approval": "an approval", "attachment": "an attachment"}
_TEXT_LIMIT = 16 << 20  # the manifest and ledger entries are small; refuse to hold more


class CompareSink:
    """A write-only file that compares what is written with an existing file's bytes."""

    def __init__(self, original: IO[bytes]) -> None:
        self._original = original
        self.position = 0
        self.first_difference: int | None = None

    def tell(self) -> int:
        return self.position

    def write(self, data: bytes) -> int:
        if self.first_difference is None:
            theirs = self._original.read(len(data))
            if theirs != data:
                pairs = enumerate(zip(data, theirs, strict=False))
                offset = next((i for i, (a, b) in pairs if a != b), len(theirs))
                self.first_difference = self.position + offset
        self.position += len(data)
        return len(data)


class MemberReader:
    """Reads one member's data from the bundle file, hashing it (and keeping it, if asked)."""

    def __init__(self, handle: IO[bytes], offset: int, size: int, *, keep: bool) -> None:
        handle.seek(offset)
        self._handle = handle
        self._remaining = size
        self._keep = keep
        self.digest = hashlib.sha256()
        self.kept = bytearray()

    def read(self, n: int = -1) -> bytes:
        n = self._remaining if n < 0 else min(n, self._remaining)
        data = self._handle.read(n)
        self._remaining -= len(data)
        self.digest.update(data)
        if self._keep:
            self.kept += data
        return data


class _BundleSource:
    """Objects inside the bundle file, by the digests the canonical pass computed."""

    def __init__(self, path: Path, infos: dict[str, tarfile.TarInfo], digests: dict[str, str]):
        self._path = path
        self._infos = infos
        self._digests = digests

    def label(self, sha: str) -> str:
        return f"{self._path.name}:{object_name(sha)}"

    def digest(self, sha: str) -> str | None:
        return self._digests.get(object_name(sha))

    def read(self, sha: str) -> bytes | None:
        info = self._infos.get(object_name(sha))
        if info is None:
            return None
        with self._path.open("rb") as handle:
            handle.seek(info.offset_data)
            return handle.read(info.size)

    def size(self, sha: str) -> int | None:
        info = self._infos.get(object_name(sha))
        return None if info is None else info.size


def verify_bundle(
    path: str | os.PathLike[str], *, trusted_keys: Iterable[str] | None = None
) -> VerifyReport:
    """Verify the bundle file at ``path`` on its own, without any repository.

    ``trusted_keys`` (public key PEM texts), if given, must include every approver's key.

    Example::

        report = verify_bundle("release-7.tar")
        if not report.ok:
            print(report.problems[0])
    """
    bundle = Path(path)
    problems: list[str] = []
    checked = dict.fromkeys(
        (
            "members",
            "objects",
            "entries",
            "runs",
            "approvals",
            "artefacts",
            "attachments",
            "attachment_files",
        ),
        0,
    )
    infos = _read_members(bundle, problems)
    if infos is None:
        return VerifyReport(checked, problems)
    checked["members"] = len(infos)
    digests, texts = _compare_canonical(bundle, infos, problems)
    if digests is None:
        return VerifyReport(checked, problems)
    entries = [
        RawEntry(int(name[7:15]), f"{bundle.name}:{name}", texts[name])
        for name in sorted(texts)
        if name.startswith("ledger/")
    ]
    checked["entries"] = len(entries)
    checked["objects"] = sum(name.startswith("objects/") for name in infos)
    manifest = _read_manifest(bundle, texts.get(MANIFEST), problems)
    if manifest is None:
        return VerifyReport(checked, problems)
    run_seq, approval_seqs, attachment_seqs = manifest
    wanted = {run_seq, *approval_seqs, *attachment_seqs}
    trusted = None if trusted_keys is None else fingerprints(trusted_keys)
    source = _BundleSource(bundle, infos, digests)
    facts = walk(entries, source, deep=lambda seq: seq in wanted, trusted=trusted)
    problems.extend(facts.problems)
    checked.update(
        runs=len(facts.runs),
        approvals=len(facts.approvals),
        artefacts=facts.artefacts,
        attachments=len(facts.attachments),
        attachment_files=facts.attachment_files,
    )
    seqs = _Seqs(run_seq, approval_seqs, attachment_seqs)
    _check_contents(bundle, infos, texts, facts, seqs, problems)
    return VerifyReport(checked, problems)


def _read_members(bundle: Path, problems: list[str]) -> dict[str, tarfile.TarInfo] | None:
    try:
        with tarfile.open(bundle, mode="r:") as tar:
            members = tar.getmembers()
    except OSError as exc:
        problems.append(msg.B_UNREADABLE.format(path=bundle, problem=exc.strerror or exc))
        return None
    except Exception as exc:  # hostile input may break the tar reader in any way
        problems.append(msg.B_NOT_TAR.format(path=bundle, problem=exc))
        return None
    infos: dict[str, tarfile.TarInfo] = {}
    for info in members:
        name = info.name
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or "\\" in name:
            problems.append(msg.B_TRAVERSAL.format(path=bundle, name=name))
        elif not MEMBER_NAME.fullmatch(name):
            problems.append(msg.B_BAD_NAME.format(path=bundle, name=name))
        elif name in infos:
            problems.append(msg.B_DUPLICATE.format(path=bundle, name=name))
        elif not info.isreg():
            problems.append(msg.B_NOT_FILE.format(path=bundle, name=name))
        elif not name.startswith("objects/") and info.size > _TEXT_LIMIT:
            problems.append(msg.B_TOO_LARGE.format(path=bundle, name=name, size=info.size))
        else:
            infos[name] = info
    return infos


def _compare_canonical(
    bundle: Path, infos: dict[str, tarfile.TarInfo], problems: list[str]
) -> tuple[dict[str, str] | None, dict[str, bytes]]:
    """Re-serialise the members canonically against the file; hash them on the way."""
    digests: dict[str, str] = {}
    texts: dict[str, bytes] = {}
    with bundle.open("rb") as original, bundle.open("rb") as data:
        sink = CompareSink(original)
        try:
            canonical = cast("IO[bytes]", sink)  # tarfile only calls write() and tell()
            with tarfile.open(fileobj=canonical, mode="w", format=TAR_FORMAT) as tar:
                for name in sorted(infos):
                    info = infos[name]
                    keep = not name.startswith("objects/")
                    reader = MemberReader(data, info.offset_data, info.size, keep=keep)
                    tar.addfile(canonical_info(name, info.size), reader)
                    digests[name] = reader.digest.hexdigest()
                    if keep:
                        texts[name] = bytes(reader.kept)
        except OSError as exc:  # a member's data runs past the end of the file
            problems.append(msg.B_NOT_TAR.format(path=bundle, problem=exc))
            return None, texts
        size = bundle.stat().st_size
    if sink.first_difference is not None:
        problems.append(msg.B_BYTES.format(path=bundle, offset=sink.first_difference))
    elif sink.position != size:
        problems.append(msg.B_LENGTH.format(path=bundle, found=size, expected=sink.position))
    return digests, texts


@dataclass(frozen=True)
class _Seqs:
    """The ledger entries the manifest says the bundle is about."""

    run: int
    approvals: list[int]
    attachments: list[int]


def _read_manifest(
    bundle: Path, raw: bytes | None, problems: list[str]
) -> tuple[int, list[int], list[int]] | None:
    """``(run_seq, approval seqs, attachment seqs)`` from bundle.json, the facts the rest is
    checked by."""
    if raw is None:
        problems.append(msg.B_NO_MANIFEST.format(path=bundle))
        return None
    try:
        data = json.loads(raw.decode())
    except ValueError as exc:
        problems.append(msg.B_MANIFEST_INVALID.format(path=bundle, problem=f"is not JSON: {exc}"))
        return None
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        problem = "is not an Assay bundle manifest"
        problems.append(msg.B_MANIFEST_INVALID.format(path=bundle, problem=problem))
        return None
    version = data.get("version")
    if isinstance(version, int) and version > BUNDLE_VERSION:
        problems.append(msg.B_NEWER.format(path=bundle, found=version, supported=BUNDLE_VERSION))
        return None
    run_seq, approvals = data.get("run_seq"), data.get("approvals")
    attachments = data.get("attachments", [])
    if (
        not isinstance(run_seq, int)
        or run_seq < 1
        or not isinstance(approvals, list)
        or not all(isinstance(s, int) and s > run_seq for s in approvals)
        or not isinstance(attachments, list)
        or not all(isinstance(s, int) and s > run_seq for s in attachments)
    ):
        problem = "lacks a valid run_seq, approvals and attachments list"
        problems.append(msg.B_MANIFEST_INVALID.format(path=bundle, problem=problem))
        return None
    return run_seq, approvals, attachments


def _check_contents(
    bundle: Path,
    infos: dict[str, tarfile.TarInfo],
    texts: dict[str, bytes],
    facts: ChainFacts,
    seqs: _Seqs,
    problems: list[str],
) -> None:
    """The run, approvals and attachments the manifest names are there, nothing else is, and
    the manifest is exactly what the members imply."""
    run_seq, approval_seqs = seqs.run, seqs.approvals
    run_entry = facts.entries.get(run_seq)
    if run_entry is None or run_entry.kind != "run":
        what = (
            "the run's ledger entry"
            if run_entry is None
            else f"a run entry, not {_A_KIND[run_entry.kind]}"
        )
        problems.append(msg.B_MISSING.format(path=bundle, name=entry_name(run_seq), what=what))
        return
    run_id = run_entry.object
    roles = {run_id: "run"}
    run = facts.runs.get(run_seq)
    if run is not None:
        roles.update((a.sha256, "artefact") for a in run.artefacts)
    for seq in approval_seqs:
        entry = facts.entries.get(seq)
        if entry is None or entry.kind != "approval":
            what = (
                "an approval entry"
                if entry is None
                else f"an approval entry, not {_A_KIND[entry.kind]}"
            )
            problems.append(msg.B_MISSING.format(path=bundle, name=entry_name(seq), what=what))
            continue
        roles[entry.object] = "approval"
        approval = facts.approvals.get(seq)
        if approval is not None and approval.run != run_id:
            problems.append(
                msg.B_APPROVAL_OTHER.format(
                    path=f"{bundle.name}:{entry_name(seq)}",
                    run=short(approval.run),
                    expected=short(run_id),
                )
            )
    whole = run is not None  # every object's role is known: the run and attachments parsed
    for seq in seqs.attachments:
        entry = facts.entries.get(seq)
        if entry is None or entry.kind != "attachment":
            what = (
                "an attachment entry"
                if entry is None
                else f"an attachment entry, not {_A_KIND[entry.kind]}"
            )
            problems.append(msg.B_MISSING.format(path=bundle, name=entry_name(seq), what=what))
            continue
        attachment = facts.attachments.get(seq)
        if attachment is None:
            whole = False
            roles.setdefault(entry.object, "attachment")
            continue
        add_attachment_roles(roles, entry.object, (f.sha256 for f in attachment.files))
        if attachment.run != run_id:
            problems.append(
                msg.B_ATTACHMENT_OTHER.format(
                    path=f"{bundle.name}:{entry_name(seq)}",
                    kind=attachment.kind,
                    run=short(attachment.run),
                    expected=short(run_id),
                )
            )
    last = max([run_seq, *approval_seqs, *seqs.attachments])
    expected = {MANIFEST, *(entry_name(s) for s in range(1, last + 1))}
    expected.update(object_name(sha) for sha in roles)
    for name in sorted(set(infos) - expected):
        if whole or not name.startswith("objects/"):  # else: maybe an artefact or a file
            problems.append(msg.B_EXTRA.format(path=bundle, name=name))
    entries = [texts.get(entry_name(s)) for s in range(1, last + 1)]
    objects = {
        sha: (role, infos[object_name(sha)].size)
        for sha, role in roles.items()
        if object_name(sha) in infos
    }
    if any(e is None for e in entries) or len(objects) != len(roles):
        return  # missing members are reported already; there is no manifest to derive
    derived = manifest_bytes(
        run_id=run_id,
        run_seq=run_seq,
        approval_seqs=approval_seqs,
        entries=[e for e in entries if e is not None],
        objects=objects,
        attachment_seqs=seqs.attachments,
    )
    if derived != texts.get(MANIFEST):
        problems.append(msg.B_MANIFEST_MISMATCH.format(path=bundle))
