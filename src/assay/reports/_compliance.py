"""The compliance section of the reports, read from the stored ``compliance/matrix.json``.

Per framework: coverage, then each control with its citation, mapped checks, status and
the findings that evidence it (linked to their rows in the Findings table, with the artefacts
they cite). The ISO/IEC 42001 mapping is marked indicative. Nothing is recomputed: the
values are those ``governance.compliance_matrix`` stored; an artefact that cannot be used is
listed as not drawn.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.compliance import CONTROL_STATUSES
from assay.reports._common import Artefacts
from assay.reports._stored import NOT_DRAWN, count, mapping, number, stored_json, text
from assay.run import Run

MATRIX = re.compile(r"compliance/matrix\.json")
FINDING_LIMIT = 12
"""Findings listed per mapped check of a control, at most; the Findings table has them all."""
NOT_A_MATRIX = "the content has no list of frameworks"
STATUS_LABELS = {"not_evidenced": "not evidenced", "not_run": "not run"}


def finding_anchor(check_id: str, subject: str) -> str:
    """The HTML id of a finding's row in the Findings table (stable, safe in a URL)."""
    digest = hashlib.sha256(f"{check_id}\0{subject}".encode()).hexdigest()[:12]
    return f"finding-{digest}"


@dataclass(frozen=True)
class EvidenceLink:
    subject: str
    status: str
    anchor: str
    artefacts: list[str]


@dataclass(frozen=True)
class CheckCell:
    check_id: str
    status: str
    findings: list[EvidenceLink]
    omitted: int


@dataclass(frozen=True)
class ControlView:
    id: str
    title: str
    citation: str
    status: str
    checks: list[CheckCell]


@dataclass(frozen=True)
class FrameworkView:
    id: str
    anchor: str
    title: str
    source: str
    indicative: bool
    coverage: str
    evidenced: int | None
    total: int | None
    counts: list[tuple[str, int]]
    controls: list[ControlView]


@dataclass(frozen=True)
class ComplianceSection:
    frameworks: list[FrameworkView]
    not_drawn: list[str] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=lambda: STATUS_LABELS)


def compliance_section(run: Run, artefacts: Artefacts) -> ComplianceSection | None:
    """The compliance section; ``None`` when the run stores no compliance matrix."""
    stored = stored_json(run, artefacts, MATRIX)
    if not stored:
        return None
    matrix = stored[-1]
    data = mapping(matrix.data)
    problem = matrix.problem
    if problem is None and not isinstance(data.get("frameworks"), list):
        problem = NOT_A_MATRIX
    if problem is not None:
        what = f"Compliance matrix ({matrix.name})"
        return ComplianceSection([], [NOT_DRAWN.format(what=what, why=problem.rstrip("."))])
    names = {a.sha256: a.name for a in run.artefacts}
    frameworks = [_framework(mapping(fw), i, names) for i, fw in enumerate(data["frameworks"], 1)]
    return ComplianceSection(frameworks)


def _framework(fw: Mapping[str, Any], i: int, names: Mapping[str, str]) -> FrameworkView:
    coverage = number(fw.get("coverage_ratio"))
    counts = mapping(fw.get("counts"))
    return FrameworkView(
        id=text(fw.get("id")) or f"framework {i}",
        anchor=f"compliance-{i}",
        title=text(fw.get("title")) or text(fw.get("id")) or f"framework {i}",
        source=text(fw.get("source")) or "",
        indicative=fw.get("indicative") is True,
        coverage=f"{coverage:.0%}" if coverage is not None else "—",
        evidenced=count(fw.get("evidenced")),
        total=count(fw.get("controls_total")),
        counts=sorted(
            ((str(k), n) for k, v in counts.items() if (n := count(v))),
            key=lambda kv: _rank(kv[0]),
        ),
        controls=[_control(mapping(c), names) for c in _list(fw.get("controls"))],
    )


def _control(control: Mapping[str, Any], names: Mapping[str, str]) -> ControlView:
    return ControlView(
        id=text(control.get("id")) or "?",
        title=text(control.get("title")) or "",
        citation=text(control.get("citation")) or "",
        status=text(control.get("status")) or "not_evidenced",
        checks=[_check(mapping(c), names) for c in _list(control.get("checks"))],
    )


def _check(cell: Mapping[str, Any], names: Mapping[str, str]) -> CheckCell:
    check_id = text(cell.get("check_id")) or "?"
    findings = [mapping(f) for f in _list(cell.get("findings"))]
    links = [
        EvidenceLink(
            subject=subject,
            status=text(f.get("status")) or "?",
            anchor=finding_anchor(check_id, subject),
            artefacts=[
                names.get(ref.removeprefix("sha256:"), ref)
                for ref in _list(f.get("evidence"))
                if isinstance(ref, str)
            ],
        )
        for f in findings[:FINDING_LIMIT]
        if (subject := text(f.get("subject"))) is not None
    ]
    return CheckCell(
        check_id=check_id,
        status=text(cell.get("status")) or "not_run",
        findings=links,
        omitted=max(0, len(findings) - FINDING_LIMIT),
    )


def _rank(status: str) -> int:
    return CONTROL_STATUSES.index(status) if status in CONTROL_STATUSES else len(CONTROL_STATUSES)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
