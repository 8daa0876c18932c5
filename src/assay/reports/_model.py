"""The model validation section of the HTML report, read from the model checks' stored results.

Per evaluated dataset: the performance table (metric, value, interval) of
``model/performance/<dataset>.json`` — or of the ``model.performance`` finding's metrics when
that artefact cannot be read — the reliability diagram of ``model/calibration/<dataset>.json``
(docs/checks-model.md), and the worst slices of the ``model.slices`` findings. Nothing is
recomputed; an artefact that cannot be used is listed as not drawn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from assay.checks._registry import Finding
from assay.reports._charts import ReliabilityBin, reliability_svg
from assay.reports._common import Artefacts, format_metric, sort_key
from assay.reports._stored import (
    ABSENT,
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

PERFORMANCE = re.compile(r"model/performance/(?P<dataset>[^/]+)\.json")
CALIBRATION = re.compile(r"model/calibration/(?P<dataset>[^/]+)\.json")
SLICE_SUBJECT = re.compile(r"(?P<dataset>.+?) \[(?P<slice>.*)\]")
SLICE_LIMIT = 10
"""At most this many slices are listed per dataset, the worst first."""

BAD_BINS = "the {strategy} bins are not a list of bins with bounds, means in [0, 1] and counts"
NOT_A_DIAGRAM = "the content has no graded binning with bins"
NOT_PERFORMANCE = "the content has no metrics"
FROM_FINDING = "{name}: {why}; the table shows the model.performance finding's metrics instead."
INTERVAL = "{low} – {high}"
STRATEGY_NAMES = {"uniform": "equal-width", "quantile": "equal-mass"}


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: str
    interval: str
    graded: bool = False
    why: str | None = None
    """Why the value is undefined, when the artefact says."""


@dataclass(frozen=True)
class Performance:
    rows: list[MetricRow]
    interval_title: str
    finding: Finding | None
    source: str


@dataclass(frozen=True)
class Calibration:
    anchor: str
    svg: Markup
    details: list[str]
    finding: Finding | None


@dataclass(frozen=True)
class SliceRow:
    finding: Finding
    slice: str
    rows: str
    value: str
    interval: str
    rest: str
    effect: str
    p_adjusted: str


@dataclass(frozen=True)
class Slices:
    metric: str
    effect: str
    rows: list[SliceRow]
    omitted: int
    summaries: list[Finding]


@dataclass(frozen=True)
class ModelDataset:
    anchor: str
    name: str
    performance: Performance | None
    calibration: Calibration | None
    slices: Slices | None


@dataclass(frozen=True)
class ModelSection:
    datasets: list[ModelDataset]
    not_drawn: list[str] = field(default_factory=list)


def model_section(run: Run, artefacts: Artefacts) -> ModelSection | None:
    """The model validation section; ``None`` when the run has nothing of it to show."""
    performance = {s.match["dataset"]: s for s in stored_json(run, artefacts, PERFORMANCE)}
    calibration = {s.match["dataset"]: s for s in stored_json(run, artefacts, CALIBRATION)}
    findings = [f for f in run.findings if f.status in COMPUTED]
    by_check: dict[str, dict[str, Finding]] = {"model.performance": {}, "model.calibration": {}}
    slices: dict[str, list[Finding]] = {}
    for f in findings:
        if f.check_id in by_check:
            by_check[f.check_id][f.subject] = f
        elif f.check_id == "model.slices":
            match = SLICE_SUBJECT.fullmatch(f.subject)
            slices.setdefault(match["dataset"] if match else f.subject, []).append(f)
    names = sorted(
        {*performance, *calibration, *slices, *by_check["model.performance"]}
        | set(by_check["model.calibration"])
    )
    if not names:
        return None
    present = {s.name for s in (*performance.values(), *calibration.values())}
    not_drawn = [
        NOT_DRAWN.format(what="Model validation", why=note)
        for note in not_stored(
            findings,
            {
                "model.performance": "model/performance/{subject}.json",
                "model.calibration": "model/calibration/{subject}.json",
            },
            present,
        )
    ]
    datasets = []
    for i, name in enumerate(names, 1):
        anchor = f"model-{i}"
        table, note = _performance(performance.get(name), by_check["model.performance"].get(name))
        if note:
            not_drawn.append(note)
        diagram = None
        if name in calibration:
            drawn = _calibration(
                calibration[name], by_check["model.calibration"].get(name), anchor, name
            )
            if isinstance(drawn, str):
                not_drawn.append(drawn)
            else:
                diagram = drawn
        listed = _slices(name, slices.get(name, []))
        if table or diagram or listed:
            datasets.append(ModelDataset(anchor, name, table, diagram, listed))
    if not datasets and not not_drawn:
        return None
    return ModelSection(datasets, not_drawn)


def _performance(
    stored: Stored | None, finding: Finding | None
) -> tuple[Performance | None, str | None]:
    """The performance table, and a note when the artefact could not be used."""
    graded = finding.threshold.metric if finding and finding.threshold else None
    if stored is None:
        return (_from_finding(finding, graded) if finding else None), None
    problem = stored.problem or _performance_problem(stored.data)
    if problem is None:
        return _from_artefact(stored, finding, graded), None
    if finding is None:
        what = f"Performance table ({stored.name})"
        return None, NOT_DRAWN.format(what=what, why=problem.rstrip("."))
    return _from_finding(finding, graded), FROM_FINDING.format(
        name=stored.name, why=problem.rstrip(".")
    )


def _performance_problem(data: Any) -> str | None:
    ok = isinstance(data, Mapping) and isinstance(data.get("metrics"), Mapping)
    return None if ok else NOT_PERFORMANCE


def _from_artefact(stored: Stored, finding: Finding | None, graded: str | None) -> Performance:
    data = stored.data
    intervals, undefined = mapping(data.get("intervals")), mapping(data.get("undefined"))
    levels = {
        level
        for v in intervals.values()
        if (level := number(mapping(v).get("confidence"))) is not None
    }
    rows = []
    for name, value in data["metrics"].items():
        band = mapping(intervals.get(name))
        low, high = number(band.get("low")), number(band.get("high"))
        rows.append(
            MetricRow(
                name=str(name),
                value=shown(value, "undefined"),
                interval=_interval(low, high),
                graded=name == graded,
                why=text(undefined.get(name)),
            )
        )
    title = f"{round(levels.pop() * 100)}% CI" if len(levels) == 1 else "Confidence interval"
    return Performance(_graded_first(rows), title, finding, stored.name)


def _from_finding(finding: Finding, graded: str | None) -> Performance:
    metrics = finding.metrics
    rows = [
        MetricRow(
            name=name,
            value=shown(value, "undefined"),
            interval=_interval(
                number(metrics.get(f"{name}_ci_low")), number(metrics.get(f"{name}_ci_high"))
            ),
            graded=name == graded,
            why=finding.undefined.get(name),
        )
        for name, value in metrics.items()
        if name != "n_rows" and not name.endswith(("_ci_low", "_ci_high"))
    ]
    return Performance(_graded_first(rows), "Interval", finding, "the finding's metrics")


def _graded_first(rows: list[MetricRow]) -> list[MetricRow]:
    return sorted(rows, key=lambda r: not r.graded)


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ABSENT
    return INTERVAL.format(low=format_metric(low), high=format_metric(high))


def _calibration(
    stored: Stored, finding: Finding | None, anchor: str, dataset: str
) -> Calibration | str:
    """The reliability diagram, or the note saying why it is not drawn."""
    what = f"Reliability diagram of {dataset} ({stored.name})"
    if stored.problem:
        return NOT_DRAWN.format(what=what, why=stored.problem.rstrip("."))
    data = mapping(stored.data)
    strategies = mapping(data.get("strategies"))
    graded = text(data.get("graded"))
    if graded is None or graded not in strategies:
        return NOT_DRAWN.format(what=what, why=NOT_A_DIAGRAM)
    bins = _bins(strategies[graded])
    if not bins:
        return NOT_DRAWN.format(what=what, why=BAD_BINS.format(strategy=graded))
    others = [s for s in strategies if s != graded]
    other = others[0] if others else None
    other_bins = _bins(strategies[other]) if other else None
    binary = data.get("kind") == "binary"
    positive = data.get("positive")
    axes = (
        (f"mean predicted P({positive})", f"observed share of {positive}")
        if binary
        else ("mean confidence of the predicted label", "observed accuracy")
    )
    labels = (_strategy_label(graded, strategies[graded], graded=True), "")
    if other and other_bins:
        labels = (labels[0], _strategy_label(other, strategies[other], graded=False))
    svg = reliability_svg(
        bins,
        other_bins or [],
        labels=labels,
        axes=axes,
        name=f"{anchor}-calibration-svg",
        title=f"Reliability diagram of {dataset}: observed against predicted, per bin",
    )
    details = [
        "binary, positive class " + str(positive) if binary else "multiclass, top label",
        f"graded binning: {graded}",
    ]
    rows, brier = count(data.get("rows")), number(data.get("brier"))
    if brier is not None:
        details.append(f"Brier {format_metric(brier)}")
    if rows is not None:
        details.append(f"{rows:,} rows")
    if other and not other_bins:
        details.append(f"the {other} bins are not readable and not drawn")
    return Calibration(f"{anchor}-calibration", Markup(svg), details, finding)


def _strategy_label(strategy: str, stored: Any, *, graded: bool) -> str:
    name = STRATEGY_NAMES.get(strategy, strategy)
    ece = number(mapping(stored).get("ece"))
    label = f"{strategy} ({name}) bins" + (", graded" if graded else "")
    return label + (f": ECE {format_metric(ece)}" if ece is not None else "")


def _bins(stored: Any) -> list[ReliabilityBin]:
    """The stored bins, or an empty list when any of them is not a usable bin."""
    raw = mapping(stored).get("bins")
    if not isinstance(raw, list) or not raw:
        return []
    bins = []
    for entry in raw:
        item = mapping(entry)
        values = [number(item.get(k)) for k in ("lower", "upper", "mean_predicted", "observed")]
        rows = count(item.get("count"))
        if rows is None or any(v is None or not -1e-9 <= v <= 1 + 1e-9 for v in values):
            return []
        lower, upper, predicted, observed = (float(v or 0.0) for v in values)
        if upper < lower:
            return []
        bins.append(ReliabilityBin(lower, upper, predicted, observed, rows))
    return bins


def _slices(dataset: str, findings: Sequence[Finding]) -> Slices | None:
    """The dataset's slice findings with an effect, worst first; the others' messages."""
    if not findings:
        return None
    rated = []
    summaries = []
    classification = any("error_rate_gap" in f.metrics for f in findings)
    metric, effect = ("error_rate", "error_rate_gap") if classification else ("mae", "mae_ratio")
    for f in findings:
        value = number(f.metrics.get(effect))
        match = SLICE_SUBJECT.fullmatch(f.subject)
        if value is None or match is None:
            summaries.append(f)
        else:
            rated.append((value, f, match["slice"]))
    rated.sort(key=lambda r: (-r[0], sort_key(r[1])))
    rows = [
        SliceRow(
            finding=f,
            slice=label,
            rows=shown(f.metrics.get("n_rows")),
            value=shown(f.metrics.get(metric)),
            interval=_interval(
                number(f.metrics.get(f"{metric}_ci_low")),
                number(f.metrics.get(f"{metric}_ci_high")),
            ),
            rest=shown(f.metrics.get(f"rest_{metric}")),
            effect=format_metric(value),
            p_adjusted=shown(f.metrics.get("p_adjusted")),
        )
        for value, f, label in rated[:SLICE_LIMIT]
    ]
    names = ("error rate", "gap") if classification else ("MAE", "ratio")
    return Slices(names[0], names[1], rows, len(rated) - len(rows), sorted(summaries, key=sort_key))
