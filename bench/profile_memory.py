"""Peak memory of the profile pass: 1 M rows against 20 M rows of the same table.

The profile pass streams record batches, so its memory should depend on the batch size and the
column count, not on the row count. This runs ``assay profile`` (the pass without row hashes,
which are per-row by design) on the benchmark's reference table at 1 M and at 20 M rows, each
as its own process, and records wall time and the peak memory of the process tree the same way
as bench/drift.py. The figures go into bench/results.json under ``profile_memory`` and into
bench/RESULTS.md.

    bench/.venv/bin/python bench/profile_memory.py              # 1M and 20M, seed 0
    bench/.venv/bin/python bench/profile_memory.py --sizes 1M,5M
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import format_rows, parse_rows
from measure import run_measured
from render import render_markdown

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def ensure_table(rows: int, seed: int, data_dir: Path, python: Path) -> Path:
    folder = data_dir / f"{format_rows(rows)}-s{seed}"
    if not (folder / "reference.parquet").exists():
        print(f"generating {format_rows(rows)} rows → {folder}", flush=True)
        subprocess.run(
            [
                str(python),
                str(BENCH / "generate.py"),
                "--rows",
                str(rows),
                "--seed",
                str(seed),
                "--out",
                str(folder),
            ],
            check=True,
        )
    return folder / "reference.parquet"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,20M")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", type=Path, default=BENCH / "data")
    ap.add_argument("--assay", type=Path, default=ROOT / ".venv" / "bin" / "assay")
    ap.add_argument("--python", type=Path, default=ROOT / ".venv" / "bin" / "python")
    ap.add_argument("--results", type=Path, default=BENCH / "results.json")
    ap.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args(argv)
    runs: list[dict[str, Any]] = []
    out_dir = args.data_dir / "runs" / "profile-memory"
    out_dir.mkdir(parents=True, exist_ok=True)
    for rows in (parse_rows(s) for s in args.sizes.split(",")):
        table = ensure_table(rows, args.seed, args.data_dir, args.python)
        name = format_rows(rows)
        cmd = [
            str(args.assay),
            "profile",
            str(table),
            "-o",
            str(out_dir / f"{name}.assayprofile"),
            "--quiet",
        ]
        m = run_measured(
            cmd,
            timeout=args.timeout,
            stdout=out_dir / f"{name}.out",
            stderr=out_dir / f"{name}.err",
        )
        run = {"rows": rows, "bytes": table.stat().st_size, "command": cmd, **m.as_dict()}
        runs.append(run)
        mb = {k: v / 2**20 for k, v in m.as_dict().items() if k.endswith("_bytes")}
        print(
            f"[{name}] assay profile {m.wall_s:.2f} s, "
            f"peak PSS {mb['peak_pss_tree_bytes']:,.0f} MB, "
            f"RSS {mb['peak_rss_tree_bytes']:,.0f} MB, single {mb['max_rss_single_bytes']:,.0f} MB",
            flush=True,
        )
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    results["profile_memory"] = {
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(
            ["python", "bench/profile_memory.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "runs": runs,
    }
    args.results.write_text(json.dumps(results, indent=2, default=str) + "\n")
    args.markdown.write_text(render_markdown(results))
    print(f"wrote {args.results} and {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
