"""The report's SVG plots: inline-ready, deterministic, and quiet about unusual text."""

from __future__ import annotations

import re

from report_fixtures import build_stored

from assay.checks._registry import Finding, Severity, Status, Threshold
from assay.reports.plots import (
    THRESHOLD_PLOT_LIMIT,
    DriftPlotter,
    domain_status_svg,
    threshold_svg,
)


def graded(i: int, subject: str = "column") -> Finding:
    return Finding(
        "drift.feature",
        "drift",
        f"{subject}_{i}",
        Status.FAIL,
        Severity.MAJOR,
        "ml-team",
        "drifted",
        metrics={"psi": 0.3 + i / 100},
        threshold=Threshold("psi", warn=0.1, fail=0.25),
    )


def test_domain_plot_is_an_inline_svg_element() -> None:
    svg = domain_status_svg(build_stored().run.findings)
    assert svg is not None
    assert svg.startswith('<svg class="plot" role="img" aria-label="Findings per domain')
    assert svg.endswith("</svg>")
    assert "xmlns" not in svg and "http" not in svg and "<?xml" not in svg
    assert all(i.startswith("domains-") for i in re.findall(r'\bid="([^"]+)"', svg))
    assert ">Data integrity<" in svg  # text stays text (svg.fonttype = none)


def test_plots_are_deterministic() -> None:
    findings = build_stored().run.findings
    assert domain_status_svg(findings) == domain_status_svg(findings)
    assert threshold_svg(findings) == threshold_svg(findings)


def test_no_plot_without_findings() -> None:
    assert domain_status_svg([]) is None
    assert threshold_svg([]) == (None, 0)


def test_threshold_plot_draws_only_graded_failures_and_warnings() -> None:
    svg, omitted = threshold_svg(build_stored().run.findings)
    assert svg is not None and omitted == 0
    labels = set(re.findall(r">([a-z_.]+\[[^<]*\])<", svg))
    assert labels == {"integrity.missing_values[income]", "drift.feature[age]"} | {
        "security.pii[&lt;script&gt;alert('x')&lt;/script&gt;]"
    }


def test_threshold_plot_is_capped() -> None:
    svg, omitted = threshold_svg([graded(i) for i in range(THRESHOLD_PLOT_LIMIT + 5)])
    assert svg is not None and omitted == 5


def test_text_outside_the_plot_font_raises_no_warning() -> None:
    svg, _ = threshold_svg([graded(0, subject="中文列")])
    assert svg is not None and "中文列_0" in svg


def test_threshold_labels_are_not_parsed_as_mathtext() -> None:
    svg, _ = threshold_svg([graded(0, subject="price_$_usd$")])
    assert svg is not None and ">drift.feature[price_$_usd$_0]<" in svg


EDGES, REFERENCE, CURRENT = [0.0, 1.0, 2.0, 3.0], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]
LABELS = ["a", "a much longer category name", "c"]


def drift_histogram(plotter: DriftPlotter, name: str = "h", title: str = "Histogram of x") -> str:
    return plotter.histogram(EDGES, REFERENCE, CURRENT, name=name, title=title)


def drift_bars(plotter: DriftPlotter, name: str = "b") -> str:
    return plotter.bars(LABELS, REFERENCE, CURRENT, name=name, title="Bars of x")


def test_drift_plots_are_inline_svg_elements() -> None:
    plotter = DriftPlotter("train", "current")
    histogram = drift_histogram(plotter, "h-1", 'Histogram of "x" & <y>')
    assert histogram.startswith(
        '<svg class="plot" role="img" aria-label="Histogram of &quot;x&quot; &amp; &lt;y>"'
    )
    for svg, prefix in ((histogram, "h-1-"), (drift_bars(plotter), "b-")):
        assert svg.endswith("</svg>") and "xmlns" not in svg and "http" not in svg
        assert all(i.startswith(prefix) for i in re.findall(r'\bid="([^"]+)"', svg))
        assert ">reference: train<" in svg and ">current: current<" in svg
    assert ">a much longer category name<" in drift_bars(plotter)


def test_reusing_a_figure_draws_what_a_fresh_one_draws() -> None:
    used = DriftPlotter("train", "current")
    drift_bars(used, "other")
    used.histogram([5.0, 6.0], [1.0], [1.0], name="other", title="t")
    used.bars(["x"], [1.0], [0.0], name="other", title="t")
    fresh = DriftPlotter("train", "current")
    assert drift_histogram(used) == drift_histogram(fresh)
    assert drift_bars(used) == drift_bars(fresh)


def test_degenerate_drift_plots_draw_without_warnings() -> None:
    plotter = DriftPlotter("a reference with a very long name", "a current with a long name")
    assert "<svg" in plotter.histogram([4.0, 4.0], [1.0], [1.0], name="c", title="constant")
    assert "<svg" in plotter.bars(["only"], [0.0], [0.0], name="z", title="zero shares")
    assert "<svg" in plotter.bars(["中文列"], [1.0], [0.5], name="u", title="other script")


def test_ticks_are_round_and_cover_the_range() -> None:
    from assay.reports._svg import nice_ticks, percent_label, tick_label

    assert nice_ticks(0, 29, 6, integer=True) == [0, 5, 10, 15, 20, 25]
    assert nice_ticks(0, 0.11, 5) == [0, 0.025, 0.05, 0.075, 0.1]
    assert nice_ticks(42.3, 221.0, 6) == [50, 100, 150, 200]
    assert nice_ticks(3.0, 3.0, 4) == [3.0]
    ticks = nice_ticks(0, 0.11, 5)
    assert [tick_label(t, ticks) for t in ticks] == ["0.000", "0.025", "0.050", "0.075", "0.100"]
    shares = nice_ticks(0, 0.6, 4)
    assert [percent_label(t, shares) for t in shares] == ["0%", "20%", "40%", "60%"]
    small = nice_ticks(0, 0.012, 4)
    assert [percent_label(t, small) for t in small] == ["0.0%", "0.5%", "1.0%"]
    quarter = nice_ticks(0, 0.012, 5)
    assert percent_label(quarter[1], quarter) == "0.25%"


def test_bars_and_steps_are_drawn_to_scale() -> None:
    svg = DriftPlotter("r", "c").bars(["a", "b"], [0.5, 0.25], [0.25, 0.5], name="s", title="t")
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', svg)]
    bars = widths[2:]  # after the two legend swatches
    assert bars[0] == bars[3] and bars[1] == bars[2] and abs(bars[0] - 2 * bars[1]) < 0.02
    hist = DriftPlotter("r", "c").histogram([0, 1, 2], [0.5, 0.5], [1.0, 0.0], name="h", title="t")
    assert 'clip-path="url(#h-clip1)"' in hist and '<clipPath id="h-clip1">' in hist
