"""The fairness section of the HTML report, read from the fairness checks' stored results.

``fairness/<dataset>.json`` holds, per grouping (one sensitive feature or an intersection),
every group's size and rates (docs/checks-fairness.md). Each grouping gets its table, the
fairness findings on it, and a bar chart of selection rates; when a ``fairness.disparate_impact``
finding exists, its artefact ``fairness/<dataset>/disparate_impact/<features>.json`` names the
reference group, and the chart draws four fifths of that group's stored selection rate and
marks the groups that fail the rule as stored. Nothing is recomputed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from assay.checks._registry import Finding
from assay.reports._charts import selection_rate_svg
from assay.reports._common import Artefacts, sorted_findings
from assay.reports._stored import (
    COMPUTED,
    NOT_DRAWN,
    Stored,
    count,
    mapping,
    not_stored,
    number,
    shown,
    stored_json,
    text,
)
from assay.run import Run

GROUPS = re.compile(r"fairness/(?P<dataset>[^/]+)\.json")
IMPACT = re.compile(r"fairness/(?P<dataset>[^/]+)/disparate_impact/(?P<features>[^/]+)\.json")
PLOT_LIMIT = 30
"""At most this many groups are drawn in one chart: the largest, in their stored order."""
TABLE_LIMIT = 200
"""At most this many groups are listed in one table, in their stored order."""
FOUR_FIFTHS = 0.8

NO_GROUPINGS = "the content has no list of groupings"
UNREADABLE_GROUPINGS = "{count} grouping {entries} not readable"
NO_GROUPS = "no group has a name and a size"
NO_LINE = "four-fifths line of {subject} not drawn: {why}"
RATES = ("selection_rate", "tpr", "fpr", "precision", "error_rate")


@dataclass(frozen=True)
class GroupRow:
    group: str
    size: str
    rates: list[str]
    small: bool
    reference: bool = False
    four_fifths: bool | None = None
    """Whether the group passes the four-fifths rule, as the disparate-impact artefact says."""


@dataclass(frozen=True)
class Grouping:
    anchor: str
    subject: str
    features: str
    rows: list[GroupRow]
    omitted: int
    findings: list[Finding]
    svg: Markup | None
    notes: list[str]


@dataclass(frozen=True)
class FairnessDataset:
    name: str
    details: list[str]
    groupings: list[Grouping]
    notes: list[str]


@dataclass(frozen=True)
class FairnessSection:
    datasets: list[FairnessDataset]
    not_drawn: list[str] = field(default_factory=list)


def fairness_section(run: Run, artefacts: Artefacts) -> FairnessSection | None:
    """The fairness section; ``None`` when the run has no fairness artefact or finding of one."""
    stored = {s.match["dataset"]: s for s in stored_json(run, artefacts, GROUPS)}
    impacts = {
        (s.match["dataset"], s.match["features"]): s for s in stored_json(run, artefacts, IMPACT)
    }
    findings = [f for f in run.findings if f.domain == "fairness" and f.status in COMPUTED]
    expected = {
        f.check_id: "fairness/{dataset}.json"
        for f in findings
        if f.check_id.startswith("fairness.")
    }
    not_drawn = [
        NOT_DRAWN.format(what="Fairness tables", why=note)
        for note in not_stored(findings, expected, {s.name for s in stored.values()})
    ]
    if not stored and not not_drawn:
        return None
    datasets = []
    for i, name in enumerate(sorted(stored), 1):
        dataset = _dataset(i, stored[name], findings, impacts)
        if isinstance(dataset, str):
            not_drawn.append(dataset)
        else:
            datasets.append(dataset)
    return FairnessSection(datasets, not_drawn)


def _dataset(
    index: int,
    stored: Stored,
    findings: Sequence[Finding],
    impacts: Mapping[tuple[str, str], Stored],
) -> FairnessDataset | str:
    what = f"Fairness of {stored.match['dataset']} ({stored.name})"
    if stored.problem:
        return NOT_DRAWN.format(what=what, why=stored.problem.rstrip("."))
    data = mapping(stored.data)
    entries = data.get("groupings")
    if not isinstance(entries, list):
        return NOT_DRAWN.format(what=what, why=NO_GROUPINGS)
    name = text(data.get("dataset")) or stored.match["dataset"]
    details = []
    rows, positive = count(data.get("rows")), data.get("positive")
    if rows is not None:
        details.append(f"{rows:,} rows")
    if positive is not None and not isinstance(positive, Mapping | list):
        details.append(f"positive prediction: {positive}")
    details += [str(n) for n in data.get("notes") or [] if isinstance(n, str)]
    groupings, notes = [], []
    for j, entry in enumerate(entries, 1):
        grouping = _grouping(f"fairness-{index}-{j}", name, mapping(entry), findings, impacts)
        if grouping is None:
            continue
        groupings.append(grouping)
    bad = len(entries) - len(groupings)
    if bad:
        why = UNREADABLE_GROUPINGS.format(
            count=bad, entries="entry is" if bad == 1 else "entries are"
        )
        notes.append(NOT_DRAWN.format(what=f"Part of {stored.name}", why=why))
    return FairnessDataset(name, details, groupings, notes)


@dataclass(frozen=True)
class _Group:
    """One stored group entry: its name, size, rates (``None`` when undefined) and flag."""

    group: str
    size: int
    rates: list[float | None]
    small: bool


def _grouping(
    anchor: str,
    dataset: str,
    entry: Mapping[str, Any],
    findings: Sequence[Finding],
    impacts: Mapping[tuple[str, str], Stored],
) -> Grouping | None:
    features, entries = entry.get("features"), entry.get("groups")
    if (
        not isinstance(features, list)
        or not features
        or not all(isinstance(f, str) for f in features)
        or not isinstance(entries, list)
    ):
        return None
    joined = " & ".join(features)
    subject = f"{dataset}:{joined}"
    mine = sorted_findings(f for f in findings if f.subject == subject)
    groups = [g for e in entries if (g := _group(mapping(e))) is not None]
    notes = []
    if len(groups) < len(entries):
        bad = len(entries) - len(groups)
        notes.append(f"{bad} group {'entry is' if bad == 1 else 'entries are'} not readable")
    impact = next((f for f in mine if f.check_id == "fairness.disparate_impact"), None)
    reference, passes, line = None, dict[str, bool](), None
    if impact is not None:
        reference, passes, why = _impact(impacts.get((dataset, joined)))
        found = next((g for g in groups if g.group == reference), None)
        if reference is not None and found is None:
            why = f"the reference group {reference} is not among the stored groups"
        elif found is not None and found.rates[0] is None:
            why = f"the reference group {reference} has no selection rate"
        elif found is not None and found.rates[0] is not None:
            line = FOUR_FIFTHS * found.rates[0]
        if why:
            notes.append(NO_LINE.format(subject=subject, why=why))
    rows = [
        GroupRow(
            group=g.group,
            size=f"{g.size:,}",
            rates=[shown(r, "undefined") for r in g.rates],
            small=g.small,
            reference=g.group == reference,
            four_fifths=passes.get(g.group),
        )
        for g in groups[:TABLE_LIMIT]
    ]
    svg = _chart(anchor, subject, groups, reference, line, passes, notes) if groups else None
    return Grouping(anchor, subject, joined, rows, len(groups) - len(rows), mine, svg, notes)


def _group(entry: Mapping[str, Any]) -> _Group | None:
    name, size = text(entry.get("group")), count(entry.get("size"))
    if name is None or size is None:
        return None
    return _Group(name, size, [number(entry.get(k)) for k in RATES], entry.get("small") is True)


def _impact(stored: Stored | None) -> tuple[str | None, dict[str, bool], str | None]:
    """The reference group, each compared group's stored four-fifths result, or the problem."""
    if stored is None:
        return None, {}, "the disparate-impact artefact is not stored"
    if stored.problem:
        return None, {}, f"{stored.name}: {stored.problem.rstrip('.')}"
    data = mapping(stored.data)
    reference = text(data.get("privileged"))
    if reference is None:
        return None, {}, f"{stored.name} names no reference group"
    passes = {}
    for entry in data.get("by_group") or []:
        group, result = text(mapping(entry).get("group")), mapping(entry).get("passes_four_fifths")
        if group is not None and isinstance(result, bool):
            passes[group] = result
    return reference, passes, None


def _chart(
    anchor: str,
    subject: str,
    groups: list[_Group],
    reference: str | None,
    line: float | None,
    passes: Mapping[str, bool],
    notes: list[str],
) -> Markup:
    """The selection-rate chart of at most :data:`PLOT_LIMIT` groups: the largest, in order."""
    keep = sorted(sorted(range(len(groups)), key=lambda i: -groups[i].size)[:PLOT_LIMIT])
    shown_groups = [groups[i] for i in keep]
    if len(shown_groups) < len(groups):
        notes.append(f"the chart draws the {len(shown_groups)} largest of {len(groups)} groups")
    svg = selection_rate_svg(
        [g.group for g in shown_groups],
        [g.rates[0] for g in shown_groups],
        small=[g.small for g in shown_groups],
        fails=[passes.get(g.group) is False for g in shown_groups],
        reference=reference,
        four_fifths=line,
        name=f"{anchor}-svg",
        title=f"Selection rate per group of {subject}",
    )
    return Markup(svg)
