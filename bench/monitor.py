"""Monitor ingest benchmark: `assay monitor serve` under load, on SQLite and on PostgreSQL.

The service runs as its own process (``assay monitor serve`` over a spec and an audited
baseline prepared in a temporary folder, keys made with ``assay monitor keys``); this process
is the client: aiohttp on keep-alive connections posting batches of 500 events whose bodies
were all serialised before the clock starts. Events mirror the drift benchmark's columns
(bench/generate.py): 20 float and 5 string features, the binary prediction, plus the score
and the latency, drawn from the reference distribution (a healthy system). Per database, each
phase on a fresh service and a fresh database, checked after the service stopped (events
sent = accepted = ``SELECT count(*) FROM events``):

* throughput — closed loop, as fast as the service accepts, ``--repeat`` times: events/s
  (HTTP 202), request latency p50/p95/p99, 429 answers (retried after ``Retry-After``);
* rate — open loop at the target rate, latency from each batch's intended send time;
* soak — ``--soak`` events, throughput and p99 per tenth as the table grows;
* profile — a closed-loop run under py-spy (when installed): where the service's time goes.

In this process, without HTTP: ``Detectors.observe_events`` per event after 10k, 100k and 1M
events of history; the store alone as its table grows to ``--soak`` events; the ingest path
under cProfile; the floors — pydantic's JSON validation
alone of the same bodies, and a naive row-at-a-time sqlite3 insert of the same events. Figures
go to bench/results.json (key ``monitor``) and bench/RESULTS.md. See bench/README.md.

    .venv/bin/python bench/monitor.py                       # the full run (~10 minutes)
    .venv/bin/python bench/monitor.py --events 20k --repeat 1 --soak 50k --rate-seconds 4 \\
        --history 10k,50k --sweep 1,4                       # about 1.5 minutes
    .venv/bin/python bench/monitor.py --backends sqlite --phases throughput --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import monitor_load as ml
from common import cpu_model, format_rows, parse_rows
from monitor_render import EVENT_SIGNALS, TARGET_RATE, render_section

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS_SCHEMA = "assay-bench-monitor-results/1"
PHASES = (
    "throughput",
    "ids",
    "connections",
    "rate",
    "soak",
    "profile",
    "detectors",
    "stages",
    "store",
    "floors",
)
BACKENDS = ("sqlite", "postgresql")
log = ml.log


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[-1],
    )
    add = ap.add_argument
    add("--events", type=parse_rows, default=200_000, help="events per throughput run (200k)")
    add("--repeat", type=int, default=3, help="throughput runs per database (default 3)")
    add("--warmup", type=parse_rows, default=10_000, help="untimed events first (10k)")
    add("--soak", type=parse_rows, default=1_000_000, help="events of the soak (1M)")
    add("--rate", type=float, default=float(TARGET_RATE), help="open-loop events/s (20000)")
    add("--rate-seconds", type=float, default=15.0, help="open-loop length (15 s)")
    add("--batch", type=int, default=500, help="events per request (500)")
    add("--connections", type=int, default=4, help="closed-loop connections (4)")
    add("--open-connections", type=int, default=32, help="open-loop connections (32)")
    add("--sweep", default="1,2,4,8", help="connections of the connections phase (1,2,4,8)")
    add("--backends", default=",".join(BACKENDS), help="default: %(default)s")
    add("--phases", default=",".join(PHASES), help="default: %(default)s")
    add("--history", default="10k,100k,1M", help="detector history lengths (10k,100k,1M)")
    add(
        "--pg-settings",
        choices=sorted(ml.PG_SETTINGS),
        default="default",
        help="PostgreSQL's durable defaults, or the tests' fsync=off cluster (default: default)",
    )
    add("--py-spy", default=None, help="py-spy for the profile phase (default: bench/.venv's)")
    add("--reference-rows", type=parse_rows, default=50_000, help="reference table rows (50k)")
    add("--seed", type=int, default=0)
    add(
        "--ids",
        choices=("uuid", "sequential"),
        default="uuid",
        help="event ids: random UUIDs as clients send them (default), or e0, e1, …",
    )
    add("--assay", type=Path, default=ROOT / ".venv" / "bin" / "assay")
    add("--results", type=Path, default=BENCH / "results.json")
    add("--markdown", type=Path, default=BENCH / "RESULTS.md")
    add("--no-write", action="store_true", help="leave results.json and RESULTS.md alone")
    add("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = ap.parse_args(argv)
    args.backends, args.phases = _csv(args.backends), _csv(args.phases)
    for kind, given, known in (
        ("backend", args.backends, BACKENDS),
        ("phase", args.phases, PHASES),
    ):
        unknown = sorted(set(given) - set(known))
        if unknown:
            ap.error(f"unknown {kind}(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    try:
        args.history = sorted({parse_rows(part) for part in _csv(args.history)})
        args.sweep = sorted({int(part) for part in _csv(args.sweep)})
    except (argparse.ArgumentTypeError, ValueError) as exc:
        ap.error(str(exc))
    if args.sweep and min(args.sweep) < 1:
        ap.error("--sweep takes connection counts of at least 1")
    if min(args.batch, args.connections, args.open_connections, args.repeat) < 1:
        ap.error("--batch, --connections, --open-connections and --repeat must be at least 1")
    if args.rate <= 0 or args.rate_seconds < 0:
        ap.error("--rate must be positive and --rate-seconds not negative")
    args.assay = args.assay.absolute()
    return args


# --- environment --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
        "load_average": os.getloadavg()[0],
    }


def versions(pg_bin: Path | None, py_spy: str | None) -> dict[str, Any]:
    from importlib import metadata

    out: dict[str, Any] = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in (
        "assay",
        "fastapi",
        "starlette",
        "uvicorn",
        "h11",
        "uvloop",
        "httptools",
        "pydantic",
        "pydantic-core",
        "sqlalchemy",
        "psycopg",
        "numpy",
        "aiohttp",
        "hdrhistogram",
    ):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["postgresql"] = ml.postgresql_version(pg_bin) if pg_bin else None
    out["py-spy"] = _capture([py_spy, "--version"]) if py_spy else None
    commit = _capture(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _capture(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    out["assay_commit"] = f"{commit}{' (with uncommitted changes)' if dirty else ''}"
    return out


def _capture(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# --- the service phases -------------------------------------------------------------------------


def run_service(
    phase: str,
    backend: str,
    bodies: Sequence[bytes],
    spec: Path,
    dbs: ml.Databases,
    args: argparse.Namespace,
    *,
    label: str,
    connections: int,
) -> dict[str, Any]:
    """One phase against a fresh service on a fresh database: the warm-up, the measured load,
    the service's summary, stop, count."""
    db_url = dbs.fresh(backend)
    tokens = ml.make_keys(args.assay, db_url)
    warm = min(len(bodies) - 1, args.warmup // args.batch)
    measured = bodies[warm:]
    out: dict[str, Any] = {"phase": phase, "backend": backend, "label": label}
    out["started"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["load_average_before"] = os.getloadavg()[0]
    logfile = spec.parent / f"serve-{label}.log"
    service = ml.Service(args.assay, spec, db_url, logfile)
    spy, warmed = None, ml.Load()
    try:
        if warm:
            warmed = asyncio.run(
                ml.closed_loop(
                    service.url,
                    tokens["ingest"],
                    bodies[:warm],
                    batch=args.batch,
                    connections=connections,
                )
            )
        if phase == "profile":
            py_spy = ml.find_py_spy(args.py_spy)
            assert py_spy is not None
            spy_file = spec.parent / f"py-spy-{label}.txt"
            spy = ml.start_py_spy(py_spy, service.proc.pid, spy_file, gil=True)
            time.sleep(0.5)
        cpu = _cpu_marks(service, dbs, backend)
        if phase == "rate":
            out.update(offered_events_per_s=args.rate, connections=args.open_connections)
            load = asyncio.run(
                ml.open_loop(
                    service.url,
                    tokens["ingest"],
                    measured,
                    batch=args.batch,
                    rate=args.rate,
                    connections=args.open_connections,
                )
            )
        else:
            slice_events = len(measured) * args.batch // 10 if phase == "soak" else 0
            out.update(connections=connections, slice_events=slice_events)
            load = asyncio.run(
                ml.closed_loop(
                    service.url,
                    tokens["ingest"],
                    measured,
                    batch=args.batch,
                    connections=connections,
                    slice_events=slice_events,
                )
            )
        out["cpu_s"] = _cpu_since(cpu, service, dbs, backend)
        if spy is not None:
            out["py_spy_stderr"] = ml.stop_py_spy(spy)
            spy = None
            out["py_spy"] = ml.summarise_py_spy(spy_file)
        try:
            summary = service.summary(tokens["admin"])
        except OSError as exc:  # the service died or hangs: a failed run, not a crashed bench
            summary = {"error": f"GET /v1/summary failed: {exc}"}
    finally:
        if spy is not None:
            ml.stop_py_spy(spy)
        out["exit_code"] = service.stop()
    out.update(load.summary())
    out["warmup_events"] = warm * args.batch
    out["per_second"] = load.time_line()
    if phase == "soak":
        out["slices"] = load.slice_rows()
    signals = sorted({(s["signal"], s["window"]) for s in summary.get("signals", [])})
    out["signals_reported"] = [f"{s} ({w})" for s, w in signals]
    out["service_stats"] = summary.get("stats")
    stored = ml.count_stored(db_url)
    sent = (warm + len(measured)) * args.batch
    out["count"] = {
        "sent": sent,
        "accepted": load.accepted + warmed.accepted,
        "stored": stored["events"],
        "lost": sent - stored["events"],
    }
    out["incidents"] = stored["incidents"]
    out["log_problems"] = service.log_problems()[:10]
    if "error" in summary:
        out["log_problems"].insert(0, summary["error"])
    if out["exit_code"] != 0:
        out["log_problems"].insert(0, f"the service exited with code {out['exit_code']}")
    missing = sorted(set(EVENT_SIGNALS) - {s for s, _ in signals})
    out["signals_missing"] = missing
    out["ok"] = (
        load.errors + warmed.errors == 0
        and out["count"]["stored"] == sent == out["count"]["accepted"]
        and load.duplicates + warmed.duplicates == 0
        and not missing
        and out["exit_code"] == 0
        and not out["log_problems"]
    )
    if backend == "sqlite":
        out["db_bytes"] = Path(db_url.removeprefix("sqlite:///")).stat().st_size
    dbs.drop(db_url)
    return out


def _cpu_marks(service: ml.Service, dbs: ml.Databases, backend: str) -> dict[str, Any]:
    return {
        "server": service.cpu_seconds(),
        "database": ml.tree_cpu(dbs.server_pid(backend)),
        "client": time.process_time(),
        "machine": ml.machine_busy(),
    }


def _cpu_since(
    mark: dict[str, Any], service: ml.Service, dbs: ml.Databases, backend: str
) -> dict[str, float | None]:
    """CPU seconds during the load: the service process, PostgreSQL's processes, this client,
    and everything else on the machine (other work competing for the same cores)."""
    now = _cpu_marks(service, dbs, backend)
    out: dict[str, float | None] = {}
    for key in ("server", "database", "client", "machine"):
        a, b = mark[key], now[key]
        out[key] = b - a if a is not None and b is not None else None
    known = sum(v for k, v in out.items() if k != "machine" and v is not None)
    out["others"] = max(0.0, (out["machine"] or 0.0) - known)
    return out


def _log_run(r: dict[str, Any]) -> None:
    lat, cpu, count = r["latency_ms"] or {}, r["cpu_s"], r["count"]
    log(
        f"  {r['events_per_s'] or 0:,.0f} events/s; p50 {lat.get('p50', 0):.1f} ms, p99 "
        f"{lat.get('p99', 0):.1f} ms; 429: {r['busy_429']}, errors: {r['errors']}; sent "
        f"{count['sent']:,}, stored {count['stored']:,}; CPU s: service {cpu['server']:.1f}, "
        f"database {cpu['database'] or 0:.1f}, client {cpu['client']:.1f}, others "
        f"{cpu['others']:.1f}" + ("" if r["ok"] else "  ** CHECK FAILED **")
    )


# --- in process: detectors, the ingest path, the floors -----------------------------------------


def _spec_and_baseline(spec_path: Path) -> tuple[Any, Any]:
    from assay.monitor.server import load_baseline
    from assay.spec import load_spec

    spec = load_spec(spec_path)
    baseline, _, _ = load_baseline(spec, spec_path.parent / ".assay")
    return spec, baseline


def detector_history(
    spec_path: Path, bodies: Sequence[bytes], args: argparse.Namespace
) -> dict[str, Any]:
    """``Detectors.observe_events`` per event after each history length: 100 batches timed one
    by one at each mark (the median and the 90th percentile), the clock advancing as at the
    target rate between batches."""
    import numpy as np

    from assay.monitor.clock import ManualClock
    from assay.monitor.detectors import Detectors, EventBatch

    spec, baseline = _spec_and_baseline(spec_path)
    records = [json.loads(b)["events"] for b in bodies[:40]]
    t = time.perf_counter()
    batches = [EventBatch.from_records(r) for r in records]
    from_records = (time.perf_counter() - t) / sum(map(len, batches)) * 1e6
    clock = ManualClock()
    detectors = Detectors(spec.monitor, baseline, clock=clock)
    step = args.batch / TARGET_RATE
    seen, timed, marks = 0, 100, []

    def feed(batch: Any) -> float:
        nonlocal seen
        began = time.perf_counter()
        detectors.observe_events(batch)
        took = time.perf_counter() - began
        clock.advance(step)
        seen += len(batch)
        return took

    for mark in args.history:
        while seen < mark:
            feed(batches[(seen // args.batch) % len(batches)])
        per_event = np.array([feed(batches[k % len(batches)]) for k in range(timed)])
        per_event *= 1e6 / args.batch
        marks.append(
            {
                "history": mark,
                "us_per_event_median": float(np.median(per_event)),
                "us_per_event_p90": float(np.quantile(per_event, 0.9)),
                "footprint_bytes": detectors.footprint(),
            }
        )
        log(
            f"detectors after {format_rows(mark)} events: "
            f"{marks[-1]['us_per_event_median']:.2f} µs/event (median of {timed} batches), "
            f"state {marks[-1]['footprint_bytes']:,} bytes"
        )
    medians = [m["us_per_event_median"] for m in marks]
    return {
        "marks": marks,
        "timed_batches": timed,
        "windows": [f"{s} ({k})" for s, k in detectors.windows()],
        "from_records_us_per_event": from_records,
        "spread": max(medians) / min(medians) if medians else None,
    }


def store_growth(
    bodies: Sequence[bytes], backend: str, dbs: ml.Databases, args: argparse.Namespace
) -> dict[str, Any]:
    """The store alone as its table grows: ``traffic.insert_events`` of every batch in its own
    transaction (``Database.begin``) on a fresh database, the INSERT and the COMMIT timed
    apart, per tenth of ``--soak`` events (rows prepared outside the clock)."""
    from assay.monitor.store import traffic
    from assay.monitor.store.db import Database

    n = min(len(bodies), args.soak // args.batch)
    tenth = max(1, n // 10)
    db_url = dbs.fresh(backend)
    db = Database.open(db_url)
    out: dict[str, Any] = {"backend": backend, "events": n * args.batch, "tenths": []}
    insert_s = commit_s = 0.0
    try:
        for i, body in enumerate(bodies[:n]):
            now = time.time()
            rows = [
                {
                    "id": e["id"],
                    "ts": e["timestamp"],
                    "received": now,
                    "model_version": e["model_version"],
                    "session_id": e["session_id"],
                    "key_id": e["api_key_id"],
                    "features": json.dumps(e["features"]),
                    "prediction": e["prediction"],
                    "score": e["score"],
                    "latency_ms": e["latency_ms"],
                }
                for e in json.loads(body)["events"]
            ]
            with db.begin() as conn:
                began = time.perf_counter()
                traffic.insert_events(conn, rows)
                inserted = time.perf_counter()
            commit_s += time.perf_counter() - inserted
            insert_s += inserted - began
            if (i + 1) % tenth == 0 or i == n - 1:
                done = (i % tenth + 1) * args.batch
                out["tenths"].append(
                    {
                        "events": (i + 1) * args.batch,
                        "insert_us_per_event": insert_s / done * 1e6,
                        "commit_us_per_event": commit_s / done * 1e6,
                    }
                )
                insert_s = commit_s = 0.0
    finally:
        db.close()
        dbs.drop(db_url)
    first, last = out["tenths"][0], out["tenths"][-1]
    log(
        f"store alone, {backend}: insert + commit {first['insert_us_per_event']:.1f} + "
        f"{first['commit_us_per_event']:.1f} µs/event in the first tenth, "
        f"{last['insert_us_per_event']:.1f} + {last['commit_us_per_event']:.1f} in the last"
    )
    return out


STAGES = (
    # (stage, functions whose cumulative time it is, the file they are in)
    ("JSON validation (pydantic validate_json)", ("validate_json",), "type_adapter.py"),
    ("events → records and rows (_record, _row)", ("_record", "_row"), "service.py"),
    ("INSERT of the batch (insert_events)", ("insert_events",), "traffic.py"),
    ("connection, BEGIN and COMMIT (Database.begin)", ("begin",), "db.py"),
    (
        "quarantine and forensic look-ups",
        ("_hold_quarantined", "_capture_forensic"),
        "service.py",
    ),
    ("columnar batch (EventBatch.from_records)", ("from_records",), "events.py"),
    ("detectors (Detectors.observe_events)", ("observe_events",), "core.py"),
)


def stages(
    spec_path: Path,
    bodies: Sequence[bytes],
    backend: str,
    dbs: ml.Databases,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The ingest path in this process, without HTTP, one thread: ``validate_json`` and
    ``MonitorService.ingest_events`` on a fresh database — timed plainly (events/s), then
    under cProfile (wall time per stage, database waits included)."""
    from assay.monitor import api_models as api
    from assay.monitor.service import MonitorService
    from assay.monitor.store.db import Database

    spec, baseline = _spec_and_baseline(spec_path)
    n = min(len(bodies), max(20, 100_000 // args.batch))
    events = n * args.batch
    out: dict[str, Any] = {"backend": backend, "events": events}
    for profiled in (False, True):
        db_url = dbs.fresh(backend)
        db = Database.open(db_url)
        service = MonitorService(spec, db, baseline)
        profiler = cProfile.Profile()
        try:
            began = time.perf_counter()
            if profiled:
                profiler.enable()
            for body in bodies[:n]:
                service.ingest_events(api.EVENTS.validate_json(body))
            if profiled:
                profiler.disable()
            seconds = time.perf_counter() - began
        finally:
            service.close()
            db.close()
            dbs.drop(db_url)
        if not profiled:
            out["events_per_s"] = events / seconds
            continue
        stats: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        out["profiled_seconds"] = seconds
        out["stages"] = {}
        for stage, names, file in STAGES:
            cum = sum(
                v[3]
                for (path, _, name), v in stats.items()
                if name in names and path.endswith(file)
            )
            out["stages"][stage] = {"share": cum / seconds, "us_per_event": cum / events * 1e6}
        rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]
        out["top_own"] = [
            {
                "function": f"{Path(path).name}:{line}({name})",
                "own_share": v[2] / seconds,
                "calls_per_batch": v[1] / n,
            }
            for (path, line, name), v in rows
        ]
    log(f"in-process ingest, {backend}: {out['events_per_s']:,.0f} events/s")
    return out


def floors(bodies: Sequence[bytes], folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Pydantic's JSON validation alone (best of 3), and a naive row-at-a-time sqlite3 insert
    of the same events into the monitor's own table (WAL, ``synchronous=NORMAL``, as the
    monitor's SQLite): ``json.loads`` the body, one ``INSERT`` per event, a commit per
    request — and the same with a commit per event."""
    from assay.monitor import api_models as api
    from assay.monitor.store.db import Database

    n = min(len(bodies), max(20, 100_000 // args.batch))
    events = n * args.batch
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for body in bodies[:n]:
            api.EVENTS.validate_json(body)
        best = min(best, time.perf_counter() - began)
    out: dict[str, Any] = {"events": events, "validate_json": {"events_per_s": events / best}}
    log(f"floor, pydantic validate_json: {events / best:,.0f} events/s")
    columns = (
        "id, ts, received, model_version, session_id, key_id, features, prediction, score, "
        "latency_ms, output_text"
    )
    sql = f"INSERT INTO events ({columns}) VALUES ({', '.join('?' * 11)})"
    for mode in ("commit_per_request", "commit_per_event"):
        path = folder / f"naive-{mode}.db"
        Database.open(path).close()  # the monitor's table, indexes and WAL
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA synchronous = NORMAL")
        began = time.perf_counter()
        for body in bodies[:n]:
            now = time.time()
            if mode == "commit_per_request":
                conn.execute("BEGIN")
            for e in json.loads(body)["events"]:
                conn.execute(
                    sql,
                    (
                        e["id"],
                        e["timestamp"],
                        now,
                        e["model_version"],
                        e.get("session_id"),
                        e.get("api_key_id"),
                        json.dumps(e["features"]),
                        e.get("prediction"),
                        e.get("score"),
                        e.get("latency_ms"),
                        e.get("output_text"),
                    ),
                )
            if mode == "commit_per_request":
                conn.execute("COMMIT")
        seconds = time.perf_counter() - began
        stored = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        conn.close()
        out[f"naive_sqlite_{mode}"] = {"events_per_s": events / seconds, "stored": stored}
        log(f"floor, naive sqlite3 ({mode}): {events / seconds:,.0f} events/s")
    return out


# --- the run ------------------------------------------------------------------------------------


def _plan(args: argparse.Namespace) -> list[tuple[str, int, str, int]]:
    """(phase, bodies after the warm-up, label, connections) of every service run, per
    database."""
    events, c = args.events // args.batch, args.connections
    runs: list[tuple[str, int, str, int]] = []
    for i in range(args.repeat if "throughput" in args.phases else 0):
        runs.append(("throughput", events, f"throughput-{i + 1}", c))
    if "ids" in args.phases:
        other = "sequential" if args.ids == "uuid" else "uuid"
        runs.append(("ids", events, f"{other}-ids", c))
    if "connections" in args.phases:
        sweep = min(args.events, 100_000) // args.batch
        runs += [("connections", sweep, f"connections-{n}", n) for n in args.sweep]
    if "rate" in args.phases:
        runs.append(("rate", int(args.rate * args.rate_seconds) // args.batch, "rate", c))
    if "soak" in args.phases:
        runs.append(("soak", args.soak // args.batch, "soak", c))
    if "profile" in args.phases and ml.find_py_spy(args.py_spy):
        runs.append(("profile", min(args.events, 100_000) // args.batch, "profile", c))
    return [r for r in runs if r[1] > 0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.assay.exists():
        log(f"Assay is not installed at {args.assay}: run `make demo` or pass --assay")
        return 2
    pg_bin = ml.postgresql_bin()
    if "postgresql" in args.backends and pg_bin is None:
        log(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run "
            "`make postgresql`, or pass --backends sqlite"
        )
        return 2
    py_spy = ml.find_py_spy(args.py_spy)
    if "profile" in args.phases and py_spy is None:
        log("no py-spy (bench/.venv/bin/pip install py-spy): the profile phase is skipped")
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"note: the machine is busy (load average {load:.2f}): timings will be noisy")
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(
            [".venv/bin/python", "bench/monitor.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        "versions": versions(pg_bin if "postgresql" in args.backends else None, py_spy),
        "settings": {
            **{k: v for k, v in vars(args).items() if k not in ("assay", "results", "markdown")},
            "pg_options": ml.PG_SETTINGS[args.pg_settings],
            "target_events_per_s": TARGET_RATE,
            "spec": ml.SPEC,
        },
        "service": [],
    }
    folder = Path(tempfile.mkdtemp(prefix="assay-bench-monitor-"))
    dbs = ml.Databases(folder, pg_bin, args.pg_settings)
    plan = _plan(args)
    try:
        log(f"work folder {folder}: reference table, spec, audit")
        spec = ml.prepare(folder, args.assay, args.reference_rows, args.seed)
        warm = args.warmup // args.batch
        need = max(
            [warm + n for _, n, _, _ in plan]
            + [
                max(40, 100_000 // args.batch),
                args.soak // args.batch if "store" in args.phases else 0,
            ]
        )
        began = time.perf_counter()
        bodies = ml.make_bodies(need * args.batch, args.batch, args.seed, ids=args.ids)
        results["body_bytes_per_event"] = sum(map(len, bodies[:20])) / (20 * args.batch)
        log(
            f"{len(bodies):,} bodies of {args.batch} events built in "
            f"{time.perf_counter() - began:.1f} s ({results['body_bytes_per_event']:.0f} "
            "bytes of JSON per event)"
        )
        other_bodies: list[bytes] | None = None
        for backend in args.backends:
            for phase, n, label, connections in plan:
                log(f"{backend}: {label} ({format_rows(n * args.batch)} events)")
                if phase == "ids" and other_bodies is None:
                    other = "sequential" if args.ids == "uuid" else "uuid"
                    other_bodies = ml.make_bodies(
                        (warm + n) * args.batch, args.batch, args.seed, ids=other
                    )
                use = other_bodies if phase == "ids" else bodies
                assert use is not None
                try:
                    r = run_service(
                        phase,
                        backend,
                        use[: warm + n],
                        spec,
                        dbs,
                        args,
                        label=f"{backend}-{label}",
                        connections=connections,
                    )
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    # The service did not start or the keys could not be made: a failed run,
                    # recorded and shown; the other runs go on.
                    r = {"phase": phase, "backend": backend, "label": f"{backend}-{label}"}
                    r.update(connections=connections, ok=False, error=str(exc)[-2000:])
                    log(f"  ** the run failed: {str(exc).strip().splitlines()[-1]}")
                else:
                    _log_run(r)
                results["service"].append(r)
            if "stages" in args.phases:
                results.setdefault("stages", []).append(stages(spec, bodies, backend, dbs, args))
            if "store" in args.phases and args.soak:
                results.setdefault("store", []).append(store_growth(bodies, backend, dbs, args))
        dbs.close()  # PostgreSQL off before the in-process phases
        if "detectors" in args.phases:
            results["detectors"] = detector_history(spec, bodies, args)
        if "floors" in args.phases:
            results["floors"] = floors(bodies, folder, args)
    finally:
        dbs.close()
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    print(render_section(results))
    if not args.no_write:
        from render import render_markdown

        everything = json.loads(args.results.read_text()) if args.results.exists() else {}
        everything["monitor"] = results
        args.results.write_text(json.dumps(everything, indent=2, default=str) + "\n")
        args.markdown.write_text(render_markdown(everything))
        log(f"wrote {args.results} and {args.markdown}")
    failed = [r["label"] for r in results["service"] if not r["ok"]]
    if failed:
        log(
            f"checks failed in: {', '.join(failed)} (did not run, lost events, failed "
            "requests, errors or silent detectors)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
