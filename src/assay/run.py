"""The record of one audit: what went in, what was found, and the verdict.

A :class:`Run` is stored as canonical JSON (sorted keys, no spaces, UTF-8) in the evidence
repository; its id is the sha256 of those bytes, so a run cannot change without changing its
id. Reports, ``runs diff`` and the baseline comparison read runs back with :meth:`Run.from_json`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from assay.checks._registry import Finding, Severity, Status

RUN_SCHEMA = "assay.run/1"
"""Type id and version of the stored run record. Bump the number on an incompatible change."""


def canonical_json(data: Any) -> bytes:
    """The one byte form of a JSON value that hashes are computed over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Artefact:
    """A piece of evidence stored with a run: a manifest, a plot, a profile."""

    name: str
    sha256: str
    media_type: str
    size: int

    @property
    def ref(self) -> str:
        return f"sha256:{self.sha256}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "size": self.size,
        }


@dataclass(frozen=True)
class Verdict:
    """``pass`` or ``fail``, the severity it failed at, and the count of findings per status."""

    status: str
    fail_on: Severity
    counts: Mapping[str, int]
    blocking: tuple[tuple[str, str], ...] = ()  # (check_id, subject) of what failed the gate

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "fail_on": self.fail_on.value,
            "counts": dict(self.counts),
            "blocking": [list(b) for b in self.blocking],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            status=data["status"],
            fail_on=Severity(data["fail_on"]),
            counts=dict(data["counts"]),
            blocking=tuple((b[0], b[1]) for b in data.get("blocking", ())),
        )


def compute_verdict(findings: Sequence[Finding], fail_on: Severity) -> Verdict:
    """``fail`` if a finding at or above ``fail_on`` failed or errored, ``pass`` otherwise."""
    counts = {s.value: 0 for s in Status}
    blocking = []
    for f in findings:
        counts[f.status.value] += 1
        if f.status in (Status.FAIL, Status.ERROR) and f.severity.rank >= fail_on.rank:
            blocking.append(f.key)
    return Verdict("fail" if blocking else "pass", fail_on, counts, tuple(blocking))


@dataclass(frozen=True)
class Run:
    """One audit. ``previous`` is the id of the run stored before it in the same repository."""

    created: str
    tool_version: str
    system: Mapping[str, str]
    seed: int
    spec_sha256: str
    inputs: Sequence[Mapping[str, Any]]
    environment: Mapping[str, Any]
    findings: Sequence[Finding]
    verdict: Verdict
    artefacts: Sequence[Artefact] = ()
    previous: str | None = None
    baseline: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RUN_SCHEMA,
            "created": self.created,
            "tool_version": self.tool_version,
            "system": dict(self.system),
            "seed": self.seed,
            "spec_sha256": self.spec_sha256,
            "inputs": [dict(i) for i in self.inputs],
            "environment": dict(self.environment),
            "findings": [f.to_json() for f in self.findings],
            "verdict": self.verdict.to_json(),
            "artefacts": [a.to_json() for a in self.artefacts],
            "previous": self.previous,
            "baseline": self.baseline,
            "extra": dict(self.extra),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def id(self) -> str:
        """The sha256 of the run's canonical JSON."""
        return sha256_hex(self.to_bytes())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        if data.get("schema") != RUN_SCHEMA:
            raise ValueError(f"not an {RUN_SCHEMA} record: schema={data.get('schema')!r}")
        return cls(
            created=data["created"],
            tool_version=data["tool_version"],
            system=dict(data["system"]),
            seed=data["seed"],
            spec_sha256=data["spec_sha256"],
            inputs=[dict(i) for i in data["inputs"]],
            environment=dict(data["environment"]),
            findings=[Finding.from_json(f) for f in data["findings"]],
            verdict=Verdict.from_json(data["verdict"]),
            artefacts=[Artefact(**a) for a in data.get("artefacts", ())],
            previous=data.get("previous"),
            baseline=data.get("baseline"),
            extra=dict(data.get("extra", {})),
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Run:
        return cls.from_json(json.loads(raw))

    def with_previous(self, previous: str | None) -> Run:
        return replace(self, previous=previous)
