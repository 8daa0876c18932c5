"""The HTML report's model validation, fairness and robustness sections: read as stored."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest
from markupsafe import escape
from report_fixtures import (
    HOSTILE,
    HOSTILE_FEATURE,
    HOSTILE_GROUP,
    Stored,
    build_domains,
    build_drift,
    domain_contents,
)
from test_html_report import Elements

from assay.reports import _charts
from assay.reports._common import format_metric
from assay.reports._svg import Canvas, LogScale, Scale, Series, draw_series, log_ticks

SECTIONS = ("model", "fairness", "robustness")


@pytest.fixture(scope="module")
def page() -> str:
    return build_domains().render("html")


def section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def rows(body: str, table_class: str) -> list[list[str]]:
    """The cells' inner HTML of each body row of the tables with ``table_class``."""
    out = []
    for table in re.findall(rf'<table class="{table_class}".*?</table>', body, re.DOTALL):
        tbody = table.split("<tbody>", 1)[1]
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", tbody, re.DOTALL):
            out.append([c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)])
    return out


def not_drawn(body: str) -> list[str]:
    """The section's "not drawn" notes, as escaped in the page."""
    return re.findall(r'class="muted[^"]*not-drawn">([^<]*)<', body)


# Presence --------------------------------------------------------------------------------


def test_sections_sit_between_drift_and_findings_with_nav_links(page: str) -> None:
    positions = [page.index(f'<section id="{name}">') for name in SECTIONS]
    assert page.index('id="thresholds"') < positions[0] < positions[1] < positions[2]
    assert positions[2] < page.index('<section id="findings">')
    nav = page.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    assert (
        '<a href="#model">Model validation</a><a href="#fairness">Fairness</a>'
        '<a href="#robustness">Robustness</a><a href="#findings">' in nav
    )


@pytest.mark.parametrize("builder", ["stored", "empty", "drift"])
def test_no_sections_without_their_artefacts(builder: str, stored: Stored, empty: Stored) -> None:
    # The stored fixture has model and fairness findings, but none citing evidence.
    run = {"stored": stored, "empty": empty, "drift": build_drift()}[builder]
    html = run.render("html")
    for name in SECTIONS:
        assert f'id="{name}"' not in html and f'href="#{name}"' not in html


def test_each_section_appears_on_its_own() -> None:
    contents = domain_contents()
    for keep in SECTIONS:
        prefix = "model/" if keep == "model" else f"{keep}/"
        dropped = {name: None for name in contents if not name.startswith(prefix)}
        stored = build_domains(dropped)
        findings = [f for f in stored.run.findings if f.domain == keep]
        html = Stored(replace(stored.run, findings=findings), stored.blobs).render("html")
        assert [name for name in SECTIONS if f'<section id="{name}">' in html] == [keep]


# Model validation ------------------------------------------------------------------------


def test_performance_table_shows_the_stored_metrics_graded_first(page: str) -> None:
    body = section(page, "model")
    stored = domain_contents()["model/performance/test.json"]
    table = rows(body, "metric-table")
    assert [re.sub(r"<[^>]+>", "", r[0]).split()[0] for r in table] == [
        "roc_auc",
        "accuracy",
        "log_loss",
    ]
    assert 'class="tag" title="The metric the gate grades">graded<' in table[0][0]
    for row in table:
        name = re.sub(r"<[^>]+>", "", row[0]).split()[0]
        value = stored["metrics"][name]
        assert row[1] == (format_metric(value) if value is not None else "undefined")
        band = stored["intervals"].get(name)
        expected = f"{format_metric(band['low'])} – {format_metric(band['high'])}" if band else "—"
        assert row[2] == expected
    assert '<th class="n">95% CI</th>' in body
    assert 'title="the model gives no probabilities">undefined<' in body
    assert "from model/performance/test.json" in body


def test_unreadable_performance_artefact_falls_back_to_the_finding() -> None:
    stored = build_domains(raw={"model/performance/test.json": b"{oops"})
    body = section(stored.render("html"), "model")
    assert "from the finding&#39;s metrics" in body
    table = rows(body, "metric-table")
    assert [r[1] for r in table] == ["0.8123", "0.75"]
    assert table[0][2] == "0.7765 – 0.8432"
    assert any(
        n.startswith("model/performance/test.json: content is not valid JSON")
        for n in not_drawn(body)
    )


def test_reliability_diagram_draws_both_binnings_from_the_stored_bins(page: str) -> None:
    body = section(page, "model")
    figure = body.split('id="model-1-calibration"', 1)[1].split("</figure>", 1)[0]
    assert '<span class="badge s-warn">warn</span>' in figure
    assert (
        "binary, positive class yes · graded binning: uniform · Brier 0.1789 · 500 rows" in figure
    )
    svg = figure.split("<svg", 1)[1]
    assert 'aria-label="Reliability diagram of test: observed against predicted, per bin"' in svg
    assert ">uniform (equal-width) bins, graded: ECE 0.05<" in svg
    assert ">quantile (equal-mass) bins: ECE 0.05<" in svg
    assert ">perfect calibration<" in svg and ">mean predicted P(yes)<" in svg
    tips = re.findall(r"<title>([^<]*)</title>", svg)
    assert len(tips) == 6
    assert "uniform (equal-width) bins, graded: ECE 0.05: bin 0.4–0.5, 200 rows, mean " in tips[-2]
    assert tips[-2].endswith("predicted 0.450, observed 0.300")
    radii = [float(r) for r in re.findall(r'<circle [^>]*r="([\d.]+)"', svg)]
    assert radii[-3] < radii[-2] < radii[-1]  # markers grow with the bin's rows


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"graded": "isotonic"}, "the content has no graded binning with bins"),
        (
            {"strategies": {"uniform": {"bins": [{"lower": 0, "upper": 1, "count": 3}]}}},
            "the uniform bins are not a list of bins",
        ),
        (
            {
                "strategies": {
                    "uniform": {
                        "bins": [
                            {
                                "lower": 0,
                                "upper": 1,
                                "mean_predicted": 0.5,
                                "observed": 1.5,
                                "count": 3,
                            }
                        ]
                    }
                }
            },
            "the uniform bins are not a list of bins",
        ),
    ],
)
def test_malformed_calibration_is_listed_not_drawn(change: dict[str, Any], reason: str) -> None:
    content = {**domain_contents()["model/calibration/test.json"], **change}
    body = section(build_domains({"model/calibration/test.json": content}).render("html"), "model")
    assert 'id="model-1-calibration"' not in body
    notes = not_drawn(body)
    assert any(
        n.startswith("Reliability diagram of test (model/calibration/test.json) not drawn: ")
        and reason in n
        for n in notes
    ), notes
    assert rows(body, "metric-table")  # the rest of the section still shows


def test_a_finding_whose_artefact_is_missing_is_listed() -> None:
    body = section(build_domains({"model/calibration/test.json": None}).render("html"), "model")
    assert (
        "Model validation not drawn: model.calibration on test cites evidence, but the run "
        "stores no model/calibration/test.json." in not_drawn(body)
    )


def test_worst_slices_are_listed_largest_gap_first(page: str) -> None:
    body = section(page, "model")
    table = rows(body, "slice-table")
    assert [r[1] for r in table] == [
        "age &lt; 25",
        str(escape(f"city = {HOSTILE}")),
        "income &gt; 1000",
    ]
    assert table[0][2:] == ["60", "0.45", "0.35 – 0.55", "0.2", "0.25", "0.001"]
    assert '<th class="n">Gap</th>' in body and '<th class="n">Error rate</th>' in body


# Fairness --------------------------------------------------------------------------------


def test_group_table_shows_the_stored_rates(page: str) -> None:
    body = section(page, "fairness")
    stored = domain_contents()["fairness/test.json"]["groupings"]
    table = rows(body, "group-table")
    groups = [g for grouping in stored for g in grouping["groups"]]
    assert len(table) == len(groups)
    for row, group in zip(table, groups, strict=True):
        assert row[0].split(" <span")[0] == str(escape(group["group"]))
        assert row[1] == f"{group['size']:,}"
        keys = ("selection_rate", "tpr", "fpr", "precision", "error_rate")
        assert row[2:7] == [
            format_metric(group[k]) if group[k] is not None else "undefined" for k in keys
        ]
        assert ("small" in row[7]) is group["small"]
    assert "reference</span>" in table[0][0] and "below ⅘" in table[1][0]
    assert "below ⅘" not in table[2][0]  # passes as stored


def test_grouping_lists_its_findings(page: str) -> None:
    body = section(page, "fairness")
    sex = body.split('id="fairness-1-1"', 1)[1].split('id="fairness-1-2"', 1)[0]
    assert "<code>fairness.disparate_impact</code> selection rate 0.40" in sex
    region = body.split('id="fairness-1-2"', 1)[1]
    assert "<code>fairness.demographic_parity</code>" in region


def test_selection_chart_draws_the_four_fifths_line_with_a_disparate_impact_finding(
    page: str,
) -> None:
    body = section(page, "fairness")
    sex, region = re.findall(r"<svg.*?</svg>", body, re.DOTALL)
    assert ">four fifths of the reference: 0.48<" in sex
    assert ">fails the four-fifths rule<" in sex and ">sex=X (small)<" in sex
    assert 'stroke-dasharray="5 3"' in sex
    assert "four fifths" not in region and ">region=north<" in region
    fail = '<rect x="[^"]+" y="[^"]+" width="[^"]+" height="[^"]+" fill="#cf222e"/>'
    assert len(re.findall(fail, sex)) == 2  # the legend swatch and the one group stored failing


def test_missing_disparate_impact_artefact_draws_no_line_and_says_why() -> None:
    body = section(
        build_domains({"fairness/test/disparate_impact/sex.json": None}).render("html"),
        "fairness",
    )
    assert "four fifths" not in body.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert (
        "four-fifths line of test:sex not drawn: the disparate-impact artefact is not stored."
        in body
    )


def test_malformed_fairness_artefacts_are_listed_not_drawn() -> None:
    body = section(build_domains(raw={"fairness/test.json": b"[1,"}).render("html"), "fairness")
    assert "<table" not in body
    assert any(
        n.startswith("Fairness of test (fairness/test.json) not drawn: content is not valid JSON")
        for n in not_drawn(body)
    )
    body = section(
        build_domains({"fairness/test.json": {"groupings": "none"}}).render("html"), "fairness"
    )
    assert (
        "Fairness of test (fairness/test.json) not drawn: the content has no list of groupings."
        in not_drawn(body)
    )
    groupings = domain_contents()["fairness/test.json"]["groupings"]
    broken = {"groupings": [groupings[0], {"features": "sex"}, 7]}
    body = section(build_domains({"fairness/test.json": broken}).render("html"), "fairness")
    assert "Part of fairness/test.json not drawn: 2 grouping entries are not readable." in body
    assert len(rows(body, "group-table")) == 3


def test_fairness_finding_without_its_artefact_is_listed() -> None:
    body = section(build_domains({"fairness/test.json": None}).render("html"), "fairness")
    assert (
        "Fairness tables not drawn: fairness.disparate_impact on test:sex cites evidence, but "
        "the run stores no fairness/test.json." in not_drawn(body)
    )


# Robustness ------------------------------------------------------------------------------


def figures(body: str) -> list[dict[str, str | None]]:
    return Elements(body).find("figure", **{"class": "robustness-chart"})


def test_one_chart_per_curve_in_check_order(page: str) -> None:
    body = section(page, "robustness")
    assert [(f["data-check"], f["data-status"]) for f in figures(body)] == [
        ("robustness.noise", "pass"),
        ("robustness.out_of_range", "fail"),
        ("robustness.feature_dropout", "fail"),
        ("robustness.adversarial", "warn"),
    ]
    assert not_drawn(body) == []


def test_degradation_chart_draws_metric_and_flip_rate_against_the_level(page: str) -> None:
    body = section(page, "robustness")
    noise = body.split('data-check="robustness.noise"', 1)[1].split("</figure>", 1)[0]
    assert "unperturbed ROC AUC 0.8123 · 500 rows · graded at level 0.1" in noise
    assert "flip rate 2% at σ = 0.1 × std" in noise
    svg = noise.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert ">ROC AUC after perturbation<" in svg and ">flip rate<" in svg
    assert ">unperturbed<" in svg and ">graded level<" in svg
    assert svg.count(">σ (× each feature&#39;s std)<") + svg.count(">σ (× each feature's std)<")
    tips = re.findall(r"<title>([^<]*)</title>", svg)
    assert tips == [
        "level 0.05: ROC AUC 0.81",
        "level 0.1: ROC AUC 0.8",
        "level 0.5: ROC AUC 0.7",
        "level 0.05: flip rate 0.01",
        "level 0.1: flip rate 0.02",
        "level 0.5: flip rate 0.125",
    ]
    values = re.findall(r"<tr><td>(.*?)</tr>", noise, re.DOTALL)
    assert len(values) == 3
    cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + values[1])
    assert cells == ["0.1", "0.8", "0.0123", "0.02", "0", ""]


def test_a_wide_level_range_gets_a_log_axis_and_raised_levels_a_cross(page: str) -> None:
    body = section(page, "robustness")
    chart = body.split('data-check="robustness.out_of_range"', 1)[1].split("</figure>", 1)[0]
    svg = chart.split("<svg", 1)[1].split("</svg>", 1)[0]
    for tick in ("1", "10", "100", "1000"):
        assert f">{tick}<" in svg
    assert svg.count(">×<") == 2  # one per panel
    assert "the model raised at level 1000 (marked ×): ModelCallError" in chart
    assert "&lt;b&gt;NaN&lt;/b&gt;" in chart and "<b>NaN" not in chart


def test_feature_dropout_bars_take_their_findings_status(page: str) -> None:
    body = section(page, "robustness")
    chart = body.split('data-check="robustness.feature_dropout"', 1)[1].split("</figure>", 1)[0]
    assert "findings per feature: 1 fail, 1 warn, 1 pass" in chart
    svg = chart.split("<svg", 1)[1].split("</svg>", 1)[0]
    labels = re.findall(
        r'text-anchor="end" dominant-baseline="central" fill="#24292f">([^<]*)<', svg
    )
    assert labels == ["income", str(escape(HOSTILE_FEATURE)), "age"]  # raised first, then drop
    assert svg.count(">model raised<") == 2
    # one legend swatch and two bars (drop and flip rate) per status drawn
    assert svg.count('fill="#bf8700"/>') == 3 and svg.count('fill="#1a7f37"/>') == 3


def test_all_raised_or_malformed_curves_are_listed_not_drawn() -> None:
    contents = domain_contents()
    curve = contents["robustness/out_of_range/test.json"]["curve"]
    raised = {**contents["robustness/out_of_range/test.json"], "curve": [curve[2]]}
    bad = {**contents["robustness/noise/test.json"], "curve": [{"level": 0.1, "metric": "x"}]}
    stored = build_domains(
        {
            "robustness/out_of_range/test.json": raised,
            "robustness/noise/test.json": bad,
        },
        raw={"robustness/adversarial/test.json": b"\xff"},
    )
    body = section(stored.render("html"), "robustness")
    notes = not_drawn(body)
    assert "robustness/noise/test.json not drawn: 1 curve entry is not readable." in notes
    assert any(
        n.startswith(
            "robustness/out_of_range/test.json not drawn: the model raised at every level "
            "(ModelCallError"
        )
        for n in notes
    )
    assert any(
        n.startswith("robustness/adversarial/test.json not drawn: content is not valid JSON")
        for n in notes
    )
    assert [f["data-check"] for f in figures(body)] == ["robustness.feature_dropout"]


# Across sections -------------------------------------------------------------------------


def test_user_text_is_escaped(page: str) -> None:
    for raw in (HOSTILE_GROUP, HOSTILE_FEATURE, HOSTILE):
        assert raw not in page
    assert str(escape(HOSTILE_GROUP)) in section(page, "fairness")
    assert str(escape(HOSTILE_FEATURE)) in section(page, "robustness")
    assert page.count("<script") == 1 and "<img" not in page


def test_page_stays_self_contained_with_unique_ids(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'href="#([^"]+)"', page):
        assert ref in ids


def test_render_is_deterministic() -> None:
    assert build_domains().render("html") == build_domains().render("html")


def test_the_artefacts_are_read_as_stored() -> None:
    """Changed stored numbers show as changed: nothing is recomputed from findings or data."""
    contents = domain_contents()
    performance = json.loads(json.dumps(contents["model/performance/test.json"]))
    performance["metrics"]["accuracy"] = 0.1234
    fairness = json.loads(json.dumps(contents["fairness/test.json"]))
    fairness["groupings"][1]["groups"][0]["tpr"] = 0.4321
    noise = json.loads(json.dumps(contents["robustness/noise/test.json"]))
    noise["curve"][0]["flip_rate"] = 0.3456
    html = build_domains(
        {
            "model/performance/test.json": performance,
            "fairness/test.json": fairness,
            "robustness/noise/test.json": noise,
        }
    ).render("html")
    assert ">0.1234<" in section(html, "model")
    assert ">0.4321<" in section(html, "fairness")
    assert "level 0.05: flip rate 0.3456" in section(html, "robustness")


# The charts and the SVG helpers ----------------------------------------------------------


def test_charts_are_deterministic_svg_elements_with_prefixed_ids() -> None:
    svg = _charts.selection_rate_svg(
        ["a", "<b>"],
        [0.5, None],
        small=[False, True],
        fails=[False, False],
        reference="a",
        four_fifths=0.4,
        name="x-1",
        title='t "quoted" <b>',
    )
    assert svg.startswith('<svg class="plot" role="img" aria-label="t &quot;quoted&quot; &lt;b>"')
    assert ">&lt;b&gt; (small)<" in svg and ">undefined<" in svg and "<b>" not in svg
    again = _charts.selection_rate_svg(
        ["a", "<b>"],
        [0.5, None],
        small=[False, True],
        fails=[False, False],
        reference="a",
        four_fifths=0.4,
        name="x-1",
        title='t "quoted" <b>',
    )
    assert svg == again and "xmlns" not in svg


def test_series_break_at_undefined_points_and_escape_their_tips() -> None:
    canvas = Canvas(100, 100, "s", "series")
    series = Series(
        [(0, 0.0), (1, 1.0), (2, None), (3, 0.5), (4, 0.2)],
        "#000",
        radii=[2.0] * 5,
        tips=["a", "b", "c", "<d>", "e"],
    )
    draw_series(canvas, series, Scale(0, 4, 0, 100), Scale(0, 1, 100, 0))
    svg = canvas.render()
    assert svg.count("<path") == 2 and svg.count("<circle") == 4
    assert "<title>&lt;d&gt;</title>" in svg and "<title>c</title>" not in svg


def test_log_scale_and_ticks() -> None:
    scale = LogScale(1.0, 1000.0, 0.0, 300.0)
    assert [round(scale(v), 6) for v in (1, 10, 100, 1000)] == [0, 100, 200, 300]
    assert log_ticks(1.0, 1000.0) == [1.0, 10.0, 100.0, 1000.0]
    assert log_ticks(2.0, 50.0) == [2.0, 10.0, 50.0]
