"""Stored runs for the report tests: several domains, every status, every kind of artefact.

Imported by name from the test modules (a unique module name, unlike ``conftest``); the
fixtures themselves are registered in this folder's conftest.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from assay.checks._registry import Finding, Severity, Status, Threshold, Waiver
from assay.evidence.signing import sign_approval
from assay.reports import Format, render
from assay.run import Artefact, Run, compute_verdict

SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
"""A fixed key, so the fixture's signed approval is the same in every test run."""

HOSTILE = "<script>alert('x')</script>"
"""A subject that must never reach a page as markup."""


@dataclass
class Stored:
    """A run as the evidence repository would hand it to a report."""

    run: Run
    blobs: dict[str, bytes] = field(default_factory=dict)
    approvals: Sequence[Mapping[str, Any]] = ()

    @property
    def run_id(self) -> str:
        return self.run.id

    @property
    def load(self) -> Callable[[str], bytes]:
        return self.blobs.__getitem__

    def render(self, fmt: Format) -> str:
        """The report in ``fmt``, as ``assay report`` would render it from the repository."""
        return render(self.run, fmt, run_id=self.run_id, load=self.load, approvals=self.approvals)


def artefact(name: str, media_type: str, content: bytes) -> tuple[Artefact, bytes]:
    digest = hashlib.sha256(content).hexdigest()
    return Artefact(name, digest, media_type, len(content)), content


MANIFEST = {
    "dataset": "train",
    "role": "train",
    "path": "data/train.parquet",
    "sha256": "ab" * 32,
    "bytes": 1_234_567,
    "rows": 48_842,
    "columns": 15,
    "schema_fingerprint": "cd" * 32,
    "column_names": ["age", "income", "zip|code", "sex"],
}


def build_stored() -> Stored:
    manifest, manifest_bytes = artefact(
        "manifest/train", "application/json", json.dumps(MANIFEST).encode()
    )
    profile, profile_bytes = artefact(
        "drift/age.json", "application/json", json.dumps({"psi": 0.15, "bins": [1, 2, 3]}).encode()
    )
    big, big_bytes = artefact(
        "drift/big.json", "application/json", json.dumps({"values": list(range(6000))}).encode()
    )
    plot, plot_bytes = artefact("plots/drift.svg", "image/svg+xml", b"<svg></svg>")
    missing_ref = "sha256:" + "0" * 64
    findings = [
        Finding(
            "integrity.missing_values",
            "integrity",
            "income",
            Status.FAIL,
            Severity.BLOCKER,
            "data-eng",
            "31% of income values are missing.",
            remediation="Fix the export step that drops income.",
            metrics={"missing_ratio": 0.31, "n_rows": 48_842},
            threshold=Threshold("missing_ratio", fail=0.2, warn=0.05),
            evidence=(manifest.ref,),
        ),
        Finding(
            "integrity.duplicates",
            "integrity",
            "train",
            Status.PASS,
            Severity.MINOR,
            "data-eng",
            "No duplicate rows.",
            metrics={"duplicate_ratio": 0.0},
            threshold=Threshold("duplicate_ratio", fail=0.01),
        ),
        Finding(
            "drift.feature",
            "drift",
            "age",
            Status.WARN,
            Severity.MAJOR,
            "ml-team",
            "age drifted: PSI 0.15.",
            remediation="Retrain on recent data.",
            metrics={"p_value": 0.01, "psi": 0.15},
            threshold=Threshold("psi", fail=0.25, warn=0.1),
            evidence=(profile.ref, big.ref, missing_ref, plot.ref),
        ),
        Finding(
            "drift.feature",
            "drift",
            "zip|code",
            Status.PASS,
            Severity.MAJOR,
            "ml-team",
            "zip|code is stable.",
            metrics={"psi": 0.01},
            threshold=Threshold("psi", fail=0.25, warn=0.1),
        ),
        Finding(
            "model.calibration",
            "model",
            "test",
            Status.ERROR,
            Severity.MAJOR,
            "ml-team",
            "predict_proba raised ValueError: bad input shape.",
        ),
        Finding(
            "fairness.demographic_parity",
            "fairness",
            "sex",
            Status.WAIVED,
            Severity.MAJOR,
            "fairness-board",
            "Selection-rate ratio 0.7 is below 0.8.",
            metrics={"parity_ratio": 0.7},
            threshold=Threshold("parity_ratio", fail=0.8, direction="min"),
            waiver=Waiver("Pilot limited to one region", "cro@example.org", "2031-01-31"),
        ),
        Finding(
            "fairness.equalized_odds",
            "fairness",
            "race",
            Status.SKIPPED,
            Severity.MINOR,
            "fairness-board",
            "tpr_gap is undefined: one group has no positive labels.",
            metrics={"tpr_gap": None},
            undefined={"tpr_gap": "group 'other' has no positive labels"},
            threshold=Threshold("tpr_gap", fail=0.1),
        ),
        Finding(
            "security.pii",
            "security",
            HOSTILE,
            Status.FAIL,
            Severity.MINOR,
            "sec & privacy",
            "Emails found in <b>notes</b> & comments.",
            metrics={"pii_rate": 0.02},
            threshold=Threshold("pii_rate", fail=0.0),
        ),
        Finding(
            "performance.latency",
            "performance",
            "endpoint",
            Status.PASS,
            Severity.INFO,
            "platform",
            "p99 latency 120 ms.",
            metrics={"p99_ms": 120.0, "throughput_rps": 850},
            threshold=Threshold("p99_ms", fail=500.0, warn=250.0),
        ),
        Finding(
            "governance.model_card",
            "governance",
            "model card",
            Status.WARN,
            Severity.MINOR,
            "ml-team",
            "The model card lacks an intended-use section.",
        ),
    ]
    run = Run(
        created="2025-03-04T10:11:12Z",
        tool_version="0.1.0",
        system={"name": "credit-risk <scorer>", "version": "2.3.1", "owner": "risk-team"},
        seed=7,
        spec_sha256="ef" * 32,
        inputs=[{k: v for k, v in MANIFEST.items() if k != "column_names"}],
        environment={"python": "3.11.7", "platform": "linux", "packages": {"numpy": "2.1"}},
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=(manifest, profile, big, plot),
        previous="12" * 32,
    )
    blobs = {
        manifest.sha256: manifest_bytes,
        profile.sha256: profile_bytes,
        big.sha256: big_bytes,
        plot.sha256: plot_bytes,
    }
    approval = sign_approval(
        SIGNING_KEY, run=run.id, verdict="fail", by="Dana Reviewer", at="2025-03-05T09:00:00Z"
    )
    return Stored(run, blobs, [approval.to_json()])


def build_passing() -> Stored:
    """A run whose gate passed: only passing and skipped findings."""
    base = build_stored()
    findings = [f for f in base.run.findings if f.status in (Status.PASS, Status.SKIPPED)]
    run = replace(base.run, findings=findings, verdict=compute_verdict(findings, Severity.MAJOR))
    return Stored(run, base.blobs, ())


def build_empty() -> Stored:
    """A run with no findings, inputs, artefacts or environment."""
    run = replace(
        build_stored().run,
        findings=[],
        inputs=[],
        environment={},
        artefacts=(),
        verdict=compute_verdict([], Severity.MAJOR),
    )
    return Stored(run)
