"""SVG primitives for the report's plots: a canvas, linear axes with round ticks, and text.

The report draws stacked bars, threshold panels, histograms, paired bars and line charts:
rectangles, lines, markers and labels. Writing those elements directly costs a few milliseconds per
report and nothing at import; matplotlib cost about half a second per report (a quarter to
import it, a quarter to lay out and save its figures), a third of a 1M-row audit's fixed cost.

Coordinates are in CSS pixels, rounded to two decimals so that the same data always gives the
same bytes. Text is SVG text in the report's sans-serif font: the browser draws any script,
and labels stay selectable and searchable. Layout needs text widths before the browser has a
font, so :func:`text_width` estimates them from character classes (generous for wide glyphs).
"""

from __future__ import annotations

import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
LEGEND_ROW = 18.0
INK = "#24292f"
MUTED = "#57606a"
SPINE = "#d0d7de"
_NARROW = frozenset("il.,:;|!'`()[]{}jft/\\ ")


def escape_text(text: str) -> str:
    """Text content: ``&``, ``<`` and ``>`` escaped."""
    return html.escape(text, quote=False)


def escape_attribute(text: str) -> str:
    """A double-quoted attribute value: ``&``, ``<`` and ``"`` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def text_width(text: str, size: float) -> float:
    """An upper-leaning estimate of ``text``'s width in pixels at font size ``size``."""
    em = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.0
        elif ch in _NARROW:
            em += 0.32
        elif ch.isupper() or ch in "mwMW@%&":
            em += 0.72
        else:
            em += 0.58
    return em * size


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(value: float) -> str:
    """A coordinate: two decimals, no trailing zeros, never ``-0``."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_ticks(low: float, high: float, most: int, *, integer: bool = False) -> list[float]:
    """At most ``most`` + 1 round tick values (steps of 1, 2, 2.5 or 5 × 10ⁿ) in [low, high]."""
    if not high > low:
        return [low]
    raw = (high - low) / max(most, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    if integer:
        step = max(1.0, math.ceil(step))
    digits = max(0, 2 - math.floor(math.log10(step)))  # enough for 2.5 × 10ⁿ, no float noise
    k = math.ceil(low / step - 1e-9)
    ticks = []
    while (value := round(k * step, digits)) <= high + step * 1e-9:
        ticks.append(value + 0.0)  # never -0.0
        k += 1
    return ticks


def tick_label(value: float, ticks: Sequence[float]) -> str:
    """A tick value with as many decimals as the tick step needs."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step, decimals) != step and decimals < 12:
        decimals += 1  # 2.5 × 10ⁿ
    if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-4):
        return f"{value:.3g}"
    return f"{value:.{decimals}f}"


def percent_label(value: float, ticks: Sequence[float]) -> str:
    """A share as a percentage, whole percents when the step allows."""
    step = (ticks[1] - ticks[0]) * 100 if len(ticks) > 1 else 1.0
    decimals = 0 if step >= 1 else max(0, -math.floor(math.log10(step) + 1e-9))
    if step > 0 and round(step, decimals) != step and decimals < 12:
        decimals += 1
    return f"{value * 100:.{decimals}f}%"


@dataclass(frozen=True)
class Scale:
    """A linear map from data values in [low, high] to pixels in [start, end]."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        share = (value - self.low) / span if span else 0.5
        return self.start + share * (self.end - self.start)


@dataclass(frozen=True)
class LogScale:
    """A base-10 logarithmic map from positive values in [low, high] to pixels."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        low, high = math.log10(self.low), math.log10(self.high)
        share = (math.log10(max(value, self.low)) - low) / (high - low) if high > low else 0.5
        return self.start + share * (self.end - self.start)


AnyScale: TypeAlias = Scale | LogScale


def log_ticks(low: float, high: float) -> list[float]:
    """The powers of ten in [low, high] (both positive), and the ends when fewer than two."""
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    ticks = [10.0**k for k in range(first, last + 1)]
    return ticks if len(ticks) >= 2 else sorted({low, *ticks, high})


@dataclass
class Canvas:
    """One ``<svg>`` element built up from drawing calls; ids start with ``name``."""

    width: float
    height: float
    name: str
    title: str
    parts: list[str] = field(default_factory=list)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, **extra: str) -> None:
        if w < 0:
            x, w = x + w, -w
        if h < 0:
            y, h = y + h, -h
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
        self.parts.append(
            f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" fill="{fill}"{attrs}/>'
        )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str,
        width: float = 1.0,
        dash: str | None = None,
    ) -> None:
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(
            f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
            f'stroke="{stroke}" stroke-width="{_n(width)}"{dashed}/>'
        )

    def path(
        self, points: Sequence[tuple[float, float]], *, close: bool = False, **style: str
    ) -> None:
        if not points:
            return
        d = "M" + " L".join(f"{_n(x)} {_n(y)}" for x, y in points) + (" Z" if close else "")
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in style.items())
        self.parts.append(f'<path d="{d}"{attrs}/>')

    def circle(
        self, x: float, y: float, r: float, fill: str, *, tip: str | None = None, **extra: str
    ) -> None:
        """A marker; ``tip`` becomes its tooltip (an SVG ``<title>``, escaped)."""
        attrs = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
        head = f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{fill}"{attrs}'
        if tip is None:
            self.parts.append(head + "/>")
        else:
            self.parts.append(f"{head}><title>{escape_text(tip)}</title></circle>")

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 9.0,
        anchor: str = "start",
        fill: str = INK,
        rotate: bool = False,
    ) -> None:
        turn = f' transform="rotate(-90 {_n(x)} {_n(y)})"' if rotate else ""
        self.parts.append(
            f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}" '
            f'dominant-baseline="central" fill="{fill}"{turn}>{escape_text(content)}</text>'
        )

    def clip(self, x: float, y: float, w: float, h: float) -> str:
        """Define a clip rectangle; returns the ``clip-path`` attribute value that uses it."""
        key = f"{self.name}-clip{sum(p.startswith('<clipPath') for p in self.parts) + 1}"
        self.parts.append(
            f'<clipPath id="{key}"><rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" '
            f'height="{_n(h)}"/></clipPath>'
        )
        return f"url(#{key})"

    def x_axis(
        self,
        scale: AnyScale,
        y: float,
        ticks: Sequence[float],
        labels: Sequence[str],
        *,
        size: float = 8.0,
        title: str | None = None,
        title_anchor: str = "middle",
    ) -> None:
        """A horizontal axis line at ``y`` with ticks and labels below it.

        The title is centred on the axis (``title_anchor="start"`` starts it there).
        """
        self.line(scale.start, y, scale.end, y, SPINE)
        for value, label in zip(ticks, labels, strict=True):
            x = scale(value)
            self.line(x, y, x, y + 3.5, SPINE)
            self.text(x, y + 3.5 + size * 0.8, label, size=size, anchor="middle", fill=MUTED)
        if title:
            middle = (scale.start + scale.end) / 2
            self.text(middle, y + 3.5 + size * 2.3, title, size=size, anchor=title_anchor)

    def y_axis(
        self,
        scale: Scale,
        x: float,
        ticks: Sequence[float],
        labels: Sequence[str],
        *,
        size: float = 8.0,
        title: str | None = None,
        title_anchor: str = "middle",
    ) -> None:
        """A vertical axis line at ``x`` with ticks and labels to its left.

        The title is centred on the axis (``title_anchor="start"`` starts it there).
        """
        self.line(x, scale.start, x, scale.end, SPINE)
        widest = 0.0
        for value, label in zip(ticks, labels, strict=True):
            y = scale(value)
            self.line(x - 3.5, y, x, y, SPINE)
            self.text(x - 5.5, y, label, size=size, anchor="end", fill=MUTED)
            widest = max(widest, text_width(label, size))
        if title:
            middle = (scale.start + scale.end) / 2
            self.text(
                x - 5.5 - widest - size * 0.9,
                middle,
                title,
                size=size,
                rotate=True,
                anchor=title_anchor,
            )

    def render(self) -> str:
        label = escape_attribute(self.title)
        return (
            f'<svg class="plot" role="img" aria-label="{label}" width="{_n(self.width)}" '
            f'height="{_n(self.height)}" viewBox="0 0 {_n(self.width)} {_n(self.height)}" '
            f'font-family="{FONT}">' + "".join(self.parts) + "</svg>"
        )


def legend(
    canvas: Canvas,
    entries: Sequence[tuple[str, str, str]],
    x: float,
    y: float,
    *,
    size: float = 9.0,
    centre: bool = False,
    columns: int | None = None,
) -> None:
    """Swatches and labels in a row (or rows of ``columns``).

    A swatch is ``box``, ``step`` (a translucent box), ``line``, ``dash``, ``dot`` (a dotted
    line) or ``marker`` (a line through a point).
    """
    columns = columns or len(entries)
    widths = [22 + text_width(label, size) + 14 for label, _, _ in entries]
    row_width = max(sum(widths[i : i + columns]) for i in range(0, len(entries), columns))
    start = x - row_width / 2 if centre else x
    for i, (label, colour, kind) in enumerate(entries):
        column, row = i % columns, i // columns
        left = start + sum(widths[row * columns : row * columns + column])
        middle = y + row * LEGEND_ROW
        if kind == "box":
            canvas.rect(left, middle - 5, 16, 10, colour)
        elif kind == "step":
            canvas.rect(
                left,
                middle - 5,
                16,
                10,
                colour,
                fill_opacity="0.4",
                stroke=colour,
                stroke_width="0.8",
            )
        else:
            dash = {"dash": "5 3", "dot": "1.5 2.5"}.get(kind)
            canvas.line(left, middle, left + 16, middle, colour, 1.8, dash)
            if kind == "marker":
                canvas.circle(left + 8, middle, 3.2, colour)
        canvas.text(left + 22, middle, label, size=size)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: points joined in order, a gap where ``y`` is ``None``.

    ``radii`` sizes each point's marker (no markers when empty); ``tips`` are their tooltips.
    """

    points: Sequence[tuple[float, float | None]]
    colour: str
    width: float = 1.8
    dash: str | None = None
    radii: Sequence[float] = ()
    tips: Sequence[str] = ()


def draw_series(canvas: Canvas, series: Series, x: AnyScale, y: Scale) -> None:
    """The series' lines (one path per unbroken run of points), then its markers on top."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, py in series.points:
        if py is None:
            runs.append([])
        else:
            runs[-1].append((x(px), y(py)))
    width = _n(series.width)
    for run in runs:
        if len(run) < 2:
            continue
        if series.dash:
            canvas.path(
                run,
                fill="none",
                stroke=series.colour,
                stroke_width=width,
                stroke_dasharray=series.dash,
            )
        else:
            canvas.path(run, fill="none", stroke=series.colour, stroke_width=width)
    for i, (px, py) in enumerate(series.points):
        if py is not None and i < len(series.radii):
            tip = series.tips[i] if i < len(series.tips) else None
            canvas.circle(
                x(px),
                y(py),
                series.radii[i],
                series.colour,
                tip=tip,
                stroke="#fff",
                stroke_width="0.8",
            )
