"""The performance section of the HTML report, read from the performance checks' artefacts.

``performance/load.json`` (the test at the declared peak, docs/loadtest.md's
``assay-loadtest/1`` plus the stored ``spectrum``) gives the latency percentiles over time and
the percentile spectrum; ``performance/saturation.json`` the achieved throughput against the
offered rate of each step; ``performance/hpa.yaml`` the recommended HorizontalPodAutoscaler,
shown as stored. Each chart comes with its stored values in a table. Nothing is recomputed: a
value of the wrong type reads as absent, and an artefact that cannot be used is listed as not
drawn with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from assay.checks._registry import Finding
from assay.reports._charts_performance import latency_over_time_svg, spectrum_svg, throughput_svg
from assay.reports._common import Artefacts, format_metric
from assay.reports._stored import (
    COMPUTED,
    NOT_DRAWN,
    Stored,
    count,
    mapping,
    not_stored,
    number,
    shown,
    stored_json,
    text,
)
from assay.run import Run

LOAD = "performance/load.json"
SATURATION = "performance/saturation.json"
HPA = "performance/hpa.yaml"
ARTEFACTS = re.compile(r"performance/(?:load|saturation)\.json")
MANIFEST_LIMIT = 20_000
"""Longest manifest shown (bytes); a longer one is listed, not shown."""

BAD_SERIES = "the per-second series is not a list of seconds with latencies"
NO_SERIES = "the test recorded no second with a successful response"
BAD_SPECTRUM = "the spectrum is not a list of percentiles and latencies"
NO_SPECTRUM = "no successful response was measured"
BAD_STEPS = "the steps are not a list of offered rates and throughputs"


@dataclass(frozen=True)
class PerfChart:
    anchor: str
    caption: str
    svg: Markup
    headers: tuple[str, ...]
    values: list[tuple[str, ...]]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PerformanceSection:
    url: str | None
    details: list[str]
    findings: list[Finding]
    charts: list[PerfChart]
    manifest: str | None = None
    manifest_note: str | None = None
    not_drawn: list[str] = field(default_factory=list)


def performance_section(
    run: Run, artefacts: Artefacts, load: Callable[[str], bytes]
) -> PerformanceSection | None:
    """The performance section; ``None`` when the run has no performance artefact."""
    stored = {s.name: s for s in stored_json(run, artefacts, ARTEFACTS)}
    findings = [f for f in run.findings if f.domain == "performance"]
    computed = [f for f in findings if f.status in COMPUTED]
    expected = {
        "performance.latency": LOAD,
        "performance.error_rate": LOAD,
        "performance.saturation": SATURATION,
    }
    not_drawn = [
        NOT_DRAWN.format(what="Load test", why=note)
        for note in not_stored(computed, expected, set(stored))
    ]
    hpa = next((a for a in run.artefacts if a.name == HPA), None)
    if not stored and not not_drawn and hpa is None:
        return None
    charts: list[PerfChart] = []
    url = None
    details: list[str] = []
    if LOAD in stored:
        url, details = _load(stored[LOAD], charts, not_drawn)
    if SATURATION in stored:
        _saturation(stored[SATURATION], charts, not_drawn)
    manifest, note = None, None
    if hpa is not None:
        manifest, note = _manifest(hpa.sha256, hpa.size, load)
    return PerformanceSection(
        url=url,
        details=details,
        findings=sorted(findings, key=lambda f: f.check_id),
        charts=charts,
        manifest=manifest,
        manifest_note=note,
        not_drawn=not_drawn,
    )


def _load(
    item: Stored, charts: list[PerfChart], not_drawn: list[str]
) -> tuple[str | None, list[str]]:
    if item.problem:
        not_drawn.append(NOT_DRAWN.format(what=item.name, why=item.problem.rstrip(".")))
        return None, []
    data = mapping(item.data)
    latency = mapping(data.get("latency"))
    errors = mapping(data.get("errors"))
    objectives = mapping(data.get("objectives"))
    details = []
    rate = number(data.get("offered_rate"))
    if rate is not None:
        details.append(f"offered {rate:g} requests/s")
    arrival = text(data.get("arrival"))
    if arrival:
        details.append(f"{arrival} arrivals")
    duration, warmup = number(data.get("duration")), number(data.get("warmup"))
    if duration is not None:
        details.append(f"{duration:g} s measured after {warmup or 0:g} s of warm-up")
    requests = count(data.get("requests"))
    if requests is not None:
        details.append(f"{requests:,} requests")
    for name in ("p50", "p95", "p99", "max"):
        value = number(latency.get(name))
        if value is not None:
            details.append(f"{name} {value:.1f} ms")
    error_rate = number(errors.get("rate"))
    if error_rate is not None:
        details.append(f"error rate {format_metric(error_rate)}")
    throughput = number(data.get("throughput"))
    if throughput is not None:
        details.append(f"throughput {throughput:.1f} requests/s")
    by_kind = mapping(errors.get("by_kind"))
    kinds = [f"{n:,} {k}" for k, n in by_kind.items() if count(n) is not None]
    if kinds:
        details.append("errors: " + ", ".join(kinds))
    p99_objective = number(objectives.get("p99_ms"))
    series = _over_time(item.name, data, warmup or 0.0, p99_objective)
    if isinstance(series, str):
        not_drawn.append(series)
    else:
        charts.append(series)
    spectrum = _spectrum(item.name, data, objectives)
    if isinstance(spectrum, str):
        not_drawn.append(spectrum)
    else:
        charts.append(spectrum)
    return text(data.get("url")), details


def _over_time(
    name: str, data: Mapping[str, Any], warmup: float, objective: float | None
) -> PerfChart | str:
    series = data.get("series")
    what = f"Latency over time ({name})"
    if not isinstance(series, list):
        return NOT_DRAWN.format(what=what, why=BAD_SERIES)
    rows = []
    for entry in series:
        e = mapping(entry)
        second = count(e.get("second"))
        values = [e.get(k) for k in ("p50", "p90", "p99", "max")]
        if second is None or any(v is not None and number(v) is None for v in values):
            return NOT_DRAWN.format(what=what, why=BAD_SERIES)
        rows.append((second, e, [number(v) for v in values]))
    if not any(v[2] is not None for _, _, v in rows):
        return NOT_DRAWN.format(what=what, why=NO_SERIES)
    rows.sort(key=lambda r: r[0])
    svg = latency_over_time_svg(
        [s for s, _, _ in rows],
        [v[0] for _, _, v in rows],
        [v[2] for _, _, v in rows],
        warmup=warmup,
        objective=objective,
        name="performance-time-svg",
        title="Latency percentiles (p50, p99) of each second of the load test at the peak",
    )
    return PerfChart(
        anchor="performance-time",
        caption="Latency over time: p50 and p99 of the requests due in each second",
        svg=Markup(svg),
        headers=(
            "Second",
            "Offered",
            "Completed",
            "Errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "Max ms",
        ),
        values=[
            (
                f"{s}" + (" (warm-up)" if e.get("warmup") is True else ""),
                _whole(e.get("offered")),
                _whole(e.get("completed")),
                _whole(e.get("errors")),
                *(_ms(x) for x in v),
            )
            for s, e, v in rows
        ],
    )


def _spectrum(name: str, data: Mapping[str, Any], objectives: Mapping[str, Any]) -> PerfChart | str:
    spectrum = data.get("spectrum")
    what = f"Latency spectrum ({name})"
    if not isinstance(spectrum, list) or not spectrum:
        return NOT_DRAWN.format(what=what, why=BAD_SPECTRUM)
    points = []
    for entry in spectrum:
        e = mapping(entry)
        p, ms = number(e.get("percentile")), e.get("latency_ms")
        if p is None or not 0 < p < 100 or (ms is not None and number(ms) is None):
            return NOT_DRAWN.format(what=what, why=BAD_SPECTRUM)
        points.append((p, number(ms)))
    defined = sorted((p, ms) for p, ms in points if ms is not None)
    if not defined:
        return NOT_DRAWN.format(what=what, why=NO_SPECTRUM)
    marks = [
        (q, limit)
        for q, key in ((95.0, "p95_ms"), (99.0, "p99_ms"))
        if (limit := number(objectives.get(key))) is not None
    ]
    svg = spectrum_svg(
        [p for p, _ in defined],
        [ms for _, ms in defined],
        objectives=marks,
        name="performance-spectrum-svg",
        title="Latency at each percentile of the successful requests, on a nines axis",
    )
    return PerfChart(
        anchor="performance-spectrum",
        caption="Percentile spectrum: the latency under which each share of requests finished",
        svg=Markup(svg),
        headers=("Percentile", "Latency ms"),
        values=[(f"{p:g}", _ms(ms)) for p, ms in sorted(points)],
    )


def _saturation(item: Stored, charts: list[PerfChart], not_drawn: list[str]) -> None:
    what = f"Throughput against offered rate ({item.name})"
    if item.problem:
        not_drawn.append(NOT_DRAWN.format(what=item.name, why=item.problem.rstrip(".")))
        return
    data = mapping(item.data)
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        not_drawn.append(NOT_DRAWN.format(what=what, why=BAD_STEPS))
        return
    rows = []
    for entry in steps:
        e = mapping(entry)
        rate, achieved = number(e.get("rate")), number(e.get("throughput"))
        if rate is None or achieved is None or not isinstance(e.get("passed"), bool):
            not_drawn.append(NOT_DRAWN.format(what=what, why=BAD_STEPS))
            return
        rows.append((rate, achieved, e))
    rows.sort(key=lambda r: r[0])
    saturation = number(data.get("saturation_rate"))
    peak = number(mapping(data.get("settings")).get("peak_rate"))
    svg = throughput_svg(
        [r for r, _, _ in rows],
        [a for _, a, _ in rows],
        [e["passed"] for _, _, e in rows],
        saturation=saturation,
        peak=peak,
        name="performance-throughput-svg",
        title="Achieved throughput against the offered rate of each saturation step",
    )
    notes = []
    if saturation is None:
        notes.append("no step met the objectives: no saturation rate")
    elif data.get("saturated") is False:
        notes.append("every step met the objectives: the capacity is at least the last rate")
    charts.append(
        PerfChart(
            anchor="performance-throughput",
            caption="Throughput against offered rate: the saturation search's steps",
            svg=Markup(svg),
            headers=("Offered /s", "Achieved /s", "p99 ms", "Error rate", "Objectives"),
            values=[
                (
                    f"{r:g}",
                    f"{a:.1f}",
                    _ms(number(mapping(e.get("latency")).get("p99"))),
                    shown(mapping(e.get("errors")).get("rate")),
                    "met" if e["passed"] else "missed: " + "; ".join(_strings(e.get("misses"))),
                )
                for r, a, e in rows
            ],
            notes=notes,
        )
    )


def _manifest(digest: str, size: int, load: Callable[[str], bytes]) -> tuple[str | None, str]:
    where = f"stored as {HPA}"
    if size > MANIFEST_LIMIT:
        return None, f"{where}, {size:,} bytes: too long to show here"
    try:
        return load(digest).decode("utf-8"), where
    except (KeyError, OSError, LookupError, UnicodeDecodeError) as exc:
        return None, f"{where}, but unreadable ({type(exc).__name__})"


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _ms(value: Any) -> str:
    v = number(value)
    return "—" if v is None else f"{v:.1f}"


def _whole(value: Any) -> str:
    v = count(value)
    return "—" if v is None else f"{v:,}"
