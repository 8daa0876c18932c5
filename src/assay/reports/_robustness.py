"""The robustness section of the HTML report, read from the robustness checks' stored curves.

Every robustness check stores ``robustness/<check>/<dataset>.json`` (docs/robustness.md):
the level-based checks (noise, category swaps, missing values, out-of-range values) a
degradation curve — per level the metric, its drop, the flip rate and any exception — drawn as
metric and flip rate against the level; ``feature_dropout`` one pass per feature, drawn as bars;
``adversarial`` the share of attacked rows flipped within each budget. Each chart comes with
its stored values in a table. Nothing is recomputed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from assay.checks._registry import Finding, Status
from assay.reports._charts import degradation_svg, dropout_svg, success_curve_svg
from assay.reports._common import Artefacts, format_metric
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

CURVE = re.compile(r"robustness/(?P<check>[^/]+)/(?P<dataset>[^/]+)\.json")
LEVEL_AXES = {
    "robustness.noise": "σ (× each feature's std)",
    "robustness.category_swap": "share of rows swapped",
    "robustness.missing_values": "share of rows made null",
    "robustness.out_of_range": "stds beyond the training range",
}
"""The level axis's title per level-based check; another check's levels are just "level"."""
CHECK_ORDER = (
    "robustness.noise",
    "robustness.category_swap",
    "robustness.missing_values",
    "robustness.out_of_range",
    "robustness.feature_dropout",
    "robustness.adversarial",
)
METRIC_NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "r2": "R²", "mae": "MAE"}
FEATURE_LIMIT = 40
"""At most this many features are drawn in the feature-dropout chart, the worst first."""

NO_CURVE = "the content has no curve"
BAD_CURVE = "{count} curve {entries} not readable"
NOTHING_DEFINED = "no level has a defined metric or flip rate"
ALL_RAISED = "the model raised at every level ({raised})"
RAISED_LIMIT = 160


@dataclass(frozen=True)
class Chart:
    anchor: str
    check_id: str
    dataset: str
    svg: Markup
    details: list[str]
    findings: list[Finding]
    headers: tuple[str, ...]
    values: list[tuple[str, ...]]
    """The stored values drawn, one row per level (or feature, or budget), formatted."""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        """The status of the chart's finding; the worst of them for feature dropout."""
        return self.findings[0].status.value if self.findings else None

    @property
    def summary(self) -> str | None:
        """The finding's message; for several findings (one per feature), their statuses."""
        if len(self.findings) == 1:
            return self.findings[0].message
        counts = Counter(f.status.value for f in self.findings)
        parts = [f"{n} {status}" for status, n in counts.items()]
        return "findings per feature: " + ", ".join(parts) if parts else None


@dataclass(frozen=True)
class RobustnessDataset:
    name: str
    charts: list[Chart]


@dataclass(frozen=True)
class RobustnessSection:
    datasets: list[RobustnessDataset]
    not_drawn: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Pass:
    level: Any
    metric: float | None
    drop: float | None
    flip_rate: float | None
    invalid_rate: float | None
    raised: str | None
    undefined: str | None

    def row(self, level: str) -> tuple[str, ...]:
        return (
            level,
            shown(self.metric),
            shown(self.drop),
            shown(self.flip_rate),
            shown(self.invalid_rate),
            self.raised or self.undefined or "",
        )


def robustness_section(run: Run, artefacts: Artefacts) -> RobustnessSection | None:
    """The robustness section; ``None`` when the run has no robustness curve or finding of one."""
    stored = stored_json(run, artefacts, CURVE)
    findings = [f for f in run.findings if f.domain == "robustness" and f.status in COMPUTED]
    expected = {
        check: f"robustness/{check.removeprefix('robustness.')}/{{dataset}}.json"
        for check in {f.check_id for f in findings}
    }
    not_drawn = [
        NOT_DRAWN.format(what="Robustness curve", why=note)
        for note in not_stored(findings, expected, {s.name for s in stored})
    ]
    if not stored and not not_drawn:
        return None
    ordered = sorted(stored, key=lambda s: (s.match["dataset"], _rank(s), s.name))
    datasets: dict[str, list[Chart]] = {}
    for i, item in enumerate(ordered, 1):
        chart = _chart(f"robustness-{i}", item, findings)
        if isinstance(chart, str):
            not_drawn.append(chart)
        else:
            datasets.setdefault(chart.dataset, []).append(chart)
    return RobustnessSection(
        [RobustnessDataset(name, charts) for name, charts in datasets.items()], not_drawn
    )


def _rank(item: Stored) -> int:
    check = f"robustness.{item.match['check']}"
    return CHECK_ORDER.index(check) if check in CHECK_ORDER else len(CHECK_ORDER)


def _chart(anchor: str, item: Stored, findings: Sequence[Finding]) -> Chart | str:
    what = f"{item.name}"
    if item.problem:
        return NOT_DRAWN.format(what=what, why=item.problem.rstrip("."))
    data = mapping(item.data)
    curve = data.get("curve")
    if not isinstance(curve, list) or not curve:
        return NOT_DRAWN.format(what=what, why=NO_CURVE)
    check = text(data.get("check")) or f"robustness.{item.match['check']}"
    dataset = text(data.get("dataset")) or item.match["dataset"]
    if check == "robustness.adversarial":
        return _adversarial(anchor, what, check, dataset, data, curve, findings)
    passes = [p for entry in curve if (p := _pass(mapping(entry))) is not None]
    level_based = check != "robustness.feature_dropout"
    if level_based:
        passes = [p for p in passes if number(p.level) is not None]
    else:
        passes = [p for p in passes if text(p.level) is not None]
    if len(passes) < len(curve):
        bad = len(curve) - len(passes)
        why = BAD_CURVE.format(count=bad, entries="entry is" if bad == 1 else "entries are")
        return NOT_DRAWN.format(what=what, why=why)
    if all(p.metric is None and p.flip_rate is None for p in passes):
        raised = next((p.raised for p in passes if p.raised), None)
        why = ALL_RAISED.format(raised=_cut(raised)) if raised else NOTHING_DEFINED
        return NOT_DRAWN.format(what=what, why=why)
    metric = text(data.get("metric")) or "metric"
    name = METRIC_NAMES.get(metric, metric)
    if level_based:
        return _levels(anchor, check, dataset, data, passes, name, findings)
    return _dropout(anchor, check, dataset, data, passes, name, findings)


def _pass(entry: Mapping[str, Any]) -> _Pass | None:
    if "level" not in entry:
        return None
    values = [entry.get(k) for k in ("metric", "metric_drop", "flip_rate", "invalid_output_rate")]
    if any(v is not None and number(v) is None for v in values):
        return None
    metric, drop, flip, invalid = (number(v) for v in values)
    return _Pass(
        entry["level"],
        metric,
        drop,
        flip,
        invalid,
        text(entry.get("raised")),
        text(entry.get("undefined")),
    )


def _levels(
    anchor: str,
    check: str,
    dataset: str,
    data: Mapping[str, Any],
    passes: list[_Pass],
    metric: str,
    findings: Sequence[Finding],
) -> Chart:
    passes = sorted(passes, key=lambda p: float(p.level))
    levels = [float(p.level) for p in passes]
    reference = number(data.get("reference_level"))
    unperturbed = number(data.get("unperturbed_metric"))
    raised = [float(p.level) for p in passes if p.raised]
    svg = degradation_svg(
        levels,
        [p.metric for p in passes],
        [p.flip_rate for p in passes],
        unperturbed=unperturbed,
        reference=reference,
        raised=raised,
        labels=(metric, LEVEL_AXES.get(check, "level")),
        name=f"{anchor}-svg",
        title=f"{check} on {dataset}: {metric} and flip rate against the perturbation level",
    )
    details = _details(data, metric, unperturbed)
    if reference is not None:
        details.append(f"graded at level {reference:g}")
    notes = []
    if raised:
        levels_text = ", ".join(f"{lv:g}" for lv in raised)
        first = next(p.raised for p in passes if p.raised)
        notes.append(f"the model raised at level {levels_text} (marked ×): {_cut(first)}")
    return Chart(
        anchor=anchor,
        check_id=check,
        dataset=dataset,
        svg=Markup(svg),
        details=details,
        findings=_findings(findings, check, dataset),
        headers=("Level", metric, "Drop", "Flip rate", "Invalid outputs", "Problem"),
        values=[p.row(f"{float(p.level):g}") for p in passes],
        notes=notes,
    )


def _dropout(
    anchor: str,
    check: str,
    dataset: str,
    data: Mapping[str, Any],
    passes: list[_Pass],
    metric: str,
    findings: Sequence[Finding],
) -> Chart:
    mine = {f.subject: f for f in findings if f.check_id == check}
    ordered = sorted(
        passes,
        key=lambda p: (
            p.raised is None,
            p.drop is None,
            -(p.drop or 0.0),
            str(p.level),
        ),
    )
    drawn = ordered[:FEATURE_LIMIT]
    statuses = []
    for p in drawn:
        finding = mine.get(f"{dataset}:{p.level}")
        statuses.append(finding.status.value if finding else None)
    svg = dropout_svg(
        [str(p.level) for p in drawn],
        [p.drop for p in drawn],
        [p.flip_rate for p in drawn],
        statuses=statuses,
        notes=["model raised" if p.raised else None for p in drawn],
        metric_name=metric,
        name=f"{anchor}-svg",
        title=f"{check} on {dataset}: drop in {metric} and flip rate per feature made unavailable",
    )
    fill = text(data.get("fill"))
    details = _details(data, metric, number(data.get("unperturbed_metric")))
    if fill:
        details.append("each feature in turn " + ("null" if fill == "null" else f"at its {fill}"))
    notes = []
    if len(drawn) < len(ordered):
        notes.append(f"the chart draws the {len(drawn)} worst of {len(ordered)} features")
    return Chart(
        anchor=anchor,
        check_id=check,
        dataset=dataset,
        svg=Markup(svg),
        details=details,
        findings=sorted(
            (f for s, f in mine.items() if s.startswith(f"{dataset}:")),
            key=lambda f: _status_rank(f.status),
        ),
        headers=("Feature", metric, "Drop", "Flip rate", "Invalid outputs", "Problem"),
        values=[p.row(str(p.level)) for p in ordered],
        notes=notes,
    )


def _adversarial(
    anchor: str,
    what: str,
    check: str,
    dataset: str,
    data: Mapping[str, Any],
    curve: list[Any],
    findings: Sequence[Finding],
) -> Chart | str:
    points = [
        (number(mapping(e).get("budget")), number(mapping(e).get("success_rate"))) for e in curve
    ]
    if any(b is None or s is None or not 0 <= s <= 1 for b, s in points):
        return NOT_DRAWN.format(what=what, why="the curve is not a list of budgets and shares")
    budgets = [float(b or 0.0) for b, _ in points]
    success = [float(s or 0.0) for _, s in points]
    budget = number(data.get("budget"))
    svg = success_curve_svg(
        budgets,
        success,
        budget=budget,
        name=f"{anchor}-svg",
        title=f"{check} on {dataset}: share of attacked rows flipped within each budget",
    )
    details = []
    rows = count(data.get("rows"))
    if budget is not None:
        details.append(f"graded budget {budget:g} std")
    attacked = data.get("attacked_rows")
    if isinstance(attacked, list):
        details.append(f"{len(attacked):,} rows attacked")
    if rows is not None:
        details.append(f"sample of {rows:,} rows")
    return Chart(
        anchor=anchor,
        check_id=check,
        dataset=dataset,
        svg=Markup(svg),
        details=details,
        findings=_findings(findings, check, dataset),
        headers=("Budget", "Rows flipped"),
        values=[(f"{b:g}", format_metric(s)) for b, s in zip(budgets, success, strict=True)],
    )


def _details(data: Mapping[str, Any], metric: str, unperturbed: float | None) -> list[str]:
    details = []
    if unperturbed is not None:
        details.append(f"unperturbed {metric} {format_metric(unperturbed)}")
    rows = count(data.get("rows"))
    if rows is not None:
        details.append(f"{rows:,} rows")
    tolerance = number(data.get("flip_tolerance"))
    if tolerance is not None:
        details.append(f"a prediction flips when it moves more than {format_metric(tolerance)}")
    return details


def _findings(findings: Sequence[Finding], check: str, dataset: str) -> list[Finding]:
    return [f for f in findings if f.check_id == check and f.subject == dataset]


def _status_rank(status: Status) -> int:
    return [Status.FAIL, Status.WARN, Status.WAIVED, Status.PASS].index(status)


def _cut(value: str | None) -> str:
    value = value or ""
    return value if len(value) <= RAISED_LIMIT else value[: RAISED_LIMIT - 1] + "…"
