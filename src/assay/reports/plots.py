"""Inline SVG plots for the HTML report, drawn from stored findings and artefacts.

Each plot is one ``<svg class="plot" role="img" aria-label=…>`` element written with the
primitives of :mod:`assay.reports._svg` (no plotting library: importing and laying out
matplotlib figures cost half a second per report). Every id inside a plot starts with the
plot's name, so many plots can share one page; the same input always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.checks._registry import Finding, Status
from assay.reports._common import (
    STATUS_COLOURS,
    STATUS_ORDER,
    domain_title,
    domains_in_order,
    finding_label,
    format_metric,
    graded_value,
    sorted_findings,
)
from assay.reports._svg import (
    SPINE,
    Canvas,
    Scale,
    cut,
    nice_ticks,
    percent_label,
    text_width,
    tick_label,
)
from assay.reports._svg import legend as _legend

THRESHOLD_PLOT_LIMIT = 30
"""At most this many failing or warning findings are drawn against their thresholds."""

LABEL_LIMIT = 48
"""Longest finding label drawn on an axis; longer labels are cut with an ellipsis."""

DRIFT_COLOURS = {"reference": "#4c72b0", "current": "#dd8452"}
"""Reference and current in the drift plots: blue and orange, which most colour-vision
deficiencies still tell apart; the reference is also the filled step, or the upper bar."""

DRIFT_LABEL_LIMIT = 28
"""Longest category label drawn in a drift bar chart; longer labels are cut with an ellipsis."""

DRIFT_NAME_LIMIT = 24
"""Longest dataset name drawn in a drift plot's legend."""

_FONT = 9.0
_DRIFT_FONT = 8.0
_DRIFT_WIDTH, _HIST_LEFT, _HIST_HEIGHT = 400.0, 62.0, 150.0
_BAR_ROW, _BAR_MIN_PLOT = 29.0, 210.0
_TOP, _BOTTOM, _RIGHT, _LEGEND_ROW = 8.0, 46.0, 18.0, 18.0


def domain_status_svg(findings: Sequence[Finding]) -> str | None:
    """Horizontal bars of findings per domain, stacked by status; ``None`` without findings."""
    if not findings:
        return None
    domains = domains_in_order(findings)
    titles = [domain_title(d) for d in domains]
    counts = {
        d: [sum(1 for f in findings if f.domain == d and f.status is s) for s in STATUS_ORDER]
        for d in domains
    }
    statuses = [s for i, s in enumerate(STATUS_ORDER) if any(counts[d][i] for d in domains)]
    width, row = 620.0, 26.0
    left = 14 + max(text_width(t, _FONT) for t in titles)
    top = 30.0
    height = top + row * len(domains) + 44
    canvas = Canvas(width, height, "domains", "Findings per domain, stacked by status")
    _legend(
        canvas,
        [(s.value, STATUS_COLOURS[s.value], "box") for s in statuses],
        width / 2,
        12,
        centre=True,
    )
    most = max(sum(c) for c in counts.values())
    ticks = nice_ticks(0, most, 6, integer=True)
    x = Scale(0, max(ticks[-1], most, 1), left, width - _RIGHT)
    for i, domain in enumerate(domains):
        y = top + row * i + row * 0.15
        start = 0
        for status, count in zip(STATUS_ORDER, counts[domain], strict=True):
            if count:
                canvas.rect(
                    x(start),
                    y,
                    x(start + count) - x(start),
                    row * 0.7,
                    STATUS_COLOURS[status.value],
                )
                start += count
        canvas.text(left - 6, y + row * 0.35, titles[i], size=_FONT, anchor="end")
    bottom = top + row * len(domains)
    canvas.line(left, top, left, bottom, SPINE)
    canvas.x_axis(x, bottom, ticks, [f"{t:.0f}" for t in ticks], size=_FONT, title="findings")
    return canvas.render()


def threshold_svg(findings: Sequence[Finding]) -> tuple[str | None, int]:
    """Each failing or warning finding's graded metric against its warn and fail levels.

    One small panel per finding, each on its own scale: the bar is the metric's value, the
    dashed line the warn level and the solid line the fail level. Returns the SVG (``None``
    when no finding qualifies) and how many qualifying findings were left out.
    """
    graded = [
        f
        for f in sorted_findings(findings)
        if f.status in (Status.FAIL, Status.WARN) and graded_value(f) is not None
    ]
    if not graded:
        return None, 0
    shown = graded[:THRESHOLD_PLOT_LIMIT]
    width, panel, top = 960.0, 58.0, 28.0
    canvas = Canvas(
        width,
        top + panel * len(shown) + 6,
        "thresholds",
        "Graded metric of each failing or warning finding against its warn and fail levels",
    )
    legend = [("warn", STATUS_COLOURS["warn"], "dash"), ("fail", STATUS_COLOURS["fail"], "line")]
    _legend(canvas, legend, width / 2, 11, centre=True)
    for i, finding in enumerate(shown):
        _threshold_panel(canvas, finding, top + panel * i, width)
    return canvas.render(), len(graded) - len(shown)


def _threshold_panel(canvas: Canvas, finding: Finding, y: float, width: float) -> None:
    threshold = finding.threshold
    value = graded_value(finding)
    assert threshold is not None and value is not None  # checked by the caller
    levels = [v for v in (threshold.warn, threshold.fail) if v is not None]
    low = min(0.0, value, *levels)
    high = max(value, *levels, low + 1e-12)
    left, right = width * 0.3, width * 0.72
    ticks = [t for t in nice_ticks(low, high + 0.08 * (high - low), 5)]
    x = Scale(low, high + 0.08 * (high - low), left, right)
    bar_top, bar_height = y + 4, 22.0
    canvas.rect(
        x(0.0) if low <= 0 else left,
        bar_top,
        x(value) - (x(0.0) if low <= 0 else left),
        bar_height,
        STATUS_COLOURS[finding.status.value],
    )
    for level, style in ((threshold.warn, "warn"), (threshold.fail, "fail")):
        if level is not None:
            dash = "5 3" if style == "warn" else None
            canvas.line(
                x(level), y, x(level), bar_top + bar_height + 4, STATUS_COLOURS[style], 1.6, dash
            )
    canvas.text(
        left - 8,
        bar_top + bar_height / 2,
        cut(finding_label(finding), LABEL_LIMIT),
        size=_FONT,
        anchor="end",
    )
    note = f"{format_metric(value)}; {threshold.describe()}"
    canvas.text(right + 10, bar_top + bar_height / 2, note, size=8.5)
    canvas.line(left, y, left, bar_top + bar_height + 4, SPINE)
    canvas.x_axis(x, bar_top + bar_height + 4, ticks, [tick_label(t, ticks) for t in ticks])


class DriftPlotter:
    """Draws the drift plots of one comparison (reference → current) as inline SVG.

    Reference and current are overlaid on the bins the drift check stored: in a histogram the
    reference is a filled step and the current a line over the shared bin edges; in a bar
    chart each category (or value) has a reference bar above a current bar. Lengths are
    shares of each side's values; the legend names both datasets.
    """

    def __init__(self, reference: str, current: str) -> None:
        self.reference, self.current = reference, current
        self.legend_labels = (
            f"reference: {cut(reference, DRIFT_NAME_LIMIT)}",
            f"current: {cut(current, DRIFT_NAME_LIMIT)}",
        )
        # Side by side when both fit across the figure, else one above the other.
        self._legend_columns = 2 if sum(map(len, self.legend_labels)) <= 44 else 1

    def histogram(
        self,
        edges: Sequence[float],
        reference: Sequence[float],
        current: Sequence[float],
        *,
        name: str,
        title: str,
        xlabel: str = "value",
    ) -> str:
        """Shares of each side per shared bin; ``edges`` has one more entry than the shares."""
        canvas, top = self._canvas(name, title, _DRIFT_WIDTH, _HIST_HEIGHT, "step")
        bottom = top + _HIST_HEIGHT
        low, high = float(edges[0]), float(edges[-1])
        if not high > low:
            low, high = low - 0.5, high + 0.5
        x = Scale(low, high, _HIST_LEFT, _DRIFT_WIDTH - _RIGHT)
        y_ticks = _share_ticks(reference, current, 4)
        y = Scale(0.0, y_ticks[-1] if y_ticks[-1] > 0 else 1.0, bottom, top)
        clip = canvas.clip(x.start, top, x.end - x.start, _HIST_HEIGHT)
        colour = DRIFT_COLOURS["reference"]
        canvas.path(
            _steps(edges, reference, x, y, baseline=True),
            close=True,
            fill=colour,
            fill_opacity="0.4",
            stroke=colour,
            stroke_width="0.8",
            clip_path=clip,
        )
        canvas.path(
            _steps(edges, current, x, y, baseline=True),
            fill="none",
            stroke=DRIFT_COLOURS["current"],
            stroke_width="1.8",
            clip_path=clip,
        )
        x_ticks = nice_ticks(low, high, 6)
        canvas.x_axis(
            x,
            bottom,
            x_ticks,
            [tick_label(t, x_ticks) for t in x_ticks],
            size=_DRIFT_FONT,
            title=xlabel,
        )
        canvas.y_axis(
            y,
            x.start,
            y_ticks,
            [percent_label(t, y_ticks) for t in y_ticks],
            size=_DRIFT_FONT,
            title="share of values",
        )
        return canvas.render()

    def bars(
        self,
        labels: Sequence[str],
        reference: Sequence[float],
        current: Sequence[float],
        *,
        name: str,
        title: str,
    ) -> str:
        """Shares of each side per category, the first label on top."""
        shown = [cut(label, DRIFT_LABEL_LIMIT) for label in labels]
        left = max(text_width(t, _DRIFT_FONT) for t in shown) + 14
        width = max(_DRIFT_WIDTH, left + _BAR_MIN_PLOT + _RIGHT)
        plot_height = _BAR_ROW * len(shown)
        canvas, top = self._canvas(name, title, width, plot_height, "box")
        ticks = _share_ticks(reference, current, 4)
        x = Scale(0.0, ticks[-1] if ticks[-1] > 0 else 1.0, left, width - _RIGHT)
        for row, label in enumerate(shown):
            middle = top + _BAR_ROW * (row + 0.5)
            for share, offset, side in (
                (reference[row], -0.2, "reference"),
                (current[row], 0.2, "current"),
            ):
                centre = middle + offset * _BAR_ROW
                canvas.rect(
                    x(0.0),
                    centre - 0.2 * _BAR_ROW,
                    x(share) - x(0.0),
                    0.4 * _BAR_ROW,
                    DRIFT_COLOURS[side],
                )
            canvas.text(left - 6, middle, label, size=_DRIFT_FONT, anchor="end")
        bottom = top + plot_height
        canvas.line(left, top, left, bottom, SPINE)
        canvas.x_axis(
            x,
            bottom,
            ticks,
            [percent_label(t, ticks) for t in ticks],
            size=_DRIFT_FONT,
            title="share of values",
        )
        return canvas.render()

    def _canvas(
        self, name: str, title: str, width: float, plot_height: float, swatch: str
    ) -> tuple[Canvas, float]:
        """A canvas with the legend drawn on top; returns it and the plot area's top."""
        rows = 3 - self._legend_columns
        top = _TOP + _LEGEND_ROW * rows + 4
        canvas = Canvas(width, top + plot_height + _BOTTOM, name, title)
        entries = [
            (self.legend_labels[0], DRIFT_COLOURS["reference"], swatch),
            (
                self.legend_labels[1],
                DRIFT_COLOURS["current"],
                "line" if swatch == "step" else "box",
            ),
        ]
        _legend(
            canvas,
            entries,
            10,
            _TOP + _LEGEND_ROW / 2,
            size=_DRIFT_FONT,
            columns=self._legend_columns,
        )
        return canvas, top


def _steps(
    edges: Sequence[float], shares: Sequence[float], x: Scale, y: Scale, *, baseline: bool
) -> list[tuple[float, float]]:
    """The outline of a step histogram: up from the baseline, across each bin, back down."""
    points = [(x(edges[0]), y(0.0))] if baseline else []
    for i, share in enumerate(shares):
        points += [(x(edges[i]), y(share)), (x(edges[i + 1]), y(share))]
    if baseline:
        points.append((x(edges[-1]), y(0.0)))
    return points


def _share_ticks(reference: Sequence[float], current: Sequence[float], most: int) -> list[float]:
    """Ticks for a share axis reaching a little above the largest share."""
    top = max(max(reference, default=0.0), max(current, default=0.0))
    top = top * 1.08 if top > 0 else 1.0
    ticks = nice_ticks(0.0, top, most)
    return ticks if ticks[-1] >= top * 0.999 else [*ticks, ticks[-1] + (ticks[1] - ticks[0])]
