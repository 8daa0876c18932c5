"""Crash safety and concurrency: SIGKILL at random moments, two writers at once."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from assay.evidence import Approval, Repository

# A writer: stores runs (and approves every third) until killed or ``limit`` runs are stored.
WRITER = """
import sys
from assay.checks._registry import Finding, Severity, Status
from assay.evidence import Repository
from assay.run import Artefact, Run, compute_verdict, sha256_hex

root, tag, key, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
repo = Repository.open(root)
print("ready", flush=True)
n = 0
while limit == 0 or n < limit:
    n += 1
    data = f"{tag}-{n}".encode() * 100
    findings = [
        Finding("integrity.missing_values", "integrity", "age", Status.PASS, Severity.MAJOR,
                "data-team", "ok", metrics={"missing_ratio": n / 1000})
    ]
    run = Run(
        created="2025-01-01T00:00:00Z", tool_version="0.1.0",
        system={"name": "crash", "version": tag}, seed=n, spec_sha256="0" * 64, inputs=[],
        environment={}, findings=findings, verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=[Artefact("data.txt", sha256_hex(data), "text/plain", len(data))],
    )
    stored = repo.store_run(run, {sha256_hex(data): data})
    print("stored", flush=True)
    if n % 3 == 0:
        repo.approve(stored.id, by="crash-test", private_key_path=key)
"""


def _writer(root: Path, tag: str, key: Path, limit: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), tag, str(key), str(limit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_every_entry_loads(root: Path) -> tuple[int, int]:
    """Every ledger entry's record loads; returns the number of runs and approvals."""
    repo = Repository.open(root, create=False)
    kinds = {"run": 0, "approval": 0}
    for path in sorted((root / "ledger").glob("*.json")):
        entry = json.loads(path.read_bytes())
        kinds[entry["kind"]] += 1
        if entry["kind"] == "run":
            run = repo.load_run(entry["object"])
            assert all(repo.has(a.sha256) for a in run.artefacts)
        else:
            approval = Approval.from_bytes(repo.get(entry["object"]))
            assert approval.signature_valid()
            assert repo.load_run(approval.run)
    assert [r.seq for r in repo.runs()] == [
        int(p.stem)
        for p in sorted((root / "ledger").glob("*.json"))
        if json.loads(p.read_bytes())["kind"] == "run"
    ]
    return kinds["run"], kinds["approval"]


def test_sigkill_at_random_moments_leaves_a_valid_repository(tmp_path: Path, keypair) -> None:
    root = tmp_path / ".assay"
    Repository.open(root)
    rng = random.Random(20250203)
    for kill in range(15):
        with _writer(root, f"k{kill}", keypair[0], 0) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready", proc.stderr
            # At least one run per writer, however loaded the machine; then kill mid-way
            # through whatever it writes next.
            assert proc.stdout.readline().strip() == "stored", proc.stderr
            time.sleep(rng.uniform(0.0, 0.06))
            proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, stderr
        report = Repository.open(root, create=False).verify()
        assert report.ok, report.problems
        _check_every_entry_loads(root)

    runs, approvals = _check_every_entry_loads(root)
    assert runs >= 15 and approvals >= 1  # the writers made progress between kills

    # leftovers of killed writes never break verification
    (root / "ledger" / ".tmp-killed").write_bytes(b'{"seq":')
    (root / "objects" / ".tmp-killed").write_bytes(b"half")
    report = Repository.open(root).verify()
    assert report.ok, report.problems
    assert Repository.open(root).store_run  # still usable for writing


def test_two_concurrent_writers_chain_their_runs(tmp_path: Path, keypair) -> None:
    root = tmp_path / ".assay"
    Repository.open(root)
    writers = [_writer(root, tag, keypair[0], 6) for tag in ("a", "b")]
    for proc in writers:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr

    repo = Repository.open(root)
    assert repo.verify().ok  # includes: every run's `previous` is the run stored before it
    runs = repo.runs()
    assert len(runs) == 12
    assert sorted(r.version for r in runs) == ["a"] * 6 + ["b"] * 6
    assert _check_every_entry_loads(root) == (12, 4)
