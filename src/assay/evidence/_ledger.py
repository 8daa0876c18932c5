"""Ledger entries: one canonical-JSON file per stored record, each naming the one before.

An entry commits one record: a ``run``, an ``approval`` of a run, or an ``attachment`` (documents
generated from a run, such as its model card). ``ledger/00000003.json`` holds
``{"seq": 3, "kind": "run", "object": <sha256 of the record>,
"prev": <sha256 of ledger/00000002.json's bytes>, "time": "2025-01-31T12:00:00Z"}``. The
first entry has ``"prev": null``. Changing any entry changes its hash and breaks the ``prev``
of the entry after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from assay.run import canonical_json

Kind = Literal["run", "approval", "attachment"]
KINDS: tuple[Kind, ...] = ("run", "approval", "attachment")

HEX64 = re.compile(r"[0-9a-f]{64}")
ENTRY_NAME = re.compile(r"(\d{8})\.json")
_FIELDS = frozenset({"seq", "kind", "object", "prev", "time"})


def entry_name(seq: int) -> str:
    """``ledger/00000003.json`` for seq 3: the entry's path inside a repository or bundle."""
    return f"ledger/{seq:08d}.json"


def object_name(sha: str) -> str:
    """``objects/ab/cdef…``: where the object with sha256 ``sha`` lives."""
    return f"objects/{sha[:2]}/{sha[2:]}"


def short(sha: str | None) -> str:
    """The first 12 hex digits of a hash, for messages; ``null`` for none."""
    return "null" if sha is None else f"{sha[:12]}…"


def utc_now() -> str:
    """The current time as ISO-8601 UTC to the second, e.g. ``2025-01-31T12:00:00Z``."""
    return iso_utc(datetime.now(UTC))


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO-8601 UTC to the second; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry: the ``object`` it commits and the hash of the entry before it."""

    seq: int
    kind: Kind
    object: str
    prev: str | None
    time: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "object": self.object,
            "prev": self.prev,
            "time": self.time,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> LedgerEntry:
        """Parse and check an entry's bytes; :class:`ValueError` says what is wrong."""
        try:
            data = json.loads(raw.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if set(data) != _FIELDS:
            raise ValueError(f"has fields {sorted(data)}, expected {sorted(_FIELDS)}")
        seq, kind, obj, prev, time = (data[k] for k in ("seq", "kind", "object", "prev", "time"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"seq must be a positive integer, got {seq!r}")
        if kind not in KINDS:
            expected = ", ".join(repr(k) for k in KINDS)
            raise ValueError(f"kind must be one of {expected}, got {kind!r}")
        if not isinstance(obj, str) or not HEX64.fullmatch(obj):
            raise ValueError(f"object must be a sha256 hex digest, got {obj!r}")
        if prev is not None and (not isinstance(prev, str) or not HEX64.fullmatch(prev)):
            raise ValueError(f"prev must be null or a sha256 hex digest, got {prev!r}")
        if not isinstance(time, str) or not _is_iso(time):
            raise ValueError(f"time must be an ISO-8601 timestamp, got {time!r}")
        return cls(seq=seq, kind=kind, object=obj, prev=prev, time=time)


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def is_canonical(raw: bytes) -> bool:
    """True if ``raw`` is exactly the canonical JSON form of the value it holds."""
    try:
        return canonical_json(json.loads(raw.decode())) == raw
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False


def ledger_seqs(ledger: Path) -> list[int]:
    """Sequence numbers of the entry files in folder ``ledger``, ascending."""
    seqs = []
    for child in ledger.iterdir():
        match = ENTRY_NAME.fullmatch(child.name)
        if match:
            seqs.append(int(match.group(1)))
    return sorted(seqs)
