"""Inline SVG charts of the performance section: one line chart and three uses of it.

Latency percentiles over the seconds of the load test, the latency spectrum against the
percentile on a "nines" axis (50, 90, 99, 99.9, 99.99: each step a tenfold smaller tail), and
the achieved throughput against the offered rate of the saturation search. Drawn with the
primitives of :mod:`assay.reports._svg` like :mod:`assay.reports._charts` (kept apart so
neither module grows past a readable size): every text escaped, ids prefixed with the
chart's name, the same input giving the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from assay.reports._charts import _CHART_FONT, _LEFT, _RIGHT, LINE_COLOURS, _chart_canvas
from assay.reports._common import STATUS_COLOURS
from assay.reports._svg import Scale, Series, draw_series, nice_ticks, tick_label

NINES = (50.0, 90.0, 99.0, 99.9, 99.99, 99.999)
"""Percentiles labelled on the spectrum's axis."""


@dataclass(frozen=True)
class Line:
    """One series of a line chart; ``y`` ``None`` breaks the line."""

    label: str
    points: Sequence[tuple[float, float | None]]
    colour: str
    dash: str | None = None
    markers: bool = True
    tips: Sequence[str] = ()


@dataclass(frozen=True)
class Rule:
    """A reference line across the plot: ``vertical`` at x, else horizontal at y."""

    label: str
    at: float
    vertical: bool
    colour: str = LINE_COLOURS["reference"]
    dash: str = "5 3"


def line_chart_svg(
    lines: Sequence[Line],
    *,
    rules: Sequence[Rule] = (),
    x_title: str,
    y_title: str,
    x_ticks: Sequence[float] | None = None,
    x_labels: Sequence[str] | None = None,
    x_range: tuple[float, float] | None = None,
    name: str,
    title: str,
    width: float = 600.0,
    height: float = 180.0,
) -> str:
    """Lines over a linear x axis (its ticks given, or round ones) and a y axis from 0."""
    entries = [(ln.label, ln.colour, "marker" if ln.markers else "line") for ln in lines]
    entries += [(r.label, r.colour, "dash" if r.dash == "5 3" else "dot") for r in rules]
    canvas, top = _chart_canvas(name, title, width, height, entries)
    xs = [x for ln in lines for x, _ in ln.points] + [r.at for r in rules if r.vertical]
    ys = [y for ln in lines for _, y in ln.points if y is not None]
    ys += [r.at for r in rules if not r.vertical]
    low, high = x_range or (min(xs, default=0.0), max(xs, default=1.0))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    x = Scale(low, high, _LEFT, width - _RIGHT)
    y_top = max([*ys, 1e-9]) * 1.1
    y = Scale(0.0, y_top, top + height, top)
    y_ticks = nice_ticks(0.0, y_top, 4)
    for rule in rules:
        if rule.vertical:
            canvas.line(x(rule.at), top, x(rule.at), top + height, rule.colour, 1.2, rule.dash)
        else:
            canvas.line(x.start, y(rule.at), x.end, y(rule.at), rule.colour, 1.2, rule.dash)
    for ln in lines:
        draw_series(
            canvas,
            Series(
                ln.points,
                ln.colour,
                dash=ln.dash,
                radii=[2.6] * len(ln.points) if ln.markers else [],
                tips=ln.tips,
            ),
            x,
            y,
        )
    canvas.y_axis(y, x.start, y_ticks, [tick_label(t, y_ticks) for t in y_ticks], size=_CHART_FONT)
    canvas.text(
        x.start - 44, (y.start + y.end) / 2, y_title, size=_CHART_FONT, rotate=True, anchor="middle"
    )
    if x_ticks is None:
        x_ticks = nice_ticks(low, high, 6)
        x_labels = [tick_label(t, x_ticks) for t in x_ticks]
    canvas.x_axis(
        x, top + height, list(x_ticks), list(x_labels or []), size=_CHART_FONT, title=x_title
    )
    return canvas.render()


def nines(percentile: float) -> float:
    """The position of a percentile on the nines axis: −log10(1 − p/100); 90 → 1, 99 → 2."""
    return -math.log10(max(1.0 - percentile / 100.0, 1e-9))


def latency_over_time_svg(
    seconds: Sequence[int],
    p50: Sequence[float | None],
    p99: Sequence[float | None],
    *,
    warmup: float,
    objective: float | None,
    name: str,
    title: str,
) -> str:
    """p50 and p99 (ms) of each second of the test; the warm-up's end and the p99 objective
    as reference lines."""
    rules = []
    if objective is not None:
        rules.append(
            Rule(f"p99 objective {objective:g} ms", objective, False, STATUS_COLOURS["fail"])
        )
    if warmup > 0:
        rules.append(Rule("end of warm-up", warmup, True, dash="1.5 2.5"))
    return line_chart_svg(
        [
            Line(
                "p50",
                list(zip(seconds, p50, strict=True)),
                LINE_COLOURS["first"],
                tips=[f"second {s}: p50 {_ms(v)}" for s, v in zip(seconds, p50, strict=True)],
            ),
            Line(
                "p99",
                list(zip(seconds, p99, strict=True)),
                LINE_COLOURS["second"],
                tips=[f"second {s}: p99 {_ms(v)}" for s, v in zip(seconds, p99, strict=True)],
            ),
        ],
        rules=rules,
        x_title="second of the test (by intended send time)",
        y_title="latency (ms)",
        name=name,
        title=title,
    )


def spectrum_svg(
    percentiles: Sequence[float],
    latencies: Sequence[float],
    *,
    objectives: Sequence[tuple[float, float]],
    name: str,
    title: str,
) -> str:
    """Latency (ms) against the percentile on a nines axis; each objective (percentile, ms)
    is a red marker the curve must stay under."""
    positions = [nines(p) for p in percentiles]
    top = max(positions, default=1.0)
    ticks = [nines(p) for p in NINES if nines(p) <= top + 1e-9]
    labels = [f"{p:g}" for p in NINES if nines(p) <= top + 1e-9]
    lines = [
        Line(
            "latency at the percentile",
            list(zip(positions, latencies, strict=True)),
            LINE_COLOURS["first"],
            tips=[f"p{p:g}: {_ms(v)}" for p, v in zip(percentiles, latencies, strict=True)],
        )
    ]
    for p, limit in objectives:
        lines.append(
            Line(
                f"p{p:g} objective {limit:g} ms",
                [(nines(p), limit)],
                STATUS_COLOURS["fail"],
                tips=[f"p{p:g} objective: {limit:g} ms"],
            )
        )
    return line_chart_svg(
        lines,
        x_title="percentile (nines)",
        y_title="latency (ms)",
        x_ticks=ticks,
        x_labels=labels,
        x_range=(nines(50.0), max(top, nines(99.0))),
        name=name,
        title=title,
    )


def throughput_svg(
    offered: Sequence[float],
    achieved: Sequence[float],
    passed: Sequence[bool],
    *,
    saturation: float | None,
    peak: float | None,
    name: str,
    title: str,
) -> str:
    """Achieved throughput against the offered rate of each saturation step, with the
    ideal (achieved = offered) dashed; the saturation rate and the peak as vertical rules."""
    high = max([*offered, *achieved, 1.0])
    rules = []
    if saturation is not None:
        rules.append(Rule(f"saturation rate {saturation:g}/s", saturation, True, dash="1.5 2.5"))
    if peak is not None:
        rules.append(Rule(f"declared peak {peak:g}/s", peak, True, STATUS_COLOURS["warn"]))
    tips = [
        f"offered {o:g}/s: achieved {a:.1f}/s, {'met' if ok else 'missed'} the objectives"
        for o, a, ok in zip(offered, achieved, passed, strict=True)
    ]
    missed = [(o, a) for o, a, ok in zip(offered, achieved, passed, strict=True) if not ok]
    missed_tips = [t for t, ok in zip(tips, passed, strict=True) if not ok]
    return line_chart_svg(
        [
            Line(
                "achieved = offered",
                [(0.0, 0.0), (high, high)],
                LINE_COLOURS["reference"],
                dash="5 3",
                markers=False,
            ),
            Line(
                "achieved throughput",
                list(zip(offered, achieved, strict=True)),
                LINE_COLOURS["first"],
                tips=tips,
            ),
            *(
                [Line("missed the objectives", missed, STATUS_COLOURS["fail"], tips=missed_tips)]
                if missed
                else []
            ),
        ],
        rules=rules,
        x_title="offered rate (requests/s)",
        y_title="achieved (requests/s)",
        x_range=(0.0, high * 1.05),
        name=name,
        title=title,
    )


def _ms(value: float | None) -> str:
    return "no answer" if value is None else f"{value:.1f} ms"
