"""The drift section of the HTML report, read from the drift checks' stored artefacts.

``drift.feature``, ``drift.label`` and ``drift.prediction`` each store one JSON artefact per
comparison, named ``drift/<check id>/<current dataset>.json``: per column its kind, test,
statistic, corrected p-value, effect size and the shares to draw (docs/checks.md, "Drift").
Here they are grouped by comparison (reference → current), each column is joined to its
finding by check id and subject, and the columns are ranked by effect size, largest first.
The failing, warning and waived columns are drawn in that order, at most :data:`PLOT_LIMIT`
per comparison. Nothing is recomputed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from assay.checks._registry import Finding, Metric, Status
from assay.reports._common import JSON_MEDIA_TYPE, Artefacts, format_metric, sorted_findings
from assay.run import Run

if TYPE_CHECKING:
    from assay.reports.plots import DriftPlotter

PLOT_LIMIT = 30
"""At most this many columns of one comparison are drawn; the table lists every column."""

BAR_LIMIT = 20
"""At most this many categories (or values) are drawn in one bar chart: those with the
largest shares, in their stored order."""

DRIFT_CHECKS = ("drift.feature", "drift.label", "drift.prediction")
"""The checks that store a comparison artefact, in the order their columns are listed on ties."""

DRAWN = (Status.FAIL, Status.WARN, Status.WAIVED)
"""Statuses whose columns get a plot (a waived finding failed or warned before its waiver)."""

ARTEFACT_NAME = re.compile(r"drift/(?P<check>drift\.[^/]+)/(?P<current>.+)\.json")
NOT_A_COMPARISON = "{name}: not a drift comparison ({why}); left out of this section."
UNREADABLE_COLUMNS = "{name}: {count} column {entries} not readable; left out of this section."
NO_PLOT_DATA = "no distribution was stored"
BAD_PLOT_DATA = "the stored plot data is not readable"
ABSENT = "—"
DATETIME_AXIS = "time since 1970-01-01 (days, or the column's unit)"


@dataclass(frozen=True)
class DriftRow:
    """One compared column as its comparison's table shows it; numbers are formatted."""

    check_id: str
    column: str
    kind: str
    test: str
    statistic: str
    p_value_adjusted: str
    effect_size: str
    status: str | None
    anchor: str | None = None
    """The id of the column's plot, when it is drawn."""


@dataclass(frozen=True)
class DriftPlot:
    """One drawn column: its caption's parts and the inline SVG."""

    anchor: str
    row: DriftRow
    details: list[str]
    svg: Markup


@dataclass(frozen=True)
class Undrawn:
    """A failing, warning or waived column with nothing to draw, and its finding's message."""

    row: DriftRow
    reason: str
    message: str


@dataclass(frozen=True)
class Comparison:
    """Everything the report shows of one reference → current comparison."""

    anchor: str
    reference: str
    current: str
    rows: list[DriftRow]
    plots: list[DriftPlot] = field(default_factory=list)
    omitted: int = 0
    undrawn: list[Undrawn] = field(default_factory=list)
    overall: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class DriftSection:
    comparisons: list[Comparison]
    problems: list[str]


@dataclass(frozen=True)
class _Column:
    """One column entry of a comparison artefact, with its finding."""

    check_id: str
    column: str
    kind: str | None
    test: str | None
    statistic: float | None
    p_value_adjusted: float | None
    effect_size: float | None
    plot: Any
    finding: Finding | None

    def sort_key(self) -> tuple[bool, float, int, str]:
        """Largest effect size first; columns without one last; then by check and name."""
        rank = DRIFT_CHECKS.index(self.check_id) if self.check_id in DRIFT_CHECKS else 99
        effect = self.effect_size
        return (effect is None, -(effect or 0.0), rank, self.column)

    def row(self, anchor: str | None = None) -> DriftRow:
        return DriftRow(
            check_id=self.check_id,
            column=self.column,
            kind=self.kind or ABSENT,
            test=self.test or ABSENT,
            statistic=_number_text(self.statistic),
            p_value_adjusted=_number_text(self.p_value_adjusted),
            effect_size=_number_text(self.effect_size),
            status=self.finding.status.value if self.finding else None,
            anchor=anchor,
        )


def drift_section(run: Run, artefacts: Artefacts) -> DriftSection | None:
    """The drift section of a run; ``None`` when the run stored no drift comparison."""
    stored = [
        (a, match)
        for a in run.artefacts
        if a.media_type == JSON_MEDIA_TYPE and (match := ARTEFACT_NAME.fullmatch(a.name))
    ]
    if not stored:
        return None
    findings = {f.key: f for f in run.findings}
    grouped: dict[tuple[str, str], list[_Column]] = {}
    problems: list[str] = []
    for artefact, match in stored:
        content = artefacts.json_content(artefact.sha256)
        data = content.data
        if content.problem is not None:
            problems.append(f"{artefact.name}: {content.problem}.")
            continue
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
            why = "no list of columns"
            problems.append(NOT_A_COMPARISON.format(name=artefact.name, why=why))
            continue
        reference = _text(data.get("reference")) or "reference"
        current = _text(data.get("current")) or match["current"]
        check_id = _text(data.get("check")) or match["check"]
        columns, unreadable = _columns(data["columns"], check_id, current, findings)
        if unreadable:
            entries = "entry is" if unreadable == 1 else "entries are"
            problems.append(
                UNREADABLE_COLUMNS.format(name=artefact.name, count=unreadable, entries=entries)
            )
        grouped.setdefault((reference, current), []).extend(columns)
    comparisons = [
        _comparison(i, reference, current, grouped[reference, current], run.findings)
        for i, (reference, current) in enumerate(sorted(grouped, key=lambda k: (k[1], k[0])), 1)
    ]
    return DriftSection(comparisons, problems)


def _columns(
    entries: Sequence[Any],
    check_id: str,
    current: str,
    findings: Mapping[tuple[str, str], Finding],
) -> tuple[list[_Column], int]:
    """The readable column entries of one artefact, and how many were not readable."""
    columns = []
    for entry in entries:
        name = _text(entry.get("column")) if isinstance(entry, Mapping) else None
        if not isinstance(entry, Mapping) or name is None:
            continue
        subject = _text(entry.get("subject")) or f"{current}:{name}"
        columns.append(
            _Column(
                check_id=check_id,
                column=name,
                kind=_text(entry.get("kind")),
                test=_text(entry.get("test")),
                statistic=_number(entry.get("statistic")),
                p_value_adjusted=_number(entry.get("p_value_adjusted")),
                effect_size=_number(entry.get("effect_size")),
                plot=entry.get("plot"),
                finding=findings.get((check_id, subject)),
            )
        )
    return columns, len(entries) - len(columns)


def _comparison(
    index: int, reference: str, current: str, columns: list[_Column], findings: Sequence[Finding]
) -> Comparison:
    columns = sorted(columns, key=_Column.sort_key)
    rows = [c.row() for c in columns]
    flagged = [
        (i, c) for i, c in enumerate(columns) if c.finding is not None and c.finding.status in DRAWN
    ]
    plots: list[DriftPlot] = []
    undrawn: list[Undrawn] = []
    omitted = 0
    plotter: DriftPlotter | None = None
    for i, column in flagged:
        assert column.finding is not None  # flagged columns have a finding
        data = _plot_data(column.plot)
        if data is None:
            reason = NO_PLOT_DATA if column.plot is None else BAD_PLOT_DATA
            undrawn.append(Undrawn(rows[i], reason, column.finding.message))
            continue
        if len(plots) == PLOT_LIMIT:
            omitted += 1
            continue
        if plotter is None:
            from assay.reports.plots import DriftPlotter

            plotter = DriftPlotter(reference, current)
        number = len(plots) + 1
        anchor = f"drift-{index}-plot-{number}"
        svg, note = _draw(plotter, data, column, name=f"drift-{index}-svg-{number}")
        rows[i] = replace(rows[i], anchor=anchor)
        details = _details(column, reference, current) + ([note] if note else [])
        plots.append(DriftPlot(anchor, rows[i], details, Markup(svg)))
    overall = [f for f in sorted_findings(findings) if f.domain == "drift" and f.subject == current]
    return Comparison(
        anchor=f"drift-{index}",
        reference=reference,
        current=current,
        rows=rows,
        plots=plots,
        omitted=omitted,
        undrawn=undrawn,
        overall=overall,
    )


@dataclass(frozen=True)
class _Histogram:
    edges: list[float]
    reference: list[float]
    current: list[float]


@dataclass(frozen=True)
class _Bars:
    labels: list[str]
    reference: list[float]
    current: list[float]
    total: int
    """Categories (or values) stored; only the :data:`BAR_LIMIT` largest are kept."""


def _plot_data(plot: Any) -> _Histogram | _Bars | None:
    """The stored plot data checked for shape, or ``None`` when it cannot be drawn."""
    if not isinstance(plot, Mapping):
        return None
    ref, cur = _shares(plot.get("reference")), _shares(plot.get("current"))
    if ref is None or cur is None or len(ref) != len(cur) or not ref:
        return None
    if plot.get("type") == "histogram":
        edges = _shares(plot.get("edges"), shares=False)
        if edges is None or len(edges) != len(ref) + 1 or edges != sorted(edges):
            return None
        return _Histogram(edges, ref, cur)
    labels = plot.get("labels")
    if plot.get("type") != "bars" or not isinstance(labels, list) or len(labels) != len(ref):
        return None
    keep = sorted(sorted(range(len(ref)), key=lambda i: -(ref[i] + cur[i]))[:BAR_LIMIT])
    return _Bars(
        [str(labels[i]) for i in keep], [ref[i] for i in keep], [cur[i] for i in keep], len(ref)
    )


def _draw(
    plotter: DriftPlotter, data: _Histogram | _Bars, column: _Column, *, name: str
) -> tuple[str, str | None]:
    """The column's SVG, and a note on what was left out of it."""
    reference, current = plotter.reference, plotter.current
    if isinstance(data, _Histogram):
        title = f"Histogram of {column.column}: shares of values in {reference} and {current}"
        xlabel = DATETIME_AXIS if column.kind == "datetime" else "value"
        svg = plotter.histogram(
            data.edges, data.reference, data.current, name=name, title=title, xlabel=xlabel
        )
        return svg, None
    title = f"Bar chart of {column.column}: shares of values in {reference} and {current}"
    svg = plotter.bars(data.labels, data.reference, data.current, name=name, title=title)
    if len(data.labels) == data.total:
        return svg, None
    what = "values" if column.kind == "numeric" else "categories"
    return svg, f"the {len(data.labels)} of {data.total} {what} with the largest shares are drawn"


def _details(column: _Column, reference: str, current: str) -> list[str]:
    """The caption of a drawn column after its name: test, statistic, p, effect and sizes.

    The effect size is left out when it is the statistic (the test was the effect-size test).
    """
    parts = []
    if column.test and column.statistic is not None:
        parts.append(f"{column.test} statistic {format_metric(column.statistic)}")
    if column.p_value_adjusted is not None:
        parts.append(f"corrected p {format_metric(column.p_value_adjusted)}")
    if column.effect_size is not None and column.effect_size != column.statistic:
        parts.append(f"effect size {format_metric(column.effect_size)}")
    metrics = column.finding.metrics if column.finding else {}
    n_ref, n_cur = _count(metrics.get("n_reference")), _count(metrics.get("n_current"))
    if n_ref is not None and n_cur is not None:
        parts.append(f"n = {n_ref:,} ({reference}) / {n_cur:,} ({current})")
    return parts


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    """A finite number, or ``None`` for anything else (booleans included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _shares(values: Any, *, shares: bool = True) -> list[float] | None:
    """A list of finite numbers (non-negative when ``shares``), or ``None``."""
    if not isinstance(values, list):
        return None
    numbers = [_number(v) for v in values]
    if any(n is None or (shares and n < 0) for n in numbers):
        return None
    return [n for n in numbers if n is not None]


def _count(value: Metric) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def _number_text(value: float | None) -> str:
    return ABSENT if value is None else format_metric(value)
