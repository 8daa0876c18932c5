"""Inline SVG plots for the HTML report, drawn with matplotlib from stored findings and artefacts.

Plots are drawn on a bare :class:`matplotlib.figure.Figure` and saved with the SVG backend, so
no GUI backend is selected and pyplot's global state is never touched. Text stays text
(``svg.fonttype = none``) and is never parsed as mathtext, ids are prefixed per plot so several
SVGs can share one page, and the XML prolog, DOCTYPE and namespace URLs are removed: the result
embeds inline in HTML5 and makes no reference outside the page.

Importing this module imports matplotlib (about a quarter of a second), so the HTML report
imports it only when there is something to draw.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import matplotlib
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator, PercentFormatter

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

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

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

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.edgecolor": "#d0d7de",
    "axes.labelcolor": "#24292f",
    "xtick.color": "#57606a",
    "ytick.color": "#24292f",
}
# Drift plots: font size in points, geometry in inches.
_DRIFT_FONT_SIZE = 8.0
_DRIFT_WIDTH, _HIST_LEFT, _HIST_PLOT_HEIGHT = 4.0, 0.62, 1.55
_BAR_ROW, _BAR_MIN_PLOT = 0.3, 2.2
_LEGEND_LEFT, _LEGEND_ROW, _MARGIN_TOP, _MARGIN_BOTTOM, _MARGIN_RIGHT = 0.1, 0.2, 0.1, 0.5, 0.2
_HIST_STYLE: dict[str, dict[str, Any]] = {
    "reference": {
        "facecolor": to_rgba(DRIFT_COLOURS["reference"], 0.4),
        "edgecolor": DRIFT_COLOURS["reference"],
        "linewidth": 0.8,
    },
    "current": {"color": DRIFT_COLOURS["current"], "linewidth": 1.8},
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')
_TAG = re.compile(r"<[^>]+>")


def domain_status_svg(findings: Sequence[Finding]) -> str | None:
    """Horizontal bars of findings per domain, stacked by status; ``None`` without findings."""
    if not findings:
        return None
    domains = domains_in_order(findings)
    fig = Figure(figsize=(6.5, 0.38 * len(domains) + 1.1))
    ax = fig.add_subplot()
    rows = list(range(len(domains)))
    left = [0] * len(domains)
    for status in STATUS_ORDER:
        widths = [sum(1 for f in findings if f.domain == d and f.status is status) for d in domains]
        if not any(widths):
            continue
        ax.barh(rows, widths, left=left, color=STATUS_COLOURS[status.value], label=status.value)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_yticks(rows, [domain_title(d) for d in domains], parse_math=False)
    ax.invert_yaxis()
    ax.set_xlabel("findings")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _tidy(ax)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, frameon=False)
    return _to_svg(fig, "domains", "Findings per domain, stacked by status")


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
    fig = Figure(figsize=(10, 0.62 * len(shown) + 0.8))
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    for ax, finding in zip(axes, shown, strict=True):
        _threshold_panel(ax, finding)
    handles = [
        Line2D([], [], color=STATUS_COLOURS["warn"], linestyle="--", label="warn"),
        Line2D([], [], color=STATUS_COLOURS["fail"], linestyle="-", label="fail"),
    ]
    fig.legend(handles=handles, loc="upper center", ncols=2, frameon=False)
    fig.subplots_adjust(left=0.3, right=0.72, top=1 - 0.45 / fig.get_figheight(), hspace=0.9)
    title = "Graded metric of each failing or warning finding against its warn and fail levels"
    return _to_svg(fig, "thresholds", title), len(graded) - len(shown)


def _threshold_panel(ax: Axes, finding: Finding) -> None:
    threshold = finding.threshold
    value = graded_value(finding)
    assert threshold is not None and value is not None  # checked by the caller
    levels = [v for v in (threshold.warn, threshold.fail) if v is not None]
    low = min(0.0, value, *levels)
    high = max(value, *levels, low + 1e-12)
    ax.barh([0], [value], height=0.6, color=STATUS_COLOURS[finding.status.value])
    if threshold.warn is not None:
        ax.axvline(threshold.warn, color=STATUS_COLOURS["warn"], linestyle="--", linewidth=1.4)
    if threshold.fail is not None:
        ax.axvline(threshold.fail, color=STATUS_COLOURS["fail"], linestyle="-", linewidth=1.4)
    ax.set_xlim(low, high + 0.08 * (high - low))
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([0], [_cut(finding_label(finding))], parse_math=False)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.tick_params(axis="x", labelsize=8)
    note = f"{format_metric(value)}; {threshold.describe()}"
    ax.text(1.01, 0.5, note, transform=ax.transAxes, va="center", fontsize=8.5, clip_on=False)
    _tidy(ax)


class DriftPlotter:
    """Draws the drift plots of one comparison (reference → current) as inline SVG.

    Reference and current are overlaid on the bins the drift check stored: in a histogram the
    reference is a filled step and the current a line over the shared bin edges; in a bar
    chart each category (or value) has a reference bar above a current bar. Lengths are
    shares of each side's values; the legend names both datasets.

    Making a figure, its axes and its legend costs more than drawing on them, so the plotter
    keeps one figure per plot type and swaps only the drawn shares between plots; each side's
    bars are one path. Margins are fixed rather than cropped to the drawing (cropping draws
    the figure twice), the left margin of a bar chart measured from its longest label. A
    histogram takes about 12 ms, a bar chart of 12 categories about 20 ms.
    """

    def __init__(self, reference: str, current: str) -> None:
        self.reference, self.current = reference, current
        self.legend_labels = (
            f"reference: {_cut(reference, DRIFT_NAME_LIMIT)}",
            f"current: {_cut(current, DRIFT_NAME_LIMIT)}",
        )
        # Side by side when both fit across the figure, else one above the other.
        self._legend_columns = 2 if sum(map(len, self.legend_labels)) <= 44 else 1
        self._figures: dict[str, tuple[Figure, Axes, Legend]] = {}

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
        fig, ax = self._canvas("histogram", _HIST_LEFT, _DRIFT_WIDTH, _HIST_PLOT_HEIGHT)
        ax.stairs(reference, edges, fill=True, **_HIST_STYLE["reference"])
        ax.stairs(current, edges, **_HIST_STYLE["current"])
        low, high = float(edges[0]), float(edges[-1])
        if not high > low:
            low, high = low - 0.5, high + 0.5
        ax.set_xlim(low, high)
        _share_axis(ax, "y", reference, current)
        ax.set_xlabel(xlabel, fontsize=_DRIFT_FONT_SIZE)
        return _to_svg(fig, name, title, tight=False)

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
        shown = [_cut(label, DRIFT_LABEL_LIMIT) for label in labels]
        with matplotlib.rc_context(_RC), _quiet_glyphs():
            font = FontProperties(size=_DRIFT_FONT_SIZE)
            widest = max(
                text_to_path.get_text_width_height_descent(t, font, ismath=False)[0] for t in shown
            )
        left = widest / 72 + 0.2
        width = max(_DRIFT_WIDTH, left + _BAR_MIN_PLOT + _MARGIN_RIGHT)
        fig, ax = self._canvas("bars", left, width, _BAR_ROW * len(shown))
        for shares, offset, side in ((reference, -0.2, "reference"), (current, 0.2, "current")):
            path = _bar_path(shares, offset, height=0.4)
            ax.add_patch(PathPatch(path, facecolor=DRIFT_COLOURS[side], edgecolor="none"))
        ax.set_yticks(range(len(shown)), shown, parse_math=False)
        ax.set_ylim(len(shown) - 0.5, -0.5)
        _share_axis(ax, "x", reference, current)
        return _to_svg(fig, name, title, tight=False)

    def _canvas(
        self, kind: str, left: float, width: float, plot_height: float
    ) -> tuple[Figure, Axes]:
        """The figure of ``kind``, emptied and sized around axes ``plot_height`` inches high.

        ``left`` is the room for the y tick labels and ``width`` the figure's, in inches.
        """
        if kind not in self._figures:
            self._figures[kind] = self._new_canvas(kind)
        fig, ax, legend = self._figures[kind]
        for patch in list(ax.patches):
            patch.remove()
        legend_height = _LEGEND_ROW * (3 - self._legend_columns)
        height = plot_height + _MARGIN_BOTTOM + _MARGIN_TOP + legend_height
        fig.set_size_inches(width, height)
        plot_width = width - left - _MARGIN_RIGHT
        ax.set_position(
            (left / width, _MARGIN_BOTTOM / height, plot_width / width, plot_height / height)
        )
        legend.set_bbox_to_anchor((_LEGEND_LEFT / width, 1.0), transform=fig.transFigure)
        return fig, ax

    def _new_canvas(self, kind: str) -> tuple[Figure, Axes, Legend]:
        with matplotlib.rc_context(_RC):
            fig = Figure()
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.tick_params(labelsize=_DRIFT_FONT_SIZE)
        if kind == "histogram":
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.set_ylabel("share of values", fontsize=_DRIFT_FONT_SIZE)
            handles: list[Artist] = [
                Patch(fill=True, **_HIST_STYLE["reference"]),
                Line2D([], [], color=DRIFT_COLOURS["current"], linewidth=1.8),
            ]
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
            ax.set_xlabel("share of values", fontsize=_DRIFT_FONT_SIZE)
            handles = [Patch(facecolor=DRIFT_COLOURS[side]) for side in ("reference", "current")]
        _tidy(ax)
        legend = ax.legend(
            handles,
            self.legend_labels,
            loc="upper left",
            ncols=self._legend_columns,
            frameon=False,
            fontsize=_DRIFT_FONT_SIZE,
            borderaxespad=0.2,
            handlelength=1.6,
        )
        for text in legend.get_texts():
            text.set_parse_math(False)
        return fig, ax, legend


def _bar_path(shares: Sequence[float], offset: float, *, height: float) -> MplPath:
    """Horizontal bars, one per share, centred ``offset`` below rows 0, 1, 2, …: one path."""
    vertices: list[tuple[float, float]] = []
    for row, share in enumerate(shares):
        low, high = row + offset - height / 2, row + offset + height / 2
        vertices += [(0.0, low), (share, low), (share, high), (0.0, high), (0.0, low)]
    codes = [MplPath.MOVETO, *[MplPath.LINETO] * 3, MplPath.CLOSEPOLY] * len(shares)
    return MplPath(vertices, codes)


def _share_axis(
    ax: Axes, which: Literal["x", "y"], reference: Sequence[float], current: Sequence[float]
) -> None:
    """Scale a share axis to a little above the largest share, in whole percents when it can."""
    top = max(max(reference, default=0.0), max(current, default=0.0))
    top = top * 1.08 if top > 0 else 1.0
    formatter = PercentFormatter(1.0, decimals=0 if top >= 0.05 else None)
    if which == "x":
        ax.set_xlim(0.0, top)
        ax.xaxis.set_major_formatter(formatter)
    else:
        ax.set_ylim(0.0, top)
        ax.yaxis.set_major_formatter(formatter)


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)


def _cut(text: str, limit: int = LABEL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _to_svg(fig: Figure, name: str, title: str, *, tight: bool = True) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``name``.

    ``tight`` crops the figure to what is drawn, at the price of drawing it twice.
    """
    buffer = io.StringIO()
    rc: dict[RcKeyType, Any] = {**_RC, "svg.hashsalt": name}
    with matplotlib.rc_context(rc), _quiet_glyphs():
        fig.savefig(
            buffer, format="svg", metadata=_NO_METADATA, bbox_inches="tight" if tight else None
        )
    return _inline(buffer.getvalue(), name, title)


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """Silence matplotlib's missing-glyph warning inside the block.

    Text in a script DejaVu Sans lacks is still written as text; the browser draws it with
    another font, so the warning is noise here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        yield


def _inline(svg: str, prefix: str, title: str) -> str:
    """Matplotlib's SVG document as an element for HTML5, its ids prefixed with ``prefix``.

    Only tags are rewritten: matplotlib escapes ``<`` and ``>`` in text and attribute values,
    so a tag is everything between one ``<`` and the next ``>``.
    """

    def fix_tag(match: re.Match[str]) -> str:
        tag = _NAMESPACES.sub("", match.group(0)).replace("xlink:href=", "href=")
        tag = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', tag)
        tag = re.sub(r'\bhref="#([^"]+)"', rf'href="#{prefix}-\1"', tag)
        return re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", tag)

    svg = _TAG.sub(fix_tag, _PROLOG.sub("", svg, count=1))
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    opening = f'<svg class="plot" role="img" aria-label="{escaped}"'
    return svg.replace("<svg", opening, 1).strip()
