"""Reading the stored artefacts of the model, fairness and robustness sections, never raising.

Each section finds its JSON artefacts by name, reads them once through
:class:`~assay.reports._common.Artefacts`, and checks every value it uses for type: a value of
the wrong type reads as absent, and an artefact that cannot be used is listed in the section
as "not drawn" with the reason. Nothing is recomputed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from assay.checks._registry import Finding, Status
from assay.reports._common import JSON_MEDIA_TYPE, Artefacts, format_metric
from assay.run import Run

NOT_DRAWN = "{what} not drawn: {why}."
NOT_STORED = "{check} on {subject} cites evidence, but the run stores no {name}"
COMPUTED = (Status.PASS, Status.WARN, Status.FAIL, Status.WAIVED)
"""Statuses of a finding whose check computed something (and stored its artefact)."""
ABSENT = "—"


@dataclass(frozen=True)
class Stored:
    """One JSON artefact of the run whose name matched: the match, and its content or problem."""

    name: str
    match: re.Match[str]
    data: Any
    problem: str | None


def stored_json(run: Run, artefacts: Artefacts, pattern: re.Pattern[str]) -> list[Stored]:
    """The run's JSON artefacts whose whole name matches ``pattern``, once per name, in order."""
    seen: set[str] = set()
    out = []
    for artefact in run.artefacts:
        match = pattern.fullmatch(artefact.name)
        if artefact.media_type != JSON_MEDIA_TYPE or match is None or artefact.name in seen:
            continue
        seen.add(artefact.name)
        content = artefacts.json_content(artefact.sha256)
        out.append(Stored(artefact.name, match, content.data, content.problem))
    return out


def not_stored(
    findings: Iterable[Finding], expected: Mapping[str, str], present: set[str]
) -> list[str]:
    """Notes for computed findings of the checks in ``expected`` (check id → artefact name
    template with ``{subject}``) that cite evidence while their artefact is not stored."""
    notes = []
    for f in findings:
        template = expected.get(f.check_id)
        if template is None or f.status not in COMPUTED or not f.evidence:
            continue
        name = template.format(subject=f.subject, dataset=f.subject.split(":", 1)[0])
        if name not in present:
            notes.append(NOT_STORED.format(check=f.check_id, subject=f.subject, name=name))
    return list(dict.fromkeys(notes))


def text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def number(value: Any) -> float | None:
    """A finite number, or ``None`` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def count(value: Any) -> int | None:
    """A non-negative whole number, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def shown(value: Any, absent: str = ABSENT) -> str:
    """A stored number as the tables show it (:func:`format_metric`), or ``absent``."""
    return format_metric(value) if number(value) is not None else absent


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
