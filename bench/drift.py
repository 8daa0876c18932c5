"""Drift benchmark: Assay's audit against Evidently, whylogs and a pyarrow read floor.

For every size N and generator seed, generate (or reuse) a reference and a current table with
planted drift (bench/generate.py), then run each tool as its own process and record its wall
time (start → exit, report written), the peak memory of its process tree, and which columns it
flagged as drifted against the planted truth. Figures go to bench/results.json (raw) and
bench/RESULTS.md (tables). See bench/README.md.

    bench/.venv/bin/python bench/drift.py                       # the full run (make bench)
    bench/.venv/bin/python bench/drift.py --sizes 10k,100k --seeds 0,1
    bench/.venv/bin/python bench/drift.py --render-only         # RESULTS.md from results.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import common
import psutil
from common import cpu_model
from render import render_markdown
from tools import PEERS, TOOLS, duration, run_tool, summary_line

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS_SCHEMA = "assay-bench-drift-results/1"


def _csv(kind: type, text: str) -> list[Any]:
    return [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    ap.add_argument(
        "--sizes", default="10k,100k,1M,5M", help="rows per table (default: %(default)s)"
    )
    ap.add_argument("--seeds", default="0,1,2,3,4", help="generator seeds (default: %(default)s)")
    ap.add_argument(
        "--peer-seeds", default="0", help="seeds the peers run on (default: %(default)s)"
    )
    ap.add_argument("--tools", default=",".join(TOOLS), help="default: %(default)s")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default: 600)")
    ap.add_argument("--data-dir", type=Path, default=BENCH / "data", help="generated tables")
    ap.add_argument("--results", type=Path, default=BENCH / "results.json")
    ap.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    ap.add_argument("--assay", type=Path, default=ROOT / ".venv" / "bin" / "assay")
    ap.add_argument(
        "--assay-python",
        type=Path,
        default=None,
        help="interpreter for the read floor (default: the one beside --assay, so the floor "
        "reads with the pyarrow Assay uses)",
    )
    ap.add_argument(
        "--peer-python",
        type=Path,
        default=BENCH / ".venv" / "bin" / "python",
        help="interpreter with evidently and whylogs (default: bench/.venv)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per seed of the floors and Assay; the fastest counts (default: %(default)s)",
    )
    ap.add_argument("--interval", type=float, default=0.05, help="RSS sampling period, s")
    ap.add_argument("--row-group-size", type=int, default=common.ROW_GROUP_SIZE)
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up runs")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the runs already in --results, replacing those run again",
    )
    ap.add_argument("--render-only", action="store_true", help="rewrite RESULTS.md and stop")
    args = ap.parse_args(argv)
    try:
        args.sizes = [common.parse_rows(s) for s in args.sizes.split(",") if s.strip()]
        args.seeds = _csv(int, args.seeds)
        args.peer_seeds = _csv(int, args.peer_seeds)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        ap.error(str(exc))
    args.tools = _csv(str, args.tools)
    unknown = sorted(set(args.tools) - set(TOOLS))
    if unknown:
        ap.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    args.tools = [t for t in TOOLS if t in args.tools]
    if args.assay_python is None:
        args.assay_python = args.assay.parent / "python"
    # Runs start in their own folders: make every path absolute (not resolved: a venv's
    # python is a symlink whose target would lose the venv).
    for name in ("data_dir", "results", "markdown", "assay", "assay_python", "peer_python"):
        setattr(args, name, getattr(args, name).absolute())
    return args


# --- environment ------------------------------------------------------------------------------


def _capture(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


_VERSIONS = """
import json, sys
from importlib import metadata
out = {"python": sys.version.split()[0]}
for name in sys.argv[1:]:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
"""


def compile_assay(python: Path) -> None:
    """Byte-compile Assay's modules, as ``pip install`` does for a wheel.

    An editable install (``make demo``'s ``.venv``) leaves Assay's own modules without
    ``.pyc`` files, and with ``PYTHONDONTWRITEBYTECODE`` set (as on some CI machines) every
    process of every run would compile ~140 modules from source again: ~0.15 s of CPU per
    process that no installed copy pays, while the peers, installed from wheels, are compiled.
    """
    folder = _capture(
        [str(python), "-c", "import assay, os; print(os.path.dirname(assay.__file__))"]
    )
    if folder:
        subprocess.run(
            [str(python), "-m", "compileall", "-q", "-j", "0", folder.strip()],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def versions(args: argparse.Namespace) -> dict[str, Any]:
    def of(python: Path, *names: str) -> dict[str, Any]:
        text = _capture([str(python), "-c", _VERSIONS, *names])
        return json.loads(text) if text else {"error": f"{python} did not answer"}

    commit = _capture(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _capture(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "assay_env": of(
            args.assay_python,
            "assay",
            "pyarrow",
            "numpy",
            "duckdb",
            "datasketches",
            "scipy",
            "pandas",
        ),
        "peer_env": of(
            args.peer_python,
            "evidently",
            "whylogs",
            "pandas",
            "numpy",
            "pyarrow",
            "scipy",
            "psutil",
        ),
        "harness": {"python": platform.python_version(), "psutil": psutil.__version__},
        "assay_commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}"
        if commit
        else None,
    }


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "os": platform.platform(),
    }


# --- data ---------------------------------------------------------------------------------------


def ensure_data(rows: int, seed: int, args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The folder with both tables and truth.json for (rows, seed), generated once and cached."""
    folder = args.data_dir / f"{common.format_rows(rows)}-s{seed}"
    truth_path = folder / "truth.json"
    if truth_path.exists():
        truth = json.loads(truth_path.read_text())
        same = (
            truth.get("generator"),
            truth.get("rows"),
            truth.get("seed"),
            truth.get("row_group_size"),
        )
        if same == (common.GENERATOR, rows, seed, args.row_group_size) and all(
            (folder / f).exists() for f in truth["files"].values()
        ):
            return folder, truth
    log(f"generating {common.format_rows(rows)} rows, seed {seed} → {folder}")
    # In a process of its own: the harness stays small (see measure.py on ru_maxrss).
    cmd = [
        sys.executable,
        str(BENCH / "generate.py"),
        "--rows",
        str(rows),
        "--seed",
        str(seed),
        "--out",
        str(folder),
        "--row-group-size",
        str(args.row_group_size),
    ]
    subprocess.run(cmd, check=True)
    return folder, json.loads(truth_path.read_text())


# --- the whole benchmark ------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def save(results: dict[str, Any], args: argparse.Namespace) -> None:
    args.results.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.results.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(args.results)
    tmp = args.markdown.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(results))
    tmp.replace(args.markdown)


REPEATED = ("floor", "floor-iter", "assay")
"""The tools whose times are divided by each other in the targets: each runs --repeats times."""


def fastest_of(
    tool: str,
    rows: int,
    seed: int,
    data: Path,
    truth: dict[str, Any],
    args: argparse.Namespace,
    out_root: Path,
) -> dict[str, Any]:
    """The fastest of ``--repeats`` timed runs, with the memory of one more, sampled run.

    On this VM one run varies by up to half (memory the host backs on first touch), and the
    noise of a single run would move every Assay/floor ratio; the floors and Assay get the
    same rule, so the ratio compares like with like. The timed runs have no memory sampler
    attached: it slows what it measures (see measure.py), Assay's multi-process pass more
    than the floor's read. The peak RSS and PSS come from the extra run, sampled every
    ``--interval``. Every time is kept in the record."""
    timing = argparse.Namespace(**{**vars(args), "interval": 0.0})
    tries = [
        run_tool(tool, rows, seed, data, truth, args=timing, out_root=out_root)
        for _ in range(args.repeats)
    ]
    memory = run_tool(tool, rows, seed, data, truth, args, out_root=out_root)
    done = [t for t in tries if t["status"] == "ok" and t.get("wall_s") is not None]
    best = dict(min(done, key=lambda t: t["wall_s"]) if done else tries[-1])
    best["repeats_wall_s"] = [t.get("wall_s") for t in tries]
    for key in MEMORY_KEYS:
        best[key] = memory.get(key)
    best["memory_run_wall_s"] = memory.get("wall_s")
    return best


MEMORY_KEYS = ("peak_rss_tree_bytes", "peak_pss_tree_bytes", "max_rss_single_bytes", "samples")
"""What a repeated tool's record takes from its sampled memory run."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render_only:
        results = json.loads(args.results.read_text())
        args.markdown.write_text(render_markdown(results))
        log(f"wrote {args.markdown}")
        return 0
    problems = []
    if "assay" in args.tools and not args.assay.exists():
        problems.append(
            f"Assay is not installed at {args.assay}: run `make demo` (it creates .venv) "
            "or pass --assay"
        )
    if {"floor", "floor-iter"} & set(args.tools) and not args.assay_python.exists():
        problems.append(f"no interpreter at {args.assay_python}: pass --assay-python")
    if set(PEERS) & set(args.tools) and not args.peer_python.exists():
        problems.append(
            f"no peer interpreter at {args.peer_python}: run `python3 -m venv bench/.venv && "
            "bench/.venv/bin/pip install -r bench/requirements-peers.txt` (or `make bench`)"
        )
    if problems:
        for p in problems:
            log(p)
        return 2

    if "assay" in args.tools:
        compile_assay(args.assay_python)
    previous = json.loads(args.results.read_text()) if args.merge and args.results.exists() else {}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "generator": common.GENERATOR,
        "started": previous.get("started", now),
        "finished": None,
        "commands": list(  # each command once, in the order first run
            dict.fromkeys(
                [
                    *previous.get("commands", []),
                    shlex.join(
                        ["python", "bench/drift.py", *(argv if argv is not None else sys.argv[1:])]
                    ),
                ]
            )
        ),
        "machine": machine(),
        "versions": versions(args),
        "settings": {
            "sizes": args.sizes,
            "seeds": args.seeds,
            "peer_seeds": args.peer_seeds,
            "tools": args.tools,
            "timeout_s": args.timeout,
            "rss_interval_s": args.interval,
            "repeats": args.repeats,
            "row_group_size": args.row_group_size,
        },
        "datasets": previous.get("datasets", []),
        **({"profile_memory": previous["profile_memory"]} if "profile_memory" in previous else {}),
        "runs": previous.get("runs", []),
        "warmup": [],
    }
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"note: the machine is busy (load average {load:.2f}): timings will be noisy")
    log(
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores; "
        f"results → {args.results}, {args.markdown}"
    )
    out_root = args.data_dir / "runs"
    args.data_dir.mkdir(parents=True, exist_ok=True)
    ignore = args.data_dir / ".gitignore"
    if not ignore.exists():  # gigabytes of generated tables: never committed by accident
        ignore.write_text("# Written by bench/drift.py: generated tables and run outputs.\n*\n")

    def replace(key: str, item: dict[str, Any], fields: tuple[str, ...]) -> None:
        results[key] = [x for x in results[key] if any(x.get(f) != item[f] for f in fields)]
        results[key].append(item)

    if not args.no_warmup:
        rows, seed = min(args.sizes), args.seeds[0]
        try:
            data, truth = ensure_data(rows, seed, args)
        except (OSError, ValueError, subprocess.CalledProcessError) as exc:
            log(f"warm-up skipped: the data could not be generated: {exc}")
            warm_tools: list[str] = []
        else:
            warm_tools = args.tools
        for tool in warm_tools:
            r = run_tool(tool, rows, seed, data, truth, args, out_root=args.data_dir / "warmup")
            results["warmup"].append({k: r.get(k) for k in ("tool", "rows", "status", "wall_s")})
            log(f"warm-up {summary_line(r)}")

    gave_up: dict[str, int] = {}  # tool → the size at which it timed out
    for rows in args.sizes:
        for seed in args.seeds:
            try:
                data, truth = ensure_data(rows, seed, args)
            except (OSError, ValueError, subprocess.CalledProcessError) as exc:
                for tool in args.tools:
                    r = {
                        "tool": tool,
                        "rows": rows,
                        "seed": seed,
                        "status": "error",
                        "error": f"the data could not be generated: {exc}",
                    }
                    replace("runs", r, ("tool", "rows", "seed"))
                    log(summary_line(r))
                save(results, args)
                continue
            files = [data / f for f in truth["files"].values()]
            replace(
                "datasets",
                {
                    "rows": rows,
                    "seed": seed,
                    "folder": str(data),
                    "bytes": sum(f.stat().st_size for f in files),
                    "shifted": {c: v["kind"] for c, v in truth["shifted"].items()},
                    "effects": truth["effects"],
                },
                ("rows", "seed"),
            )
            for tool in args.tools:
                if tool in PEERS and seed not in args.peer_seeds:
                    continue
                if tool in gave_up:
                    r = {
                        "tool": tool,
                        "rows": rows,
                        "seed": seed,
                        "status": "skipped",
                        "error": f"not run: did not finish in {duration(args.timeout)} at "
                        f"{common.format_rows(gave_up[tool])} rows",
                    }
                elif tool in REPEATED and args.repeats > 1:
                    r = fastest_of(tool, rows, seed, data, truth, args, out_root)
                else:
                    r = run_tool(tool, rows, seed, data, truth, args, out_root=out_root)
                    if r["status"] == "timeout":
                        gave_up[tool] = rows
                replace("runs", r, ("tool", "rows", "seed"))
                log(summary_line(r))
                save(results, args)
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["harness_max_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    save(results, args)
    log(f"wrote {args.results} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
