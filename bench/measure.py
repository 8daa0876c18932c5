"""Run one command as its own process and measure it: wall time and peak memory of its tree.

- **Wall time**: from just before the process is started to the moment it has exited and been
  reaped (``os.wait4``), so interpreter start-up, imports and writing the report all count.
- **Peak RSS of the process tree**: a sampler thread sums the resident set size of the process
  and all its descendants (``psutil``) every ``interval`` seconds (default 50 ms) and keeps the
  largest sum. Pages shared between processes of the tree (a fork server's workers share
  their imported modules) count once per process in that sum, so the sampler also sums the
  **proportional set size** (PSS: each shared page split between its sharers) — the tree's
  physical memory, and the fair figure for a tool that runs worker processes. Either sampled
  peak can miss a spike shorter than the interval. The sampler costs the measured process
  time: reading ``/proc/PID/smaps_rollup`` walks the page tables of everything the process
  maps and holds its memory-map lock meanwhile, so a process that maps gigabytes of Parquet
  and allocates while it runs slows down (a 5M-row Assay audit: 3.0 s → 3.4 s at 50 ms). A
  run with ``interval=0`` has no sampler (its sampled peaks are 0): the benchmark times
  such runs and takes memory from a separate sampled run (``drift.fastest_of``).
- **Max single-process RSS**: ``ru_maxrss`` of the rusage that ``os.wait4`` returns for the
  child — the kernel's own high-water mark of the largest process in the tree (the child or any
  descendant it waited for); the same accounting as ``getrusage(RUSAGE_CHILDREN)``, but for
  this child alone rather than for every child the harness ever started. It has no sampling
  gap, so it cross-checks the sampled figure. One catch: Linux carries the launcher's
  high-water mark across ``exec`` into the child's figure (the child starts as a copy of the
  harness), so this figure is never below the harness's own peak. The harness therefore
  imports neither numpy nor pyarrow and generates data in a separate process; it records its
  own peak RSS in results.json (``harness_max_rss_bytes``).

The process starts in a session of its own. Past ``timeout`` seconds its whole process group is
sent SIGKILL and the run is marked as timed out; after a normal exit any process left behind
in its group is killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass
class Measurement:
    exit_code: int | None
    wall_s: float
    timed_out: bool
    peak_rss_tree_bytes: int
    peak_pss_tree_bytes: int
    max_rss_single_bytes: int
    samples: int
    strays_killed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tree_memory(root: psutil.Process) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) over the process and its descendants."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    rss = pss = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            info = p.memory_full_info()  # /proc/PID/smaps_rollup: about 0.5 ms
            rss += info.rss
            pss += info.pss
    return rss, pss


def _kill_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run_measured(
    cmd: list[str],
    *,
    timeout: float,
    stdout: Path,
    stderr: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    interval: float = 0.05,
) -> Measurement:
    """Run ``cmd`` to its end (or to ``timeout``), its output going to two files."""
    peak = peak_pss = 0
    samples = 0
    stop = threading.Event()
    timed_out = threading.Event()
    with stdout.open("wb") as out, stderr.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        root = psutil.Process(proc.pid)

        def sample() -> None:
            nonlocal peak, peak_pss, samples
            while not stop.is_set():
                rss, pss = _tree_memory(root)
                peak, peak_pss = max(peak, rss), max(peak_pss, pss)
                samples += 1
                stop.wait(interval)

        def expire() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        sampler = threading.Thread(target=sample, daemon=True)
        if interval > 0:
            sampler.start()
        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
        finally:
            timer.cancel()
            stop.set()
            if sampler.is_alive():
                sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        strays = False if timed_out.is_set() else _kill_group(proc.pid)
    return Measurement(
        exit_code=proc.returncode,
        wall_s=round(wall, 3),
        timed_out=timed_out.is_set(),
        peak_rss_tree_bytes=peak,
        peak_pss_tree_bytes=peak_pss,
        max_rss_single_bytes=usage.ru_maxrss * 1024,  # Linux reports KiB
        samples=samples,
        strays_killed=strays,
    )
