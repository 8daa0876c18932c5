"""What every peer runner shares: its arguments and the one JSON line it prints at the end.

A runner is started by bench/drift.py as its own process (``python bench/peers/NAME.py
--reference R --current C --out DIR``), reads both Parquet files, does its tool's work, writes
its report into DIR and prints, as its last line on stdout, a JSON object: the tool, the
columns it flagged as drifted, the report's path, and how long its phases took.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def arguments(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--reference", type=Path, required=True, help="reference Parquet file")
    ap.add_argument("--current", type=Path, required=True, help="current Parquet file")
    ap.add_argument("--out", type=Path, required=True, help="folder for the report")
    ap.add_argument("--target", default="target")
    ap.add_argument("--prediction", default="prediction")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


class Phases:
    """Wall time of named phases, from the moment the runner's own code starts."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 3)
        self._last = now


def emit(
    tool: str, *, flagged: list[str], report: Path | None, phases: Phases, **extra: Any
) -> None:
    """Print the runner's result line (the last line of its stdout)."""
    line = {
        "tool": tool,
        "flagged": sorted(flagged),
        "report": str(report) if report else None,
        "phases_s": phases.times,
        **extra,
    }
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()
