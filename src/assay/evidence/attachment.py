"""Attachments: documents generated from a stored run, kept beside it without changing it.

An :class:`Attachment` names the run it belongs to, its ``kind`` (a short slug such as
``model_card`` or ``datasheet``), when and by which Assay version it was made, and its files.
Each file is stored as a content-addressed object and listed as an
:class:`~assay.run.Artefact` (name, sha256, media type, size), exactly as a run lists its
artefacts. The record itself is canonical JSON (``assay.attachment/1``); its sha256 is its id,
and a ledger entry of kind ``attachment`` commits it. Attaching again appends a new record:
the newest of a kind is the current one, the older ones stay as history.

Example::

    stored = repo.attach("latest", "model_card", [("model_card.md", "text/markdown", md)])
    card = repo.latest_attachment("latest", "model_card")
    text = repo.get(card.attachment.file("model_card.md").sha256)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.evidence._ledger import HEX64
from assay.run import Artefact, canonical_json, sha256_hex

ATTACHMENT_SCHEMA = "assay.attachment/1"
"""Type id and version of a stored attachment record."""

KIND = re.compile(r"[a-z][a-z0-9_]*")
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*(;[ -~]*)?")
_NAME_LIMIT = 255
_FIELDS = ("schema", "run", "kind", "created", "tool_version", "files")
_FILE_FIELDS = ("name", "sha256", "media_type", "size")

# Messages (tests assert them exactly)
KIND_INVALID = (
    "attachment kind {kind!r} is not a slug: use lower-case letters, digits and underscores, "
    "starting with a letter, e.g. 'model_card'."
)
FILE_NAME_INVALID = (
    "attached file name {name!r} is not a plain file name: use letters, digits, '.', '_' and "
    "'-' (at most 255 characters, not starting with '.' or '-'), e.g. 'model_card.md'."
)
MEDIA_TYPE_INVALID = (
    "attached file {name!r} has media type {media_type!r}, which is not a lower-case "
    "'type/subtype', e.g. 'text/markdown' or 'text/html; charset=utf-8'."
)
FILE_DUPLICATE = "attached file name {name!r} appears more than once; give each file its own name."
NO_FILES = "an attachment needs at least one file; pass (name, media type, bytes) tuples."
FILE_UNKNOWN = "the {kind} attachment has no file {name!r}; its files are: {names}."


def check_kind(kind: str) -> str:
    """``kind`` if it is a valid slug; :class:`ValueError` otherwise."""
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise ValueError(KIND_INVALID.format(kind=kind))
    return kind


def _check_files(files: Sequence[Artefact]) -> None:
    if not files:
        raise ValueError(NO_FILES)
    seen: set[str] = set()
    for f in files:
        if len(f.name) > _NAME_LIMIT or not FILE_NAME.fullmatch(f.name):
            raise ValueError(FILE_NAME_INVALID.format(name=f.name))
        if not MEDIA_TYPE.fullmatch(f.media_type):
            raise ValueError(MEDIA_TYPE_INVALID.format(name=f.name, media_type=f.media_type))
        if f.name in seen:
            raise ValueError(FILE_DUPLICATE.format(name=f.name))
        seen.add(f.name)


@dataclass(frozen=True)
class Attachment:
    """Documents of one ``kind`` generated from run ``run``; see the module docstring."""

    run: str
    kind: str
    created: str
    tool_version: str
    files: tuple[Artefact, ...]

    @classmethod
    def build(
        cls,
        *,
        run: str,
        kind: str,
        created: str,
        tool_version: str,
        files: Sequence[tuple[str, str, bytes]],
    ) -> Attachment:
        """The record for ``files`` given as ``(name, media type, bytes)``, in that order.

        :class:`ValueError` names the first thing wrong (kind, a file name, a media type).
        """
        listed = tuple(
            Artefact(name=name, sha256=sha256_hex(data), media_type=media_type, size=len(data))
            for name, media_type, data in files
        )
        record = cls(run=run, kind=kind, created=created, tool_version=tool_version, files=listed)
        record.validate()
        return record

    def validate(self) -> None:
        """:class:`ValueError` if a field is malformed."""
        if not HEX64.fullmatch(self.run):
            raise ValueError(f"run must be a run id (a sha256 hex digest), got {self.run!r}")
        check_kind(self.kind)
        if not _is_utc(self.created):
            raise ValueError(
                f"created must be an ISO-8601 UTC time such as 2025-01-31T12:00:00Z, "
                f"got {self.created!r}"
            )
        if not self.tool_version:
            raise ValueError("tool_version is empty")
        for f in self.files:
            if not HEX64.fullmatch(f.sha256):
                raise ValueError(f"file {f.name!r}: sha256 must be a hex digest, got {f.sha256!r}")
            if isinstance(f.size, bool) or not isinstance(f.size, int) or f.size < 0:
                raise ValueError(f"file {f.name!r}: size must be a byte count, got {f.size!r}")
        _check_files(self.files)

    def file(self, name: str) -> Artefact:
        """The listed file called ``name``; :class:`KeyError` names the files there are."""
        for f in self.files:
            if f.name == name:
                return f
        names = ", ".join(repr(f.name) for f in self.files)
        raise KeyError(FILE_UNKNOWN.format(kind=self.kind, name=name, names=names))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": ATTACHMENT_SCHEMA,
            "run": self.run,
            "kind": self.kind,
            "created": self.created,
            "tool_version": self.tool_version,
            "files": [f.to_json() for f in self.files],
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        """The sha256 of the stored record: its object name in the repository."""
        return sha256_hex(self.to_bytes())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        """Read a stored record; :class:`ValueError` says what is wrong with it."""
        if data.get("schema") != ATTACHMENT_SCHEMA:
            raise ValueError(f"not an {ATTACHMENT_SCHEMA} record: schema={data.get('schema')!r}")
        if set(data) != set(_FIELDS):
            raise ValueError(f"has fields {sorted(data)}, expected {sorted(_FIELDS)}")
        wrong = sorted(k for k in _FIELDS[1:5] if not isinstance(data[k], str))
        if wrong:
            raise ValueError(f"fields {wrong} must be strings")
        if not isinstance(data["files"], list):
            raise ValueError("files must be a list")
        files = []
        for i, item in enumerate(data["files"]):
            if not isinstance(item, dict) or set(item) != set(_FILE_FIELDS):
                raise ValueError(f"files[{i}] must have exactly the fields {sorted(_FILE_FIELDS)}")
            if not all(isinstance(item[k], str) for k in ("name", "sha256", "media_type")):
                raise ValueError(f"files[{i}]: name, sha256 and media_type must be strings")
            files.append(Artefact(**item))
        record = cls(
            run=data["run"],
            kind=data["kind"],
            created=data["created"],
            tool_version=data["tool_version"],
            files=tuple(files),
        )
        record.validate()
        return record

    @classmethod
    def from_bytes(cls, raw: bytes) -> Attachment:
        """Parse a stored record's bytes; :class:`ValueError` says what is wrong."""
        try:
            data = json.loads(raw.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return cls.from_json(data)


def _is_utc(text: str) -> bool:
    if not text.endswith("Z"):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment as stored: its ledger position, its id (sha256 of the record), the record.

    A file's bytes: ``repo.get(stored.attachment.file("model_card.md").sha256)``.
    """

    seq: int
    id: str
    attachment: Attachment
