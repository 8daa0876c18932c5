"""The HTML report's drift section: read from the drift artefacts, ranked, drawn and escaped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from markupsafe import escape
from report_fixtures import (
    HOSTILE,
    HOSTILE_COLUMN,
    MATH_LABEL,
    Stored,
    artefact,
    bars,
    build_drift,
    build_many_drifted,
    drift_artefact,
    drift_column,
    drift_finding,
)
from test_html_report import Elements

from assay.checks._registry import Severity, Status
from assay.reports import plots
from assay.reports._drift import BAD_PLOT_DATA, BAR_LIMIT, NO_PLOT_DATA, PLOT_LIMIT
from assay.run import compute_verdict

RANKED = [
    ("drift.feature", "age"),
    ("drift.label", "target"),
    ("drift.feature", HOSTILE_COLUMN),
    ("drift.feature", "city"),
    ("drift.feature", "income"),
    ("drift.feature", "zip"),
]
"""The fixture's columns by effect size, largest first; zip has none and comes last."""


@pytest.fixture(scope="module")
def page() -> str:
    return build_drift().render("html")


def section(page: str) -> str:
    return page.split('<section id="drift">', 1)[1].split("</section>", 1)[0]


def table_rows(page: str) -> list[dict[str, str | None]]:
    return [a for t, a in Elements(section(page)).tags if t == "tr" and "data-check" in a]


def figures(page: str) -> list[dict[str, str | None]]:
    return Elements(section(page)).find("figure", **{"class": "drift-plot"})


def test_section_sits_between_thresholds_and_findings_with_a_nav_link(page: str) -> None:
    assert page.index('id="thresholds"') < page.index('id="drift"') < page.index('id="findings"')
    nav = page.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    assert '<a href="#thresholds">Thresholds</a><a href="#drift">Drift</a>' in nav


def test_no_section_without_drift_artefacts(stored: Stored, empty: Stored) -> None:
    # The stored fixture has artefacts named drift/… that are not comparisons.
    for run in (stored, empty):
        page = run.render("html")
        assert 'id="drift"' not in page and 'href="#drift"' not in page


def test_one_table_per_comparison_with_every_column_ranked_by_effect_size(page: str) -> None:
    body = section(page)
    assert re.search(r'<h3 id="drift-1">train <span class="muted">→</span> current</h3>', body)
    rows = table_rows(page)
    assert [r["data-check"] for r in rows] == [check for check, _ in RANKED]
    assert [r["data-status"] for r in rows] == ["fail", "fail", "waived", "warn", "pass", "fail"]
    cells = re.findall(r"<tr data-check=.*?</tr>", body, re.DOTALL)
    age = re.findall(r"<td[^>]*>(.*?)</td>", cells[0], re.DOTALL)
    assert age[2:7] == ["numeric", "ks", "0.31", "4e-06", "0.42"]
    assert '<span class="badge s-fail">fail</span>' in age[7]
    zip_cells = re.findall(r"<td[^>]*>(.*?)</td>", cells[-1], re.DOTALL)
    assert zip_cells[3:7] == ["—"] * 4


def test_comparison_level_findings_are_shown(page: str) -> None:
    overall = section(page).split('class="drift-overall"', 1)[1].split("</ul>", 1)[0]
    assert "<code>drift.dataset</code> current: 2 of 4 features drifted" in overall


def test_plots_only_for_failing_warning_and_waived_columns_largest_first(page: str) -> None:
    drawn = figures(page)
    assert [f["data-status"] for f in drawn] == ["fail", "fail", "waived", "warn"]
    captions = re.findall(r"<strong>([^<]*)</strong> <code>[^<]*</code><br>", section(page))
    assert captions == ["age", "target", str(escape(HOSTILE_COLUMN)), "city"]
    svgs = re.findall(r"<svg\b[^>]*>", section(page))
    assert len(svgs) == len(drawn) == 4
    assert all('role="img"' in s and 'aria-label="' in s for s in svgs)
    assert 'aria-label="Histogram of age: shares of values in train and current"' in svgs[0]
    assert 'aria-label="Bar chart of target: shares' in svgs[1]


def test_table_links_each_drawn_column_to_its_plot(page: str) -> None:
    links = re.findall(r'<a href="#(drift-1-plot-\d)">([^<]*)</a>', section(page))
    assert links == [
        (f"drift-1-plot-{i}", name)
        for i, name in enumerate(["age", "target", str(escape(HOSTILE_COLUMN)), "city"], 1)
    ]
    assert [f["id"] for f in figures(page)] == [target for target, _ in links]


def test_captions_give_test_statistic_corrected_p_and_sizes(page: str) -> None:
    caption = section(page).split('id="drift-1-plot-1"', 1)[1].split("</figcaption>", 1)[0]
    assert "ks statistic 0.31 · corrected p 4e-06 · effect size 0.42" in caption
    assert "n = 5,000 (train) / 4,800 (current)" in caption
    city = section(page).split('id="drift-1-plot-4"', 1)[1].split("</figcaption>", 1)[0]
    assert "psi statistic 0.15 · effect size 0.18" in city and "corrected p" not in city
    many = section(build_many_drifted(20).render("html"))
    first = many.split('id="drift-1-plot-1"', 1)[1].split("</figcaption>", 1)[0]
    assert "col_19" in first and "ks statistic 0.2 · n = 5,000" in first  # effect = statistic
    sole = section(page).split('id="drift-1-plot-2"', 1)[1].split("</figcaption>", 1)[0]
    assert "chi_squared statistic 12 · corrected p 0.0004 · effect size 0.3" in sole


def test_plots_overlay_both_datasets_with_a_legend(page: str) -> None:
    svg = section(page).split('id="drift-1-plot-1"', 1)[1].split("</svg>", 1)[0]
    assert ">reference: train<" in svg and ">current: current<" in svg
    assert ">share of values<" in svg and ">value<" in svg


def test_a_flagged_column_without_plot_data_is_listed_with_its_message(page: str) -> None:
    undrawn = section(page).split('class="drift-undrawn"', 1)[1].split("</ul>", 1)[0]
    assert "<strong>zip</strong>" in undrawn and NO_PLOT_DATA in undrawn
    assert "type changed from integer in train to string in current" in undrawn
    assert "income" not in undrawn


def test_plots_are_capped_per_comparison_with_a_note() -> None:
    page = build_many_drifted(PLOT_LIMIT + 5).render("html")
    drawn = figures(page)
    assert len(drawn) == PLOT_LIMIT
    captions = re.findall(r"<strong>(col_\d+)</strong>", section(page))
    assert captions == [f"col_{i:02d}" for i in range(PLOT_LIMIT + 4, 4, -1)]
    assert "5 more failing, warning or waived columns not drawn" in section(page)
    assert f"at most {PLOT_LIMIT} plots per comparison" in section(page)
    assert len(table_rows(page)) == PLOT_LIMIT + 5
    assert "not drawn" not in section(build_drift().render("html"))


def test_user_text_is_escaped(page: str) -> None:
    body = section(page)
    assert HOSTILE_COLUMN not in page and HOSTILE not in page
    assert str(escape(HOSTILE_COLUMN)) in body
    assert ">&lt;script&gt;alert('x')&lt;/script&gt;<" in body  # a category, in the SVG
    assert body.count("<script") == 0


def test_labels_are_not_parsed_as_mathtext(page: str) -> None:
    assert f">{MATH_LABEL}<" in section(page)


def test_page_stays_self_contained_with_unique_ids(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\bsrc\s*=", page) and "<link" not in page
    assert set(re.findall(r"url\((.)", page)) <= {"#"}
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', page):
        assert (ref[0] or ref[1]) in ids
    assert "<?xml" not in page and "xmlns" not in page


def test_render_is_deterministic() -> None:
    assert build_drift().render("html") == build_drift().render("html")


def test_unreadable_artefacts_are_reported_not_fatal() -> None:
    stored = build_drift()
    features, label = stored.run.artefacts
    broken, broken_bytes = artefact(
        "drift/drift.prediction/current.json", "application/json", b"[]"
    )
    blobs = {features.sha256: b"{not json", broken.sha256: broken_bytes}
    run = replace(stored.run, artefacts=(features, label, broken))
    page = Stored(run, blobs).render("html")
    body = section(page)
    assert "drift/drift.feature/current.json: content is not valid JSON" in body
    assert "drift/drift.label/current.json: content unavailable (KeyError" in body
    assert (
        "drift/drift.prediction/current.json: not a drift comparison (no list of columns)" in body
    )
    assert "<table" not in body


def test_malformed_plot_data_is_listed_not_drawn() -> None:
    columns = [
        drift_column("ragged", "categorical", 0.5, bars(["a", "b"], [0.5, 0.5], [1.0])),
        drift_column("negative", "categorical", 0.4, bars(["a"], [-1.0], [1.0])),
        drift_column("unknown", "numeric", 0.3, {"type": "violin"}),
        drift_column(
            "unordered",
            "numeric",
            0.2,
            {"type": "histogram", "edges": [3, 2, 1], "reference": [1, 0], "current": [0, 1]},
        ),
        drift_column("fine", "categorical", 0.1, bars(["a"], [1.0], [1.0])),
        "not an entry",
    ]
    features, raw = drift_artefact("drift.feature", columns)  # type: ignore[arg-type]
    findings = [
        drift_finding("drift.feature", c["column"], Status.FAIL, "drifted", features.ref)
        for c in columns
        if isinstance(c, dict)
    ]
    run = replace(
        build_drift().run,
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=(features,),
    )
    body = section(Stored(run, {features.sha256: raw}).render("html"))
    undrawn = body.split('class="drift-undrawn"', 1)[1].split("</ul>", 1)[0]
    for name in ("ragged", "negative", "unknown", "unordered"):
        assert f"<strong>{name}</strong> <code>drift.feature</code>: {BAD_PLOT_DATA}" in undrawn
    assert re.findall(r"<strong>(\w+)</strong> <code>drift.feature</code><br>", body) == ["fine"]
    assert "1 column entry is not readable; left out of this section." in body


def test_bar_charts_draw_the_largest_shares_only() -> None:
    labels = [f"c{i}" for i in range(BAR_LIMIT + 4)]
    shares = [(i + 1) / 1000 for i in range(BAR_LIMIT + 4)]
    columns = [drift_column("many", "categorical", 0.5, bars(labels, shares, shares))]
    features, raw = drift_artefact("drift.feature", columns)
    findings = [drift_finding("drift.feature", "many", Status.WARN, "shifted", features.ref)]
    run = replace(build_drift().run, findings=findings, artefacts=(features,))
    body = section(Stored(run, {features.sha256: raw}).render("html"))
    assert (
        f"the {BAR_LIMIT} of {BAR_LIMIT + 4} categories with the largest shares are drawn" in body
    )
    svg = body.split("<svg", 1)[1]
    assert ">c4<" in svg and ">c3<" not in svg and ">c0<" not in svg


def test_columns_without_flagged_findings_draw_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_drawing(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing should be drawn")

    monkeypatch.setattr(plots, "DriftPlotter", no_drawing)
    stored = build_drift()
    findings = [
        replace(f, status=Status.PASS, waiver=None) if f.check_id != "drift.dataset" else f
        for f in stored.run.findings
    ]
    page = Stored(replace(stored.run, findings=findings), stored.blobs).render("html")
    assert len(table_rows(page)) == len(RANKED)
    assert "drift-plot" not in section(page) and "drift-undrawn" not in section(page)


def test_drawing_imports_no_plotting_library() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from report_fixtures import build_drift\n"
        "page = build_drift().render('html')\n"
        "assert page.count('<svg') >= 4\n"
        "print(sorted(m for m in ('matplotlib', 'pandas') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_drift_artefact_is_read_as_stored() -> None:
    """The section shows the stored numbers; the drift statistics are never recomputed."""
    stored = build_drift()
    features = stored.run.artefacts[0]
    content = json.loads(stored.blobs[features.sha256])
    content["columns"][3]["statistic"] = 0.777
    raw = json.dumps(content).encode()
    changed, _ = artefact(features.name, features.media_type, raw)
    run = replace(stored.run, artefacts=(changed, stored.run.artefacts[1]))
    blobs = {**stored.blobs, changed.sha256: raw}
    findings = [
        replace(f, evidence=(changed.ref,)) if f.check_id == "drift.feature" else f
        for f in run.findings
    ]
    page = Stored(replace(run, findings=findings), blobs).render("html")
    assert "ks statistic 0.777" in section(page)
