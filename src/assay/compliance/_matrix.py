"""The compliance matrix: control → mapped checks → their findings' statuses → evidence.

A control's status is the worst status among the findings of its mapped checks — ``fail``,
then ``error``, ``warn``, ``waived``, ``pass`` — and ``not_evidenced`` when none of them
judged anything (every mapped check skipped, disabled or not applicable). A framework's
coverage is its evidenced controls over its controls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.checks._registry import Finding, Status
from assay.compliance._catalogue import Catalogue, Control, Framework

MATRIX_SCHEMA = "assay.compliance_matrix/1"
MATRIX_ARTEFACT = "compliance/matrix.json"

NOT_EVIDENCED = "not_evidenced"
NOT_RUN = "not_run"
CONTROL_STATUSES = ("fail", "error", "warn", "waived", "pass", NOT_EVIDENCED)
"""A control's possible statuses, worst first."""
_JUDGED = (Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED, Status.PASS)


@dataclass(frozen=True)
class Evidence:
    """One finding of a mapped check: what it judged, and the artefacts it cites."""

    check_id: str
    subject: str
    status: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class CheckRow:
    check_id: str
    status: str
    """The worst status of the check's judging findings, or ``not_run``."""
    findings: tuple[Evidence, ...]


@dataclass(frozen=True)
class ControlRow:
    control: Control
    status: str
    checks: tuple[CheckRow, ...]


@dataclass(frozen=True)
class FrameworkMatrix:
    framework: Framework
    controls: tuple[ControlRow, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Controls per status, every status present."""
        counts = dict.fromkeys(CONTROL_STATUSES, 0)
        for row in self.controls:
            counts[row.status] += 1
        return counts

    @property
    def evidenced(self) -> int:
        return sum(1 for row in self.controls if row.status != NOT_EVIDENCED)

    @property
    def coverage_ratio(self) -> float | None:
        """Evidenced controls over catalogue controls; ``None`` for a framework with none."""
        return self.evidenced / len(self.controls) if self.controls else None


def _worst(statuses: Iterable[str], none: str) -> str:
    present = set(statuses)
    return next((s for s in CONTROL_STATUSES if s in present), none)


def build_matrix(
    catalogue: Catalogue, findings: Iterable[Finding], frameworks: Sequence[str]
) -> list[FrameworkMatrix]:
    """The matrix of ``frameworks`` (in that order) over ``findings``."""
    judged: dict[str, list[Evidence]] = {}
    for f in sorted(findings, key=lambda f: (f.check_id, f.subject)):
        if f.status in _JUDGED:
            judged.setdefault(f.check_id, []).append(
                Evidence(f.check_id, f.subject, f.status.value, tuple(f.evidence))
            )
    out = []
    for fw_id in frameworks:
        framework = catalogue.frameworks[fw_id]
        rows = []
        for control in framework.controls:
            checks = tuple(
                CheckRow(
                    check_id,
                    _worst((e.status for e in judged.get(check_id, [])), NOT_RUN),
                    tuple(judged.get(check_id, [])),
                )
                for check_id in control.checks
            )
            status = _worst((c.status for c in checks), NOT_EVIDENCED)
            rows.append(ControlRow(control, status, checks))
        out.append(FrameworkMatrix(framework, tuple(rows)))
    return out


def matrix_json(
    matrices: Sequence[FrameworkMatrix], unmapped: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The stored form of the matrix (artefact ``compliance/matrix.json``)."""
    return {
        "schema": MATRIX_SCHEMA,
        "statuses": list(CONTROL_STATUSES),
        "frameworks": [
            {
                "id": m.framework.id,
                "title": m.framework.title,
                "source": m.framework.source,
                "indicative": m.framework.indicative,
                "controls_total": len(m.controls),
                "evidenced": m.evidenced,
                "coverage_ratio": m.coverage_ratio,
                "counts": m.counts,
                "controls": [
                    {
                        "id": row.control.id,
                        "title": row.control.title,
                        "citation": row.control.citation,
                        "status": row.status,
                        "checks": [
                            {
                                "check_id": c.check_id,
                                "status": c.status,
                                "findings": [
                                    {
                                        "subject": e.subject,
                                        "status": e.status,
                                        "evidence": list(e.evidence),
                                    }
                                    for e in c.findings
                                ],
                            }
                            for c in row.checks
                        ],
                    }
                    for row in m.controls
                ],
            }
            for m in matrices
        ],
        "unmapped": dict(sorted((unmapped or {}).items())),
    }
