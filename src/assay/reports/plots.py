"""Inline SVG plots for the HTML report, drawn with matplotlib from stored findings.

Plots are drawn on a bare :class:`matplotlib.figure.Figure` and saved with the SVG backend, so
no GUI backend is selected and pyplot's global state is never touched. Text stays text
(``svg.fonttype = none``), ids are prefixed per plot so several SVGs can share one page, and the
XML prolog, DOCTYPE and namespace URLs are removed: the result embeds inline in HTML5 and makes
no reference outside the page.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from assay.checks._registry import Finding, Status
from assay.reports._common import (
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

STATUS_COLOURS = {
    "pass": "#1a7f37",
    "warn": "#bf8700",
    "fail": "#cf222e",
    "error": "#8250df",
    "skipped": "#8c959f",
    "waived": "#0969da",
}
"""One colour per status, shared by the plots and the report's stylesheet."""

THRESHOLD_PLOT_LIMIT = 30
"""At most this many failing or warning findings are drawn against their thresholds."""

LABEL_LIMIT = 48
"""Longest finding label drawn on an axis; longer labels are cut with an ellipsis."""

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
    ax.set_yticks(rows, [domain_title(d) for d in domains])
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
    ax.set_yticks([0], [_cut(finding_label(finding))])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.tick_params(axis="x", labelsize=8)
    note = f"{format_metric(value)}; {threshold.describe()}"
    ax.text(1.01, 0.5, note, transform=ax.transAxes, va="center", fontsize=8.5, clip_on=False)
    _tidy(ax)


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def _to_svg(fig: Figure, name: str, title: str) -> str:
    """The figure as an inline ``<svg>`` element whose ids all start with ``name``."""
    buffer = io.StringIO()
    rc: dict[RcKeyType, Any] = {**_RC, "svg.hashsalt": name}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        # A subject in a script DejaVu Sans lacks is still written as text; the browser
        # draws it with another font, so matplotlib's missing-glyph warning is noise here.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        fig.savefig(buffer, format="svg", metadata=_NO_METADATA, bbox_inches="tight")
    return _inline(buffer.getvalue(), name, title)


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
