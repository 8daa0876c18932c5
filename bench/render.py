"""bench/RESULTS.md from the raw figures in bench/results.json."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from common import format_rows

LABELS = {
    "floor": "pyarrow read floor (`read_table`)",
    "floor-iter": "pyarrow read floor (`iter_batches`)",
    "assay": "Assay audit",
    "evidently": "Evidently DataDriftPreset",
    "whylogs": "whylogs profile + drift",
}
ORDER = ("floor", "floor-iter", "assay", "evidently", "whylogs")

HOW_TO_READ = """\
- **Wall time** is one whole process, start to exit: interpreter start-up, imports, reading
  both Parquet files, the tool's work and writing its report (Assay: JSON + HTML and the
  evidence store; Evidently: HTML; whylogs: HTML + JSON scores; the floor writes nothing).
  With several seeds the cell shows the median and, in brackets, the range.
- **Memory**, three ways. **Peak PSS (tree)**: the largest sum, over the process and its
  children, of proportional set size (a page shared by k processes counts 1/k in each),
  sampled every 50 ms — the physical memory the run held; the memory target uses it. **Peak
  RSS (tree)**: the same with resident set size, which counts a shared page once per
  process, so it overstates a tool that runs worker processes (Assay's profile pass runs a
  worker process beside the main one). **Max single RSS**: the kernel's high-water mark of
  the largest single process (`ru_maxrss` from `wait4`), no sampling gap; for a
  single-process tool it matches the tree RSS, which confirms the sampling. A sampled peak
  can miss a spike shorter than 50 ms. PSS also splits shared-library pages with any other
  process that maps them (another Python using the same pyarrow), so on a busy machine it
  reads lower than on a quiet one. With several seeds: the median, and the largest.
- **Recall** is the share of the 7 planted shifts the tool flagged; **false alarms** count
  flagged columns among the 20 unshifted ones. With several seeds: the worst seed (lowest
  recall, most false alarms), and the range when seeds differ. "n/a" means the tool does not
  detect drift (the floor) or the run produced no drift findings (an Assay without drift
  checks).
- **Ratios**: Assay/floor divides the medians over all seeds; Evidently/Assay and
  whylogs/Assay divide the peer's time by Assay's on the same seeds (the peer seeds only).
  A peer that was killed at the timeout gives a lower bound ("> n×").
- The floor is the least any tool can spend: reading both files. A tool cannot beat it;
  the targets measure how close Assay stays to it. The floors and Assay run three times per
  seed with no memory sampler attached and the fastest run counts (`--repeats`; every time
  is kept in results.json as `repeats_wall_s`); their memory comes from one more, sampled
  run (sampling slows the process it measures: a 5M audit by ~0.4 s, the floor by ~0.15 s).
  The peers run once, sampled. On this VM one run varies by up to half (memory the host
  backs on first touch), and the same rule on both sides keeps the ratio like for like.
- Tables are read from the page cache (the harness generated them just before), so disk
  speed does not enter; every tool ran once untimed on the smallest tables first, so
  byte-compiled modules are warm for all of them alike.
"""


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _mb(n: float | None) -> str:
    return "—" if n is None else f"{n / 2**20:,.0f} MB"


def _secs(xs: list[float]) -> str:
    if not xs:
        return "—"
    if len(xs) == 1:
        return f"{xs[0]:.2f} s"
    return f"{_median(xs):.2f} s ({min(xs):.2f}–{max(xs):.2f})"


def _mem(xs: list[int]) -> str:
    if not xs:
        return "—"
    if len(xs) == 1:
        return _mb(xs[0])
    return f"{_mb(_median(xs))} (max {_mb(max(xs))})"


def _span(xs: list[Any], fmt: str, *, worst_low: bool) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    lo, hi = min(xs), max(xs)
    worst = lo if worst_low else hi
    if lo == hi:
        return format(worst, fmt)
    return f"{format(worst, fmt)} ({format(lo, fmt)}–{format(hi, fmt)})"


def _ratio(num: float | None, den: float | None, *, lower_bound: bool = False) -> str:
    if num is None or den is None or den <= 0:
        return "n/a"
    return f"{'> ' if lower_bound else ''}{num / den:.1f}×"


def _runs(results: dict[str, Any]) -> dict[int, dict[str, list[dict[str, Any]]]]:
    by: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in results.get("runs", []):
        by[r["rows"]][r["tool"]].append(r)
    return by


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("status") == "ok"]


def _peer_vs_assay(tools: dict[str, list[dict[str, Any]]], peer: str) -> str:
    """Peer time over Assay time on the seeds the peer ran on (a timeout gives a lower bound)."""
    assay = {r["seed"]: r for r in _ok(tools.get("assay", []))}
    ratios, bound = [], False
    for r in tools.get(peer, []):
        a = assay.get(r["seed"])
        if a is None:
            continue
        if r.get("status") == "ok":
            ratios.append(r["wall_s"] / a["wall_s"])
        elif r.get("status") == "timeout":
            ratios.append(r["wall_s"] / a["wall_s"])
            bound = True
    if not ratios:
        return "n/a"
    return f"{'> ' if bound else ''}{_median(ratios):.1f}×"


def _wall_median(runs: list[dict[str, Any]]) -> float | None:
    ok = _ok(runs)
    return _median([r["wall_s"] for r in ok]) if ok else None


def _targets(by: dict[int, dict[str, list[dict[str, Any]]]]) -> list[str]:
    def wall(n: int, tool: str) -> float | None:
        return _wall_median(by.get(n, {}).get(tool, []))

    def rss(n: int) -> float | None:
        ok = [r for r in _ok(by.get(n, {}).get("assay", [])) if r.get("peak_pss_tree_bytes")]
        return _median([r["peak_pss_tree_bytes"] for r in ok]) if ok else None

    def verdict(value: float | None, limit: float, *, at_most: bool) -> str:
        if value is None:
            return "not measured"
        return "met" if (value <= limit if at_most else value >= limit) else "**not met**"

    rows = ["| target (issue 3) | figure | verdict |", "| --- | --- | --- |"]
    m, f5 = 1_000_000, 5_000_000
    for n, limit in ((m, 3.0), (f5, 2.0)):
        a, fl = wall(n, "assay"), wall(n, "floor")
        value = a / fl if a and fl else None
        rows.append(
            f"| Assay within {limit:g}× the read floor at {format_rows(n)} | "
            f"{_ratio(a, fl)} | {verdict(value, limit, at_most=True)} |"
        )
    for peer, limit in (("evidently", 30.0), ("whylogs", 20.0)):
        text = _peer_vs_assay(by.get(m, {}), peer)
        value = float(text.strip("> ×")) if text != "n/a" else None
        rows.append(
            f"| Assay ≥ {limit:g}× faster than {LABELS[peer].split()[0]} at 1M | {text} | "
            f"{verdict(value, limit, at_most=False)} |"
        )
    r1, r5 = rss(m), rss(f5)
    figure = f"{_ratio(r5, r1)} ({_mb(r5)} vs {_mb(r1)})" if r1 and r5 else "n/a"
    rows.append(
        f"| Assay's 5M peak memory (tree PSS) ≤ 1.5× its 1M peak | {figure} | "
        f"{verdict(r5 / r1 if r1 and r5 else None, 1.5, at_most=True)} |"
    )
    assay = [r for n in by for r in _ok(by[n].get("assay", []))]
    recalls = [r["recall"] for r in assay if r.get("recall") is not None]
    alarms = [r["false_alarms"] for r in assay if r.get("false_alarms") is not None]
    seeds = len({r["seed"] for r in assay if r.get("recall") is not None})
    sizes = ", ".join(format_rows(n) for n in sorted(by))
    if recalls:
        met = min(recalls) == 1.0 and max(alarms) <= 1 and seeds >= 5
        figure = (
            f"min recall {min(recalls):.2f}, max {max(alarms)} false alarms "
            f"({len(recalls)} runs, {seeds} seeds, N = {sizes})"
        )
        rows.append(
            f"| recall 1.0, ≤ 1 false alarm, every N, 5 seeds | {figure} | "
            f"{'met' if met else '**not met**'} |"
        )
    else:
        rows.append(
            "| recall 1.0, ≤ 1 false alarm, every N, 5 seeds | no drift findings yet | n/a |"
        )
    return rows


def _versions(results: dict[str, Any]) -> list[str]:
    v = results.get("versions", {})
    a, p, h = v.get("assay_env", {}), v.get("peer_env", {}), v.get("harness", {})
    mach = results.get("machine", {})
    ram = mach.get("ram_bytes")
    return [
        f"- Machine: {mach.get('cpu')}, {mach.get('cores')} cores, "
        f"{ram / 2**30:.1f} GiB RAM; {mach.get('os')}"
        if ram
        else f"- Machine: {mach}",
        f"- Assay {a.get('assay')} ({v.get('assay_commit')}): Python {a.get('python')}, "
        f"pyarrow {a.get('pyarrow')}, numpy {a.get('numpy')}, duckdb {a.get('duckdb')}, "
        f"datasketches {a.get('datasketches')}, scipy {a.get('scipy')}; the read floor runs "
        "in this environment; Assay's modules byte-compiled first, as `pip install` leaves them",
        f"- Peers (bench/.venv): Python {p.get('python')}, evidently {p.get('evidently')}, "
        f"whylogs {p.get('whylogs')}, pandas {p.get('pandas')}, numpy {p.get('numpy')}, "
        f"pyarrow {p.get('pyarrow')}, scipy {p.get('scipy')}",
        f"- Harness: Python {h.get('python')}, psutil {h.get('psutil')}",
    ]


def _size_section(n: int, tools: dict[str, list[dict[str, Any]]], datasets: list[Any]) -> list[str]:
    out = [f"## N = {format_rows(n)} rows per table", ""]
    ds = sorted((d for d in datasets if d["rows"] == n), key=lambda d: d["seed"])
    if ds:
        d = ds[0]
        shifted = ", ".join(f"{c} ({k})" for c, k in d["shifted"].items())
        out += [
            f"Two files of {d['bytes'] / 2 / 2**20:,.0f} MB each. Shifted in seed {d['seed']}: "
            f"{shifted}. Seeds: {', '.join(str(x['seed']) for x in ds)}.",
            "",
        ]
    out += [
        "| tool | runs ok | wall time | peak PSS (tree) | peak RSS (tree) | max single RSS "
        "| recall | false alarms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for tool in ORDER:
        runs = tools.get(tool)
        if not runs:
            continue
        ok = _ok(runs)
        bad = [r for r in runs if r.get("status") != "ok"]
        wall = _secs([r["wall_s"] for r in ok])
        if bad and not ok:
            wall = bad[0]["error"].split("\n")[0][:80] if bad[0].get("error") else bad[0]["status"]
        out.append(
            f"| {LABELS.get(tool, tool)} | {len(ok)}/{len(runs)} | {wall} | "
            f"{_mem([r['peak_pss_tree_bytes'] for r in ok if 'peak_pss_tree_bytes' in r])} | "
            f"{_mem([r['peak_rss_tree_bytes'] for r in ok])} | "
            f"{_mem([r['max_rss_single_bytes'] for r in ok])} | "
            f"{_span([r.get('recall') for r in ok], '.2f', worst_low=True)} | "
            f"{_span([r.get('false_alarms') for r in ok], 'd', worst_low=False)} |"
        )
    a, fl = _wall_median(tools.get("assay", [])), _wall_median(tools.get("floor", []))
    out += [
        "",
        f"Ratios: Assay/floor {_ratio(a, fl)}; Evidently/Assay "
        f"{_peer_vs_assay(tools, 'evidently')}; whylogs/Assay {_peer_vs_assay(tools, 'whylogs')}.",
        "",
    ]
    loads = [r["load_before"] for t in tools.values() for r in t if "load_before" in r]
    if loads:
        out += [
            f"Load average (1 min) when runs started: {min(loads):.2f}–{max(loads):.2f} "
            "(on 2 cores; above about 0.3 something else was running and timings are noisy).",
            "",
        ]
    lines = []
    for tool in ("assay", "evidently", "whylogs"):
        for r in sorted(_ok(tools.get(tool, [])), key=lambda r: r["seed"]):
            if r.get("flagged") is None:
                if r["seed"] == min(x["seed"] for x in tools[tool]):
                    lines.append(f"- {tool}, seed {r['seed']}: {r.get('note', 'n/a')}")
                continue
            extra = []
            if r.get("missed"):
                extra.append(f"missed {', '.join(r['missed'])}")
            if r.get("false_alarm_columns"):
                extra.append(f"false alarms {', '.join(r['false_alarm_columns'])}")
            possible = r.get("detail", {}).get("possible")
            if possible:
                extra.append(f"possible drift {', '.join(possible)}")
            lines.append(
                f"- {tool}, seed {r['seed']}: flagged {len(r['flagged'])} — "
                f"{', '.join(r['flagged']) or 'none'}" + (f" ({'; '.join(extra)})" if extra else "")
            )
    if lines:
        out += ["Flagged columns:", "", *lines, ""]
    phases = []
    for tool in ORDER:
        for r in sorted(_ok(tools.get(tool, [])), key=lambda r: r["seed"])[:1]:
            times = r.get("detail", {}).get("phases_s")
            if times:
                parts = ", ".join(f"{k} {v:.2f} s" for k, v in times.items())
                phases.append(f"- {tool}, seed {r['seed']}: {parts}")
    if phases:
        out += [
            "Where the time goes (phases timed inside the runner, after start-up):",
            "",
            *phases,
            "",
        ]
    return out


def _profile_memory(section: dict[str, Any] | None) -> list[str]:
    """The 20M-row memory target: `assay profile` at 1M and 20M rows (bench/profile_memory.py)."""
    if not section or not section.get("runs"):
        return [
            "The 20M-row memory target is measured by `bench/profile_memory.py`; "
            "it has not been run for these results.",
            "",
        ]
    runs = sorted(section["runs"], key=lambda r: r["rows"])
    out = [
        "## Profile pass memory: 1M against 20M rows",
        "",
        f"`{section['command']}` (finished {section['finished']}): `assay profile` of the "
        "benchmark's reference table, one process tree each, memory sampled as above.",
        "",
        "| rows | file | wall time | peak PSS (tree) | peak RSS (tree) | max single RSS |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        out.append(
            f"| {format_rows(r['rows'])} | {_mb(r['bytes'])} | {r['wall_s']:.2f} s | "
            f"{_mb(r['peak_pss_tree_bytes'])} | {_mb(r['peak_rss_tree_bytes'])} | "
            f"{_mb(r['max_rss_single_bytes'])} |"
        )
    small, large = runs[0], runs[-1]
    if small is not large and small["peak_pss_tree_bytes"]:
        ratio = large["peak_pss_tree_bytes"] / small["peak_pss_tree_bytes"]
        verdict = "met" if ratio <= 1.3 else "not met"
        out += [
            "",
            f"Peak PSS at {format_rows(large['rows'])} is {ratio:.2f}× the "
            f"{format_rows(small['rows'])} figure (target: within 30 %, {verdict}).",
        ]
    out.append("")
    return out


def _bootstrap(section: dict[str, Any] | None) -> list[str]:
    """Vectorised bootstrap intervals against loops (bench/bootstrap.py), when measured."""
    if not section:
        return []
    from bootstrap import render_section  # numpy only at import: fine in either venv

    return [render_section(section)]


def _pii(section: dict[str, Any] | None) -> list[str]:
    """PII detection precision, recall and throughput (bench/pii.py), when measured."""
    if not section:
        return []
    from pii import render_section  # stdlib only at import: fine in either venv

    return [render_section(section)]


def _loadtest(section: dict[str, Any] | None) -> list[str]:
    """The load tester's accuracy and cost (bench/loadtest.py), when measured."""
    if not section:
        return []
    from loadtest import render_section  # stdlib only at import: fine in either venv

    return [render_section(section)]


def _capacity(section: dict[str, Any] | None) -> list[str]:
    """The load generator against wrk and Locust on nginx (bench/capacity.py), when measured."""
    if not section:
        return []
    from capacity import render_section  # stdlib only at import: fine in either venv

    return [render_section(section)]


def _monitor(section: dict[str, Any] | None) -> list[str]:
    """The monitor's ingest throughput, latency and soak (bench/monitor.py), when measured."""
    if not section:
        return []
    from monitor_render import render_section  # stdlib only: fine in either venv

    return [render_section(section)]


def render_markdown(results: dict[str, Any]) -> str:
    by = _runs(results)
    out = [
        "# Drift benchmark results",
        "",
        "Written by `bench/drift.py` (how it works: [README.md](README.md); raw figures: "
        "[results.json](results.json)). "
        f"Started {results.get('started')}, finished {results.get('finished') or '(running)'}.",
        "",
        *_versions(results),
        "",
        "Command line(s):",
        "",
        *[f"    {c}" for c in results.get("commands", [])],
        "",
        *_targets(by),
        "",
        *_profile_memory(results.get("profile_memory")),
        *_bootstrap(results.get("bootstrap")),
        *_pii(results.get("pii")),
        *_loadtest(results.get("loadtest")),
        *_capacity(results.get("capacity")),
        *_monitor(results.get("monitor")),
    ]
    for n in sorted(by):
        out += _size_section(n, by[n], results.get("datasets", []))
    failures = [
        r for n in sorted(by) for t in ORDER for r in by[n].get(t, []) if r.get("status") != "ok"
    ]
    if failures:
        out += ["## Runs that did not finish", ""]
        for r in failures:
            out.append(
                f"- {r['tool']} at {format_rows(r['rows'])}, seed {r['seed']}: {r['status']} — "
                + (r.get("error") or "").replace("\n", " ⏎ ")
            )
        out.append("")
    out += ["## How to read this", "", HOW_TO_READ]
    return "\n".join(out)
