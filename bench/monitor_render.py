"""The Markdown section of bench/RESULTS.md for bench/monitor.py's figures.

Standard library only, so bench/render.py can import it from either environment (the
project's .venv or the peers' bench/.venv).
"""

from __future__ import annotations

import statistics
from typing import Any

from common import format_rows

TARGET_RATE = 20_000
"""Events/s the issue asks for: SQLite, batches of 500, every detector running."""
FLAT_WITHIN = 1.25
"""Detector cost counts as independent of history when the largest per-event median is at
most this many times the smallest."""
EVENT_SIGNALS = (
    "input_shift",
    "score_shift",
    "latency_spike",
    "suspicious_output",
    "security_anomaly",
)
"""The signals events feed (accuracy_drop needs labels; no KPI is declared)."""
IDS_WORDS = {
    "uuid": "random UUIDs, as clients send them",
    "sequential": "e0, e1, … in order (kinder to the unique index than real ids)",
}
PG_WORDS = {"default": "its own durable defaults", "throwaway": "the tests' settings, fsync off"}


def _n(x: float | None, fmt: str = ",.0f") -> str:
    return "—" if x is None else format(x, fmt)


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} ms"


def _runs(
    results: dict[str, Any], backend: str, phase: str, *, done: bool = False
) -> list[dict[str, Any]]:
    """The service runs of ``phase`` on ``backend``; with ``done``, only those that ran to
    the end (a run whose service did not start has an ``error`` and no figures)."""
    return [
        r
        for r in results.get("service", [])
        if r["backend"] == backend and r["phase"] == phase and (not done or "count" in r)
    ]


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run with the median events/s (the lower middle one of an even number)."""
    ranked = sorted(runs, key=lambda r: r["events_per_s"] or 0)
    return ranked[(len(ranked) - 1) // 2] if ranked else None


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "**not met**")


def _rate_cell(runs: list[dict[str, Any]]) -> str:
    rates = [r["events_per_s"] or 0 for r in runs]
    if not rates:
        return "—"
    cell = f"{statistics.median(rates):,.0f} events/s"
    if len(rates) > 1:
        cell += f" (median of {len(rates)}: {min(rates):,.0f}–{max(rates):,.0f})"
    return cell


def _targets(results: dict[str, Any]) -> list[str]:
    rows = ["| target | figure | verdict |", "| --- | --- | --- |"]
    for backend in results["settings"]["backends"]:
        every = _runs(results, backend, "throughput")
        runs = _runs(results, backend, "throughput", done=True)
        med = _median_run(runs)
        rate = statistics.median([r["events_per_s"] or 0 for r in runs]) if runs else None
        lat = (med or {}).get("latency_ms") or {}
        figure = (
            f"{_rate_cell(runs)}; p99 {_ms(lat.get('p99'))} at {med['connections']} connections"
            if med
            else "—"
        )
        ok = None
        if every:
            ok = rate is not None and rate >= TARGET_RATE and all(r["ok"] for r in every)
        if len(every) > len(runs):
            figure += f"; {len(every) - len(runs)} run(s) failed"
        for r in _runs(results, backend, "rate", done=True):
            q = r["latency_ms"] or {}
            figure += (
                f"; open loop at {r['offered_events_per_s']:,.0f}/s offered: "
                f"{_n(r['events_per_s'])} accepted/s, p99 {_ms(q.get('p99'))}"
            )
        what = "the issue's target" if backend == "sqlite" else "the same target"
        rows.append(
            f"| ≥ {TARGET_RATE:,} events/s on {_db(backend)}, batches of "
            f"{results['settings']['batch']}, every detector running ({what}) | {figure} | "
            f"{_verdict(ok)} |"
        )
    det = results.get("detectors")
    if det and det.get("marks"):
        marks = det["marks"]
        figure = ", ".join(
            f"{m['us_per_event_median']:.2f} µs after {format_rows(m['history'])}" for m in marks
        )
        ok = det["spread"] <= FLAT_WITHIN if len(marks) > 1 else None
        rows.append(
            f"| detector cost per event independent of history (largest ≤ {FLAT_WITHIN:g}× "
            f"smallest) | {figure} ({det['spread']:.2f}×) | {_verdict(ok)} |"
        )
    for backend in results["settings"]["backends"]:
        for r in _runs(results, backend, "soak"):
            if "count" not in r:
                rows.append(
                    f"| soak on {_db(backend)}, none lost | the run failed (below) | **not met** |"
                )
                continue
            c, sl = r["count"], r.get("slices") or []
            course = (
                f" (first tenth {_n(sl[0]['events_per_s'])}/s, last {_n(sl[-1]['events_per_s'])}/s)"
                if len(sl) > 1
                else ""
            )
            rows.append(
                f"| soak of {format_rows(r['events_sent'])} events on {_db(backend)}, none lost "
                f"| sent {c['sent']:,}, accepted {c['accepted']:,}, stored {c['stored']:,}; "
                f"{_rate_cell([r])}{course} | {_verdict(r['ok'])} |"
            )
    return rows


def _problems(results: dict[str, Any]) -> list[str]:
    out = []
    for r in results.get("service", []):
        if r.get("error"):
            out.append(f"- {r['label']}: the run failed: {r['error'].strip().splitlines()[-1]}")
        if r.get("log_problems"):
            out.append(f"- {r['label']}: the service logged: {' / '.join(r['log_problems'][:3])}")
        if r.get("signals_missing"):
            out.append(f"- {r['label']}: no window reported by {', '.join(r['signals_missing'])}")
        if r.get("first_error"):
            out.append(f"- {r['label']}: {r['errors']} failed requests; first: {r['first_error']}")
    if out:
        return [*out, ""]
    return ["No run failed, logged an error, failed a request or lost an event.", ""]


def _db(backend: str) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(backend, backend)


def _service_table(results: dict[str, Any]) -> list[str]:
    lines = [
        "| database | run | events | events/s | p50 | p95 | p99 | max | 429 | errors "
        "| sent = stored | service CPU/event | DB CPU/event | others' CPU |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: "
        "| ---: | ---: |",
    ]
    for r in results.get("service", []):
        if r["phase"] in ("profile", "connections") or "count" not in r:
            continue
        lat, cpu, c = r["latency_ms"] or {}, r["cpu_s"], r["count"]
        n = r["events_accepted"] or 1
        run = r["label"].split("-", 1)[1]
        if r["phase"] == "rate":
            run += f" ({r['offered_events_per_s']:,.0f}/s offered)"
        db_cpu = f"{cpu['database'] / n * 1e6:.1f} µs" if cpu.get("database") else "—"
        kept = "yes" if c["sent"] == c["stored"] else f"**no: {c['lost']:,} lost**"
        lines.append(
            f"| {_db(r['backend'])} | {run} | {r['events_sent']:,} | {_n(r['events_per_s'])} "
            f"| {_ms(lat.get('p50'))} | {_ms(lat.get('p95'))} | {_ms(lat.get('p99'))} "
            f"| {_ms(lat.get('max'))} | {r['busy_429']} | {r['errors']} "
            f"| {kept} "
            f"| {cpu['server'] / n * 1e6:.1f} µs | {db_cpu} | {cpu['others']:.1f} s |"
        )
    return lines


def _sweep(results: dict[str, Any]) -> list[str]:
    runs = [r for r in results.get("service", []) if r["phase"] == "connections"]
    done = [r for r in runs if "count" in r]
    if not done:
        return []
    backends = list(dict.fromkeys(r["backend"] for r in runs))
    out = [
        f"Closed loop at other numbers of connections (one run of "
        f"{format_rows(done[0]['events_sent'])} events each): events/s, p50 / p99.",
        "",
        "| connections | " + " | ".join(_db(b) for b in backends) + " |",
        "| ---: |" + " ---: |" * len(backends),
    ]
    for n in sorted({r["connections"] for r in runs}):
        cells = []
        for b in backends:
            found = [r for r in runs if r["backend"] == b and r["connections"] == n]
            if found and "count" not in found[0]:
                cells.append("**failed**")
                continue
            if not found:
                cells.append("—")
                continue
            r, lat = found[0], found[0]["latency_ms"] or {}
            cells.append(
                f"{_n(r['events_per_s'])} ({_ms(lat.get('p50'))} / {_ms(lat.get('p99'))})"
                + ("" if r["ok"] else " **check failed**")
            )
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _soak(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for r in results.get("service", []):
        if r["phase"] != "soak" or not r.get("slices"):
            continue
        out += [
            f"Soak on {_db(r['backend'])}, by tenth of the run (events stored so far → "
            "throughput and p99 of that tenth):",
            "",
            "| events so far | "
            + " | ".join(
                format_rows(s["events"]) if s["events"] % 1000 == 0 else f"{s['events']:,}"
                for s in r["slices"]
            )
            + " |",
            "| --- |" + " ---: |" * len(r["slices"]),
            "| events/s | " + " | ".join(_n(s["events_per_s"]) for s in r["slices"]) + " |",
            "| p99 | "
            + " | ".join(_ms((s["latency_ms"] or {}).get("p99")) for s in r["slices"])
            + " |",
            "",
        ]
    return out


def _store(results: dict[str, Any]) -> list[str]:
    runs = results.get("store") or []
    if not runs:
        return []
    out = [
        "The store alone as the table grows (in-process, one thread: `traffic.insert_events` of "
        "each batch in its own transaction on a fresh database; µs per event for the INSERT + "
        "the COMMIT, by tenth):",
        "",
        "| database | " + " | ".join(format_rows(t["events"]) for t in runs[0]["tenths"]) + " |",
        "| --- |" + " ---: |" * len(runs[0]["tenths"]),
    ]
    for r in runs:
        cells = [
            f"{t['insert_us_per_event']:.1f} + {t['commit_us_per_event']:.1f}" for t in r["tenths"]
        ]
        out.append(f"| {_db(r['backend'])} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _in_process(results: dict[str, Any]) -> list[str]:
    fl, st = results.get("floors"), results.get("stages", [])
    if not fl and not st:
        return []
    lines = [
        "| one core, no HTTP | events/s |",
        "| --- | ---: |",
    ]
    if fl:
        lines.append(
            "| pydantic `validate_json` of the same bodies alone (the floor of any validating "
            f"service) | {fl['validate_json']['events_per_s']:,.0f} |"
        )
    for s in st:
        lines.append(
            f"| Assay's ingest path in-process on {_db(s['backend'])} (validate_json + "
            f"`MonitorService.ingest_events`: store, detectors) | {s['events_per_s']:,.0f} |"
        )
    if fl:
        for mode, what in (
            ("commit_per_request", "one commit per request"),
            ("commit_per_event", "one commit per event"),
        ):
            lines.append(
                f"| naive sqlite3: `json.loads`, one `INSERT` per event, {what}; no validation, "
                f"no detectors | {fl[f'naive_sqlite_{mode}']['events_per_s']:,.0f} |"
            )
    for backend in results["settings"]["backends"]:
        runs = _runs(results, backend, "throughput", done=True)
        if runs:
            lines.append(
                f"| *for comparison:* Assay over HTTP on {_db(backend)} (throughput runs, "
                f"median) | {statistics.median([r['events_per_s'] or 0 for r in runs]):,.0f} |"
            )
    out = [*lines, ""]
    if st:
        header = (
            "| stage (cProfile, wall time) | " + " | ".join(_db(s["backend"]) for s in st) + " |"
        )
        out += [
            "Where the in-process ingest path spends its time (cProfile's wall time, so "
            "database waits count; profiling adds overhead to Python-heavy stages):",
            "",
            header,
            "| --- |" + " ---: |" * len(st),
        ]
        for stage in dict.fromkeys(k for s in st for k in s["stages"]):
            cells = [
                f"{s['stages'][stage]['us_per_event']:.1f} µs/event "
                f"({s['stages'][stage]['share']:.0%})"
                if stage in s["stages"]
                else "—"
                for s in st
            ]
            out.append(f"| {stage} | " + " | ".join(cells) + " |")
        out.append("")
    return out


def _profiles(results: dict[str, Any]) -> list[str]:
    runs = [r for r in results.get("service", []) if r["phase"] == "profile" and r.get("py_spy")]
    if not runs:
        return []
    parts = list(dict.fromkeys(p for r in runs for p in r["py_spy"]["parts"]))
    out = [
        "Where the service's time goes under load (py-spy `--gil`: samples of the thread "
        "holding the GIL, 200/s, during a closed-loop run of "
        f"{format_rows(runs[0]['events_sent'])} events; the service's Python runs one thread "
        "at a time, so these shares divide its CPU-bound time; work done with the GIL released "
        "— SQLite writing pages, waiting for PostgreSQL — does not show here, see the wall "
        "times above):",
        "",
        "| part | " + " | ".join(f"{_db(r['backend'])}" for r in runs) + " |",
        "| --- |" + " ---: |" * len(runs),
    ]
    for part in parts:
        out.append(
            f"| {part} | "
            + " | ".join(f"{r['py_spy']['parts'].get(part, 0):.0%}" for r in runs)
            + " |"
        )
    out.append(
        "| samples (GIL held) / run seconds | "
        + " | ".join(f"{r['py_spy']['samples']:,} / {r['seconds']:.1f} s" for r in runs)
        + " |"
    )
    out.append("")
    return out


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md from the figures :func:`main` measured."""
    m, v, s = results["machine"], results["versions"], results["settings"]
    ram = m["ram_bytes"] / 2**30
    lines = [
        "## Monitor ingest: `assay monitor serve` on SQLite and PostgreSQL",
        "",
        f"Produced by `{results['command']}` ({results['started']} → {results['finished']}). "
        f"Machine: {m['cpu']}, {m['cores']} cores, {ram:.1f} GiB RAM; {m['os']}; load average "
        f"{m['load_average']:.2f} at the start. Assay {v['assay']} ({v['assay_commit']}), "
        f"Python {v['python']}, FastAPI {v['fastapi']}, Starlette {v['starlette']}, uvicorn "
        f"{v['uvicorn']} (h11 {v['h11']}; uvloop {v['uvloop'] or 'not installed'}, httptools "
        f"{v['httptools'] or 'not installed'}), pydantic {v['pydantic']}, SQLAlchemy "
        f"{v['sqlalchemy']}, psycopg {v['psycopg']}, SQLite {v['sqlite']}, PostgreSQL "
        f"{v['postgresql'] or '—'} ({PG_WORDS[s['pg_settings']]}: `{s['pg_options']}`); "
        f"client aiohttp {v['aiohttp']}.",
        "",
        f"`assay monitor serve` runs as its own process (one uvicorn worker) on a fresh "
        f"database per run; the client, another process on the same {m['cores']} cores, posts "
        f"batches of {s['batch']} events serialised before the clock starts "
        f"({results['body_bytes_per_event']:.0f} bytes of JSON per event: 20 float and 5 "
        "string features as in the drift benchmark, prediction, score, latency, session and "
        f"key; ids {IDS_WORDS[s.get('ids', 'sequential')]}), with a warm-up of "
        f"{format_rows(s['warmup'])} events first. Every run checks afterwards that events "
        "sent = accepted (202) = `SELECT count(*) FROM events`, and that each signal events "
        f"feed ({', '.join(EVENT_SIGNALS)}) reported a window.",
        "",
        *_targets(results),
        "",
        f"Closed loop: {s['connections']} connections, each sending its next batch when the "
        f"last was accepted; open loop: a batch every {s['batch'] / s['rate'] * 1000:g} ms "
        f"({s['rate']:,.0f} events/s offered, up to {s['open_connections']} in flight), latency "
        "from the intended send time. A 429 waits `Retry-After` and sends the batch again; "
        "its latency counts to the 202. CPU per event is the service process's (all its "
        "threads) and PostgreSQL's processes' user + system time over the events accepted; "
        "others' CPU is the rest of the machine during the run (work competing for the cores).",
        "",
        *_service_table(results),
        "",
        *_problems(results),
        *_sweep(results),
        *_soak(results),
    ]
    det = results.get("detectors")
    if det:
        lines += [
            "`Detectors.observe_events` in-process, per event, after each history length "
            f"({det['timed_batches']} batches of {s['batch']} timed one by one; "
            f"{len(det['windows'])} detectors: {', '.join(det['windows'])}; "
            f"`EventBatch.from_records` adds {det['from_records_us_per_event']:.1f} µs/event):",
            "",
            "| history | median | p90 | detector state |",
            "| ---: | ---: | ---: | ---: |",
            *[
                f"| {format_rows(mk['history'])} events | {mk['us_per_event_median']:.2f} µs "
                f"| {mk['us_per_event_p90']:.2f} µs | {mk['footprint_bytes'] / 1024:,.0f} KiB |"
                for mk in det["marks"]
            ],
            "",
        ]
    lines += _store(results)
    lines += _in_process(results)
    lines += _profiles(results)
    return "\n".join(lines)
