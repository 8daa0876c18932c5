"""Re-hash everything in a repository and walk its ledger; name the first broken link.

Verification reads and never writes, so it also runs on a read-only copy. Problems are listed
in the order found (objects first, then the ledger from entry 1, then the newest entry against
the hash the index remembers for it), so ``problems[0]`` is the first broken thing.
Leftovers of interrupted writes (temporary files, objects that no ledger entry refers to) are
notes, not problems: a crash leaves them, and they change nothing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay._files import TEMP_PREFIX, hash_file
from assay.errors import VerificationError
from assay.evidence import _index
from assay.evidence import _messages as msg
from assay.evidence._chain import RawEntry, walk
from assay.evidence._ledger import ENTRY_NAME, HEX64, entry_name, object_name, short
from assay.evidence.signing import fingerprints
from assay.run import sha256_hex

FORMAT_NAME = "assay-repository"


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of verifying a repository or a bundle.

    ``checked`` counts what was looked at (``objects``, ``entries``, ``runs``, ``approvals``,
    ``artefacts``, ``attachments``, ``attachment_files``); ``problems`` lists what is broken,
    first problem first; ``notes`` lists harmless leftovers; ``unreferenced`` holds the sha256
    of objects no ledger entry refers to.
    """

    checked: Mapping[str, int]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreferenced: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is broken."""
        return not self.problems

    def summary(self) -> str:
        """``12 objects, 3 entries, 2 runs, 1 approvals, 2 artefacts, … checked``."""
        counts = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in self.checked.items())
        return f"{counts} checked" if counts else "nothing to check"

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "problems": list(self.problems),
            "notes": list(self.notes),
            "unreferenced": list(self.unreferenced),
        }

    def raise_for_problems(self) -> None:
        """Raise :class:`~assay.errors.VerificationError` naming the first problem, if any."""
        if self.problems:
            more = len(self.problems) - 1
            suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
            raise VerificationError(self.problems[0] + suffix)


class _RepoSource:
    """Objects of a repository folder, with the digests the object pass computed."""

    def __init__(self, root: Path, digests: dict[str, str]) -> None:
        self._root = root
        self._digests = digests

    def label(self, sha: str) -> str:
        return object_name(sha)

    def digest(self, sha: str) -> str | None:
        if sha not in self._digests:  # stored after the object pass, or missing
            try:
                self._digests[sha] = hash_file(self._root / object_name(sha))
            except OSError:
                return None
        return self._digests[sha]

    def read(self, sha: str) -> bytes | None:
        try:
            return (self._root / object_name(sha)).read_bytes()
        except OSError:
            return None

    def size(self, sha: str) -> int | None:
        try:
            return (self._root / object_name(sha)).stat().st_size
        except OSError:
            return None


def verify_repository(root: Path, *, trusted_keys: Iterable[str] | None = None) -> VerifyReport:
    """Verify the repository in folder ``root``; see :meth:`Repository.verify`."""
    problems: list[str] = []
    notes: list[str] = []
    _check_format(root, problems)
    indexed = _index_head(root)  # read before the ledger: the index never runs ahead of it
    entries = _read_ledger(root, problems, notes)  # the snapshot this report is about
    digests = _hash_objects(root, problems, notes)
    trusted = None if trusted_keys is None else fingerprints(trusted_keys)
    facts = walk(entries, _RepoSource(root, digests), trusted=trusted)
    problems.extend(facts.problems)
    _check_tail(entries, indexed, problems)
    unreferenced = sorted(set(digests) - facts.referenced)
    notes.extend(msg.N_UNREFERENCED.format(path=object_name(sha)) for sha in unreferenced)
    kinds = [e.kind for e in facts.entries.values()]
    checked = {
        "objects": len(digests),
        "entries": len(entries),
        "runs": kinds.count("run"),
        "approvals": kinds.count("approval"),
        "artefacts": facts.artefacts,
        "attachments": kinds.count("attachment"),
        "attachment_files": facts.attachment_files,
    }
    return VerifyReport(checked, problems, notes, unreferenced)


def _index_head(root: Path) -> tuple[int, str | None] | None:
    """The last entry the index recorded, if there is a readable index."""
    path = root / "index.sqlite"
    if not path.is_file():
        return None
    try:
        with _index.connect(path, read_only=True) as conn:
            return _index.head(conn)
    except sqlite3.Error:
        return None


def _check_tail(
    entries: list[RawEntry], indexed: tuple[int, str | None] | None, problems: list[str]
) -> None:
    """Nothing links to the newest entry; the index's memory of it catches a cut or edited end.

    The index is only a witness: deleting it as well hides such a change.
    """
    if indexed is None or indexed[0] == 0:
        return
    seq, recorded = indexed
    raw = next((e.raw for e in entries if e.seq == seq), None)
    if raw is None:
        problems.append(msg.V_TRUNCATED.format(path=entry_name(seq)))
    elif recorded is not None and sha256_hex(raw) != recorded:
        problems.append(
            msg.V_REPLACED.format(
                path=entry_name(seq), actual=short(sha256_hex(raw)), expected=short(recorded)
            )
        )


def _check_format(root: Path, problems: list[str]) -> None:
    try:
        data = json.loads((root / "FORMAT").read_bytes())
    except OSError as exc:
        problems.append(msg.V_FORMAT.format(problem=f"cannot be read: {exc.strerror or exc}"))
        return
    except ValueError as exc:
        problems.append(msg.V_FORMAT.format(problem=f"not valid JSON: {exc}"))
        return
    version = data.get("version") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or set(data) != {"format", "version"}
        or data["format"] != FORMAT_NAME
        or not isinstance(version, int)
    ):
        problems.append(
            msg.V_FORMAT.format(problem=f"holds {data!r}, not the repository format marker")
        )


def _read_ledger(root: Path, problems: list[str], notes: list[str]) -> list[RawEntry]:
    entries = []
    folder = root / "ledger"
    try:
        children = sorted(folder.iterdir())
    except OSError as exc:
        problems.append(msg.V_UNREADABLE.format(path="ledger", problem=exc.strerror or exc))
        return []
    for child in children:
        label = f"ledger/{child.name}"
        match = ENTRY_NAME.fullmatch(child.name)
        if match is None:
            template = msg.N_TEMP if child.name.startswith(TEMP_PREFIX) else msg.N_STRAY
            notes.append(template.format(path=label))
            continue
        try:
            raw = child.read_bytes()
        except OSError as exc:
            problems.append(msg.V_UNREADABLE.format(path=label, problem=exc.strerror or exc))
            continue
        entries.append(RawEntry(int(match.group(1)), label, raw))
    return entries


def _hash_objects(root: Path, problems: list[str], notes: list[str]) -> dict[str, str]:
    """Re-hash every object file; a file whose content does not match its name is a problem."""
    digests: dict[str, str] = {}
    folder = root / "objects"
    try:
        subfolders = sorted(folder.iterdir())
    except OSError as exc:
        problems.append(msg.V_UNREADABLE.format(path="objects", problem=exc.strerror or exc))
        return digests
    for sub in subfolders:
        if not sub.is_dir() or not re.fullmatch(r"[0-9a-f]{2}", sub.name):
            template = msg.N_TEMP if sub.name.startswith(TEMP_PREFIX) else msg.N_STRAY
            notes.append(template.format(path=f"objects/{sub.name}"))
            continue
        for child in sorted(sub.iterdir()):
            label = f"objects/{sub.name}/{child.name}"
            name = sub.name + child.name
            if child.name.startswith(TEMP_PREFIX):
                notes.append(msg.N_TEMP.format(path=label))
                continue
            if not HEX64.fullmatch(name) or not child.is_file():
                notes.append(msg.N_STRAY.format(path=label))
                continue
            try:
                actual = hash_file(child)
            except OSError as exc:
                problems.append(msg.V_UNREADABLE.format(path=label, problem=exc.strerror or exc))
                continue
            if actual != name:
                problems.append(
                    msg.V_OBJECT_CHANGED.format(
                        path=label, actual=short(actual), expected=short(name)
                    )
                )
            digests[name] = actual
    return digests
