"""Helpers for the evidence repository tests: small runs built from the core types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from assay.checks._registry import Finding, Severity, Status, Threshold
from assay.evidence import Repository, generate_keypair
from assay.run import Artefact, Run, compute_verdict, sha256_hex

MakeRun = Callable[..., tuple[Run, dict[str, bytes]]]


def finding(
    subject: str = "age",
    status: Status = Status.PASS,
    *,
    check_id: str = "integrity.missing_values",
    metrics: dict[str, float | int | None] | None = None,
    threshold: Threshold | None = None,
) -> Finding:
    return Finding(
        check_id=check_id,
        domain=check_id.split(".")[0],
        subject=subject,
        status=status,
        severity=Severity.MAJOR,
        owner="data-team",
        message=f"{subject} is {status.value}.",
        metrics={"missing_ratio": 0.01} if metrics is None else metrics,
        threshold=threshold,
    )


def build_run(
    n: int = 1,
    *,
    findings: Sequence[Finding] | None = None,
    artefacts: int = 1,
) -> tuple[Run, dict[str, bytes]]:
    """Run number ``n`` with ``artefacts`` distinct artefacts, and the blobs to store it."""
    found = list(findings) if findings is not None else [finding(status=Status.PASS)]
    blobs: dict[str, bytes] = {}
    listed = []
    for i in range(artefacts):
        data = f'{{"run": {n}, "artefact": {i}}}'.encode()
        sha = sha256_hex(data)
        blobs[sha] = data
        listed.append(Artefact(f"artefact-{i}.json", sha, "application/json", len(data)))
    run = Run(
        created=f"2025-01-01T00:00:{n % 60:02d}Z",
        tool_version="0.1.0",
        system={"name": "credit-model", "version": f"1.{n}"},
        seed=n,
        spec_sha256="ab" * 32,
        inputs=[{"name": "train", "sha256": "cd" * 32}],
        environment={"python": "3.11"},
        findings=found,
        verdict=compute_verdict(found, Severity.MAJOR),
        artefacts=listed,
    )
    return run, blobs


@pytest.fixture(scope="session")
def make_run() -> MakeRun:
    """``make_run(n, findings=..., artefacts=...) -> (run, blobs)``."""
    return build_run


@pytest.fixture(scope="session")
def make_finding() -> Callable[..., Finding]:
    """``make_finding(subject, status, check_id=..., metrics=..., threshold=...)``."""
    return finding


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository.open(tmp_path / ".assay")


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "keys" / "ada.pem", tmp_path / "keys" / "ada.pub.pem"
    generate_keypair(private, public)
    return private, public
