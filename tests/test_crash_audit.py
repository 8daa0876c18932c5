"""A real `assay audit` process killed with SIGKILL at random moments leaves a valid repository.

The evidence tests kill a bare writer loop; this kills the whole audit — spec loading, the
checks, artefact and run writes, the index update — at seeded random delays, then asserts
`verify` passes and every run in the ledger is whole.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assay.evidence import Repository


@pytest.mark.slow
def test_sigkilled_audits_leave_no_half_present_run(project: Path) -> None:
    repo = project / ".assay"
    command = [
        sys.executable,
        "-m",
        "assay",
        "audit",
        str(project / "assay.yaml"),
        "--repo",
        str(repo),
        "-q",
    ]
    # Calibrate: how long one whole audit takes here, so kills land across all of it.
    started = time.monotonic()
    subprocess.run(command, capture_output=True, check=False, timeout=120)
    whole = time.monotonic() - started
    rng = random.Random(7)
    killed = 0
    for _ in range(8):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.0) * whole)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
    assert killed, "no audit was killed mid-way; the delays are too long"
    report = Repository.open(repo, create=False).verify()
    assert report.ok, report.problems
    repository = Repository.open(repo, create=False)
    entries = sorted((repo / "ledger").glob("*.json"))
    assert [r.seq for r in repository.runs()] == [int(p.stem) for p in entries]
    for path in entries:
        run = repository.load_run(json.loads(path.read_bytes())["object"])
        assert all(repository.has(a.sha256) for a in run.artefacts)
    # And the repository still takes new runs.
    assert subprocess.run(command, capture_output=True, check=False, timeout=120).returncode in (
        0,
        1,
    )
    assert Repository.open(repo, create=False).verify().ok
