"""The HTML report's performance section: drawn from the stored load tests, never recomputed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markupsafe import escape
from report_fixtures import HOSTILE, Stored, artefact, build_domains, domain_finding, json_artefact
from test_html_report import Elements

from assay.checks._registry import Severity, Status, Threshold
from assay.reports._charts_performance import nines
from assay.run import Run, compute_verdict

URL = "http://127.0.0.1:8080/predict?model=" + HOSTILE
SERIES = [
    {"second": 0, "warmup": True, "offered": 20, "ok": 20, "errors": 0, "completed": 20,
     "p50": 4.2, "p90": 6.0, "p99": 9.5, "max": 10.1},
    {"second": 1, "warmup": False, "offered": 20, "ok": 19, "errors": 1, "completed": 20,
     "p50": 4.0, "p90": 5.5, "p99": 250.25, "max": 251.0},
    {"second": 2, "warmup": False, "offered": 20, "ok": 20, "errors": 0, "completed": 19,
     "p50": 4.1, "p90": 5.9, "p99": 8.75, "max": 9.0},
]  # fmt: skip
SPECTRUM = [
    {"percentile": 50.0, "latency_ms": 4.1},
    {"percentile": 90.0, "latency_ms": 5.8},
    {"percentile": 99.0, "latency_ms": 120.5},
    {"percentile": 99.9, "latency_ms": 250.25},
    {"percentile": 99.99, "latency_ms": 251.0},
]


def load_record() -> dict[str, Any]:
    return {
        "schema": "assay-loadtest/1",
        "url": URL,
        "mode": "open",
        "offered_rate": 20.0,
        "arrival": "constant",
        "duration": 2.0,
        "warmup": 1.0,
        "requests": 40,
        "ok": 39,
        "throughput": 19.5,
        "latency": {"count": 39, "p50": 4.1, "p95": 7.0, "p99": 120.5, "max": 251.0},
        "errors": {"total": 1, "rate": 0.025, "by_kind": {HOSTILE: 1}},
        "series": SERIES,
        "spectrum": SPECTRUM,
        "objectives": {"p95_ms": 100.0, "p99_ms": 100.0, "max_error_rate": 0.01},
        "histogram": {"encoding": "HdrHistogram V2, base64, microseconds", "data": "HISTFAAA"},
    }


def saturation_record() -> dict[str, Any]:
    def step(rate: float, throughput: float, passed: bool, p99: float) -> dict[str, Any]:
        return {
            "rate": rate,
            "passed": passed,
            "misses": [] if passed else [f"p99 {p99} ms exceeds the objective {HOSTILE}"],
            "throughput": throughput,
            "latency": {"p99": p99},
            "errors": {"rate": 0.0},
        }

    return {
        "schema": "assay-loadtest-saturation/1",
        "saturation_rate": 40.0,
        "saturated": True,
        "settings": {"peak_rate": 20.0},
        "steps": [
            step(20, 19.9, True, 25.5),
            step(40, 39.5, True, 60.0),
            step(60, 48.2, False, 900.0),
        ],
    }


HPA = (
    "# Autoscaling recommendation written by Assay\n"
    "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
    f"metadata:\n  name: {HOSTILE}\n"
)


def build_performance(
    contents: dict[str, Any] | None = None, raw: dict[str, bytes] | None = None
) -> Stored:
    stored: dict[str, Any] = {
        "performance/load.json": load_record(),
        "performance/saturation.json": saturation_record(),
    }
    stored.update(contents or {})
    made = {
        name: artefact(name, "application/json", raw[name])
        if raw and name in raw
        else json_artefact(name, content)
        for name, content in stored.items()
        if content is not None or (raw and name in raw)
    }
    made["performance/hpa.yaml"] = artefact(
        "performance/hpa.yaml", "application/yaml", HPA.encode()
    )
    ref = {name: a.ref for name, (a, _) in made.items()}
    ghost = "sha256:" + "e" * 64
    findings = [
        domain_finding(
            "performance.latency",
            URL,
            Status.FAIL,
            [ref.get("performance/load.json", ghost)],
            metrics={"p99_ms": 120.5, "p95_ms": 7.0},
            threshold=Threshold("p99_ms", fail=100.0),
            message=f"p99 120.5 ms at {URL}",
        ),
        domain_finding(
            "performance.saturation",
            URL,
            Status.WARN,
            [ref.get("performance/saturation.json", ghost)],
            metrics={"headroom": 2.0},
            threshold=Threshold("headroom", fail=1.0, warn=2.5, direction="min"),
        ),
        domain_finding(
            "performance.autoscaling",
            URL,
            Status.PASS,
            [ref["performance/hpa.yaml"], ref.get("performance/saturation.json", ghost)],
            metrics={"replicas": 3},
        ),
    ]
    run = Run(
        created="2025-03-04T10:11:12Z",
        tool_version="0.1.0",
        system={"name": "pricing", "version": "1.0"},
        seed=0,
        spec_sha256="ef" * 32,
        inputs=[],
        environment={},
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=tuple(a for a, _ in made.values()),
    )
    return Stored(run, {a.sha256: raw_bytes for a, raw_bytes in made.values()})


@pytest.fixture(scope="module")
def page() -> str:
    return build_performance().render("html")


def section(page: str) -> str:
    return page.split('<section id="performance">', 1)[1].split("</section>", 1)[0]


def table(body: str, anchor: str) -> list[list[str]]:
    figure = body.split(f'id="{anchor}"', 1)[1].split("</figure>", 1)[0]
    tbody = figure.split("<tbody>", 1)[1]
    return [
        [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", tbody, re.DOTALL)
    ]


def test_the_section_sits_before_findings_with_a_nav_link(page: str) -> None:
    assert page.index('<section id="performance">') < page.index('<section id="findings">')
    nav = page.split('<nav class="toc"', 1)[1].split("</nav>", 1)[0]
    assert '<a href="#performance">Performance</a>' in nav
    body = section(page)
    for anchor in ("performance-time", "performance-spectrum", "performance-throughput"):
        assert f'<figure id="{anchor}"' in body
    assert len(Elements(body).find("svg", **{"class": "plot"})) == 3


def test_the_latency_series_table_is_the_stored_series(page: str) -> None:
    rows = table(section(page), "performance-time")
    assert [r[0] for r in rows] == ["0 (warm-up)", "1", "2"]
    for row, stored in zip(rows, SERIES, strict=True):
        assert row[1:4] == [str(stored["offered"]), str(stored["completed"]), str(stored["errors"])]
        assert row[4:] == [f"{stored[k]:.1f}" for k in ("p50", "p90", "p99", "max")]


def test_the_spectrum_table_and_axis_are_the_stored_spectrum(page: str) -> None:
    body = section(page)
    rows = table(body, "performance-spectrum")
    assert rows == [[f"{s['percentile']:g}", f"{s['latency_ms']:.1f}"] for s in SPECTRUM]
    figure = body.split('id="performance-spectrum"', 1)[1].split("</figure>", 1)[0]
    labels = re.findall(r'text-anchor="middle"[^>]*fill="#57606a"[^>]*>([^<]+)<', figure)
    assert {"50", "90", "99", "99.9", "99.99"} <= set(labels)
    assert nines(99.9) == pytest.approx(3.0) and nines(90.0) == pytest.approx(1.0)


def test_the_throughput_table_is_the_stored_steps(page: str) -> None:
    rows = table(section(page), "performance-throughput")
    assert [r[:3] for r in rows] == [
        ["20", "19.9", "25.5"],
        ["40", "39.5", "60.0"],
        ["60", "48.2", "900.0"],
    ]
    assert rows[0][4] == "met" and rows[2][4].startswith("missed: p99 900.0 ms")


def test_the_manifest_is_shown_as_stored_and_escaped(page: str) -> None:
    body = section(page)
    manifest = body.split('<pre class="manifest">', 1)[1].split("</pre>", 1)[0]
    assert manifest == str(escape(HPA))


def test_hostile_text_stays_text(page: str) -> None:
    body = section(page)
    assert HOSTILE not in page
    assert str(escape(HOSTILE)) in body
    assert "<script" not in body


LOAD, SAT = "performance/load.json", "performance/saturation.json"
MALFORMED = [
    ({LOAD: {**load_record(), "series": "nope"}}, "per-second series"),
    ({LOAD: {**load_record(), "spectrum": [{"percentile": 120}]}}, "spectrum"),
    (
        {LOAD: {**load_record(), "spectrum": [{"percentile": 99.0, "latency_ms": None}]}},
        "no successful response",
    ),
    ({SAT: {**saturation_record(), "steps": [{"rate": "x"}]}}, "steps"),
    ({SAT: None}, "the run stores no performance/saturation.json"),
]


@pytest.mark.parametrize(("contents", "note"), MALFORMED)
def test_malformed_artefacts_are_listed_not_drawn(contents: dict[str, Any], note: str) -> None:
    body = section(build_performance(contents).render("html"))
    notes = re.findall(r'class="muted not-drawn">([^<]*)<', body)
    assert any(note in n for n in notes), notes


def test_invalid_json_is_listed_not_drawn() -> None:
    stored = build_performance(raw={"performance/load.json": b"{not json"})
    body = section(stored.render("html"))
    assert "performance/load.json not drawn: content is not valid JSON" in body
    assert 'id="performance-time"' not in body and 'id="performance-throughput"' in body


def test_no_section_without_performance_artefacts() -> None:
    html = build_domains().render("html")
    assert 'id="performance"' not in html and 'href="#performance"' not in html


def test_the_stored_load_record_drives_the_headline(page: str) -> None:
    body = section(page)
    record = load_record()
    assert f"{record['requests']:,} requests" in body
    assert f"p99 {record['latency']['p99']:.1f} ms" in body
    assert "error rate 0.025" in body and f"errors: 1 {escape(HOSTILE)}" in body
