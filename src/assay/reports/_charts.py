"""Inline SVG charts of the model validation, fairness and robustness sections.

Line charts (reliability diagram, degradation curves, the adversarial curve) and bar charts
(selection rates, feature dropout), drawn from stored artefacts with the primitives of
:mod:`assay.reports._svg` like the summary and drift plots of :mod:`assay.reports.plots`:
every text is escaped, every id starts with the plot's name, and the same input always gives
the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from assay.reports._common import STATUS_COLOURS
from assay.reports._svg import (
    LEGEND_ROW,
    MUTED,
    SPINE,
    AnyScale,
    Canvas,
    LogScale,
    Scale,
    Series,
    cut,
    draw_series,
    legend,
    log_ticks,
    nice_ticks,
    percent_label,
    text_width,
    tick_label,
)

LINE_COLOURS = {"first": "#4c72b0", "second": "#dd8452", "reference": "#57606a"}
"""The first and second series of a chart (blue, orange) and reference lines (grey)."""

GROUP_LABEL_LIMIT = 32
"""Longest group or feature label drawn beside a bar; longer labels are cut with an ellipsis."""

_CHART_FONT = 8.5
_LEFT, _PANEL_GAP, _RIGHT, _TOP, _BOTTOM = 62.0, 26.0, 18.0, 8.0, 46.0
_BAR_MIN_PLOT = 210.0


class ReliabilityBin(NamedTuple):
    """One non-empty bin of a reliability diagram, as ``model.calibration`` stores it."""

    lower: float
    upper: float
    predicted: float
    observed: float
    rows: int


def reliability_svg(
    graded: Sequence[ReliabilityBin],
    other: Sequence[ReliabilityBin],
    *,
    labels: tuple[str, str],
    axes: tuple[str, str],
    name: str,
    title: str,
) -> str:
    """Observed frequency against mean predicted probability per bin, over the diagonal.

    ``graded`` is drawn as a line whose markers grow with the bin's rows, ``other`` (the
    other binning, may be empty) as a dashed line; the graded bins' row counts are a small
    histogram under the diagram. ``labels`` name the two binnings, ``axes`` the x and y axes.
    """
    width, side, hist = 440.0, 260.0, 46.0
    entries = [(labels[0], LINE_COLOURS["first"], "marker")]
    if other:
        entries.append((labels[1], LINE_COLOURS["second"], "dash"))
    entries.append(("perfect calibration", LINE_COLOURS["reference"], "dot"))
    canvas, top = _chart_canvas(name, title, width, side + 10 + hist, entries)
    x = Scale(0.0, 1.0, _LEFT, width - _RIGHT)
    y = Scale(0.0, 1.0, top + side, top)
    ticks = nice_ticks(0.0, 1.0, 5)
    canvas.line(x(0), y(0), x(1), y(1), LINE_COLOURS["reference"], 1.2, "1.5 2.5")
    most = max(b.rows for b in graded)
    if other:
        draw_series(
            canvas,
            Series(
                [(b.predicted, b.observed) for b in other],
                LINE_COLOURS["second"],
                width=1.3,
                dash="5 3",
                radii=[2.0] * len(other),
                tips=[_bin_tip(b, labels[1]) for b in other],
            ),
            x,
            y,
        )
    draw_series(
        canvas,
        Series(
            [(b.predicted, b.observed) for b in graded],
            LINE_COLOURS["first"],
            radii=[2.2 + 4.8 * math.sqrt(b.rows / most) if most else 2.2 for b in graded],
            tips=[_bin_tip(b, labels[0]) for b in graded],
        ),
        x,
        y,
    )
    canvas.y_axis(y, x.start, ticks, [tick_label(t, ticks) for t in ticks], size=_CHART_FONT)
    canvas.text(
        x.start - 44, (y.start + y.end) / 2, axes[1], size=_CHART_FONT, rotate=True, anchor="middle"
    )
    canvas.line(x.start, y.start, x.end, y.start, SPINE)
    bottom = top + side + 10 + hist
    heights = Scale(0.0, float(most or 1), bottom, bottom - hist)
    for b in graded:
        left, right = x(b.lower), max(x(b.upper), x(b.lower) + 1.2)
        canvas.rect(
            left,
            heights(b.rows),
            right - left,
            heights(0) - heights(b.rows),
            LINE_COLOURS["first"],
            fill_opacity="0.45",
        )
    count_ticks = [0.0, float(most)] if most else [0.0]
    canvas.y_axis(
        heights, x.start, count_ticks, [f"{t:,.0f}" for t in count_ticks], size=_CHART_FONT
    )
    canvas.text(
        x.start - 44, bottom - hist / 2, "rows", size=_CHART_FONT, rotate=True, anchor="middle"
    )
    canvas.x_axis(
        x,
        bottom,
        ticks,
        [tick_label(t, ticks) for t in ticks],
        size=_CHART_FONT,
        title=axes[0],
        title_anchor="middle",
    )
    return canvas.render()


def _bin_tip(b: ReliabilityBin, binning: str) -> str:
    return (
        f"{binning}: bin {b.lower:.3g}–{b.upper:.3g}, {b.rows:,} rows, mean predicted "
        f"{b.predicted:.3f}, observed {b.observed:.3f}"
    )


def selection_rate_svg(
    groups: Sequence[str],
    rates: Sequence[float | None],
    *,
    small: Sequence[bool],
    fails: Sequence[bool],
    reference: str | None,
    four_fifths: float | None,
    name: str,
    title: str,
) -> str:
    """Each group's selection rate as a bar, with the four-fifths line when one is given.

    The reference group's bar is grey; the bar of a group that ``fails`` the four-fifths rule
    (as the disparate-impact check stored it) is red; a small group's bar is pale and its
    label says so. ``four_fifths`` is four fifths of the reference group's selection rate.
    """
    shown = [
        cut(g, GROUP_LABEL_LIMIT) + (" (small)" if s else "")
        for g, s in zip(groups, small, strict=True)
    ]
    left = max(text_width(t, _CHART_FONT) for t in shown) + 14
    width = max(440.0, left + _BAR_MIN_PLOT + 40)
    colours = {"rate": LINE_COLOURS["first"], "reference": LINE_COLOURS["reference"]}
    low = STATUS_COLOURS["fail"]
    entries = [("selection rate", colours["rate"], "box")]
    if reference is not None:
        entries.append(("reference group", colours["reference"], "box"))
    if four_fifths is not None:
        entries.append((f"four fifths of the reference: {four_fifths:.3g}", low, "dash"))
    if any(fails):
        entries.append(("fails the four-fifths rule", low, "box"))
    row = 22.0
    canvas, top = _chart_canvas(name, title, width, row * len(groups), entries)
    x = Scale(0.0, 1.0, left, width - 40)
    for i, (group, label, rate) in enumerate(zip(groups, shown, rates, strict=True)):
        middle = top + row * (i + 0.5)
        canvas.text(left - 6, middle, label, size=_CHART_FONT, anchor="end")
        if rate is None:
            canvas.text(x(0) + 4, middle, "undefined", size=_CHART_FONT, fill=MUTED)
            continue
        colour = colours["reference"] if group == reference else colours["rate"]
        if fails[i]:
            colour = low
        extra = {"fill_opacity": "0.45"} if small[i] else {}
        canvas.rect(x(0), middle - row * 0.32, x(rate) - x(0), row * 0.64, colour, **extra)
        canvas.text(x(rate) + 4, middle, f"{rate:.3g}", size=_CHART_FONT, fill=MUTED)
    bottom = top + row * len(groups)
    if four_fifths is not None:
        canvas.line(x(four_fifths), top - 2, x(four_fifths), bottom, low, 1.4, "5 3")
    canvas.line(left, top, left, bottom, SPINE)
    ticks = nice_ticks(0.0, 1.0, 5)
    canvas.x_axis(
        x,
        bottom,
        ticks,
        [tick_label(t, ticks) for t in ticks],
        size=_CHART_FONT,
        title="selection rate: share of rows predicted positive",
        title_anchor="middle",
    )
    return canvas.render()


def degradation_svg(
    levels: Sequence[float],
    metric: Sequence[float | None],
    flips: Sequence[float | None],
    *,
    unperturbed: float | None,
    reference: float | None,
    raised: Sequence[float],
    labels: tuple[str, str],
    name: str,
    title: str,
) -> str:
    """Two panels over the perturbation levels: the metric (left) and the flip rate (right).

    ``labels`` are the metric's name and the level axis's title. The unperturbed metric is a
    dashed line, the graded level a dotted one; a level at which the model raised is an ×.
    A log axis is used when the levels are positive and span two orders of magnitude.
    """
    width, height = 660.0, 160.0
    entries = [
        (f"{labels[0]} after perturbation", LINE_COLOURS["first"], "marker"),
        ("flip rate", LINE_COLOURS["second"], "marker"),
    ]
    if unperturbed is not None:
        entries.append(("unperturbed", LINE_COLOURS["reference"], "dash"))
    if reference is not None:
        entries.append(("graded level", LINE_COLOURS["reference"], "dot"))
    canvas, top = _chart_canvas(name, title, width, height + 12, entries)
    top += 12  # room for the panel titles
    panel = (width - 2 * _LEFT - _PANEL_GAP - _RIGHT) / 2
    values = [v for v in metric if v is not None] + (
        [unperturbed] if unperturbed is not None else []
    )
    low, high = min(values, default=0.0), max(values, default=1.0)
    low = min(low, high - 0.1 * abs(high))  # a small drop should look small
    pad = max(high - low, 1e-6) * 0.1
    y_ticks = nice_ticks(low - pad, high + pad, 4)
    flip_top = max([f for f in flips if f is not None] + [0.05]) * 1.1
    f_ticks = nice_ticks(0.0, flip_top, 4)
    for i, (series, ticks, scale_range, ylabel) in enumerate(
        (
            (metric, y_ticks, (low - pad, high + pad), labels[0]),
            (flips, f_ticks, (0.0, flip_top), "flip rate"),
        )
    ):
        start = _LEFT + i * (panel + _PANEL_GAP + _LEFT)
        x_scale, x_ticks, x_labels = _level_axis(levels, start, start + panel)
        y = Scale(scale_range[0], scale_range[1], top + height, top)
        canvas.text(start, top - 10, ylabel, size=_CHART_FONT + 0.5)
        if reference is not None:
            canvas.line(
                x_scale(reference),
                top,
                x_scale(reference),
                top + height,
                LINE_COLOURS["reference"],
                1.2,
                "1.5 2.5",
            )
        if i == 0 and unperturbed is not None:
            canvas.line(
                start,
                y(unperturbed),
                start + panel,
                y(unperturbed),
                LINE_COLOURS["reference"],
                1.2,
                "5 3",
            )
        colour = LINE_COLOURS["first" if i == 0 else "second"]
        points = list(zip(levels, series, strict=True))
        draw_series(
            canvas,
            Series(
                points,
                colour,
                radii=[3.0] * len(points),
                tips=[f"level {lv:g}: {ylabel} {_tip(v)}" for lv, v in points],
            ),
            x_scale,
            y,
        )
        for level in raised:
            canvas.text(
                x_scale(level),
                top + height - 7,
                "×",
                size=12,
                anchor="middle",
                fill=STATUS_COLOURS["fail"],
            )
        labels_y = (
            [percent_label(t, ticks) for t in ticks] if i else [tick_label(t, ticks) for t in ticks]
        )
        canvas.y_axis(y, start, ticks, labels_y, size=_CHART_FONT)
        canvas.x_axis(
            x_scale,
            top + height,
            x_ticks,
            x_labels,
            size=_CHART_FONT,
            title=labels[1],
            title_anchor="middle",
        )
    return canvas.render()


def dropout_svg(
    features: Sequence[str],
    drops: Sequence[float | None],
    flips: Sequence[float | None],
    *,
    statuses: Sequence[str | None],
    notes: Sequence[str | None],
    metric_name: str,
    name: str,
    title: str,
) -> str:
    """Per feature made unavailable: the metric's drop (left) and the flip rate (right).

    Bars take the colour of the feature's finding status (blue without one); a feature whose
    pass has no value shows its note (``model raised``) instead of a bar.
    """
    shown = [cut(f, GROUP_LABEL_LIMIT) for f in features]
    left = max(text_width(t, _CHART_FONT) for t in shown) + 14
    panel = 220.0
    width = left + 2 * panel + _PANEL_GAP + _RIGHT + 10
    row = 22.0
    present = sorted({s for s in statuses if s is not None}, key=list(STATUS_COLOURS).index)
    entries = [(f"finding {s}", STATUS_COLOURS[s], "box") for s in present]
    if any(s is None for s in statuses):
        entries.append(("no finding", LINE_COLOURS["first"], "box"))
    canvas, top = _chart_canvas(name, title, width, row * len(features) + 12, entries)
    top += 12
    bottom = top + row * len(features)
    defined = [d for d in drops if d is not None]
    drop_low, drop_high = min([0.0, *defined]), max([0.0, *defined])
    span = max(drop_high - drop_low, 0.01)
    drop_ticks = nice_ticks(drop_low, drop_low + span * 1.08, 4)
    flip_top = max([f for f in flips if f is not None] + [0.05]) * 1.08
    flip_ticks = nice_ticks(0.0, flip_top, 4)
    panels = (
        (
            drops,
            Scale(drop_low, drop_low + span * 1.08, left, left + panel),
            drop_ticks,
            f"drop in {metric_name}",
            False,
        ),
        (
            flips,
            Scale(0.0, flip_top, left + panel + _PANEL_GAP, left + 2 * panel + _PANEL_GAP),
            flip_ticks,
            "flip rate",
            True,
        ),
    )
    for values, x, ticks, heading, percent in panels:
        canvas.text(x.start, top - 10, heading, size=_CHART_FONT + 0.5)
        for i, value in enumerate(values):
            middle = top + row * (i + 0.5)
            if value is None:
                canvas.text(
                    x(0) + 4,
                    middle,
                    notes[i] or "undefined",
                    size=_CHART_FONT,
                    fill=STATUS_COLOURS["fail"] if notes[i] else MUTED,
                )
                continue
            status = statuses[i]
            colour = STATUS_COLOURS[status] if status else LINE_COLOURS["first"]
            canvas.rect(x(0), middle - row * 0.32, x(value) - x(0), row * 0.64, colour)
        canvas.line(x(0), top, x(0), bottom, SPINE)
        labels = [percent_label(t, ticks) if percent else tick_label(t, ticks) for t in ticks]
        canvas.x_axis(x, bottom, ticks, labels, size=_CHART_FONT)
    for i, label in enumerate(shown):
        canvas.text(left - 6, top + row * (i + 0.5), label, size=_CHART_FONT, anchor="end")
    return canvas.render()


def success_curve_svg(
    budgets: Sequence[float],
    success: Sequence[float],
    *,
    budget: float | None,
    name: str,
    title: str,
) -> str:
    """The adversarial search's curve: the share of attacked rows flipped within each budget."""
    width, height = 440.0, 160.0
    entries = [("rows flipped within the budget", LINE_COLOURS["first"], "marker")]
    if budget is not None:
        entries.append(("graded budget", LINE_COLOURS["reference"], "dot"))
    canvas, top = _chart_canvas(name, title, width, height, entries)
    x, x_ticks, x_labels = _level_axis(budgets, _LEFT, width - _RIGHT)
    y_ticks = nice_ticks(0.0, max([*success, 0.05]) * 1.1, 4)
    y = Scale(0.0, max([*success, 0.05]) * 1.1, top + height, top)
    if budget is not None:
        canvas.line(
            x(budget), top, x(budget), top + height, LINE_COLOURS["reference"], 1.2, "1.5 2.5"
        )
    points = list(zip(budgets, success, strict=True))
    draw_series(
        canvas,
        Series(
            points,
            LINE_COLOURS["first"],
            radii=[3.0] * len(points),
            tips=[f"budget {b:g}: {s:.1%} flipped" for b, s in points],
        ),
        x,
        y,
    )
    canvas.y_axis(
        y,
        x.start,
        y_ticks,
        [percent_label(t, y_ticks) for t in y_ticks],
        size=_CHART_FONT,
    )
    middle = (y.start + y.end) / 2
    canvas.text(
        x.start - 44, middle, "rows flipped", size=_CHART_FONT, rotate=True, anchor="middle"
    )
    canvas.x_axis(
        x,
        top + height,
        x_ticks,
        x_labels,
        size=_CHART_FONT,
        title="budget: RMS perturbation per feature (training stds)",
        title_anchor="middle",
    )
    return canvas.render()


def _chart_canvas(
    name: str, title: str, width: float, plot_height: float, entries: list[tuple[str, str, str]]
) -> tuple[Canvas, float]:
    """A canvas with the legend on top, in as many columns as fit; returns the plot's top."""
    widths = [36 + text_width(label, _CHART_FONT) for label, _, _ in entries]
    columns = len(entries)
    while columns > 1 and any(
        sum(widths[i : i + columns]) > width - 20 for i in range(0, len(entries), columns)
    ):
        columns -= 1
    rows = -(-len(entries) // columns)
    top = _TOP + LEGEND_ROW * rows + 4
    canvas = Canvas(width, top + plot_height + _BOTTOM, name, title)
    legend(canvas, entries, 10, _TOP + LEGEND_ROW / 2, size=_CHART_FONT, columns=columns)
    return canvas, top


def _level_axis(
    levels: Sequence[float], start: float, end: float
) -> tuple[AnyScale, list[float], list[str]]:
    """A level axis: logarithmic for positive levels spanning 100× or more, else linear from 0."""
    low, high = min(levels), max(levels)
    if low > 0 and high / low >= 100:
        ticks = log_ticks(low, high)
        return LogScale(low, high, start, end), ticks, [f"{t:g}" for t in ticks]
    low = min(low, 0.0)
    high = high if high > low else low + 1.0
    ticks = nice_ticks(low, high, 5)
    return Scale(low, high, start, end), ticks, [tick_label(t, ticks) for t in ticks]


def _tip(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"
