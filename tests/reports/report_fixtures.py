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


# Drift ------------------------------------------------------------------------------------

HOSTILE_COLUMN = "se<g>ment & co"
"""A column name that must reach the drift section only as escaped text."""

MATH_LABEL = "$x^2$"
"""A category that matplotlib would draw as mathtext if it parsed it."""


def drift_column(
    column: str,
    kind: str,
    effect: float | None,
    plot: Mapping[str, Any] | None,
    *,
    test: str | None = "ks",
    statistic: float | None = None,
    p_value_adjusted: float | None = None,
) -> dict[str, Any]:
    """One column entry of a drift artefact, shaped as the drift checks store it."""
    return {
        "column": column,
        "subject": f"current:{column}",
        "kind": kind,
        "test": test,
        "statistic": effect if statistic is None and test is not None else statistic,
        "p_value": p_value_adjusted,
        "p_value_adjusted": p_value_adjusted,
        "exact": None if test is None else True,
        "effect_size": effect,
        "plot": plot,
    }


def histogram(shift: float = 0.0) -> dict[str, Any]:
    reference = [0.3, 0.3, 0.2, 0.15, 0.05]
    current = [max(0.0, s - shift) if i < 2 else s + shift for i, s in enumerate(reference)]
    return {
        "type": "histogram",
        "edges": [18.0, 30.0, 42.0, 54.0, 66.0, 78.0],
        "reference": reference,
        "current": current,
    }


def bars(
    labels: Sequence[str], reference: Sequence[float], current: Sequence[float]
) -> dict[str, Any]:
    return {"type": "bars", "labels": list(labels), "reference": reference, "current": current}


def drift_finding(
    check_id: str,
    column: str,
    status: Status,
    message: str,
    evidence: str,
    *,
    waiver: Waiver | None = None,
) -> Finding:
    return Finding(
        check_id,
        "drift",
        f"current:{column}",
        status,
        Severity.MAJOR,
        "ml-team",
        message,
        metrics={"n_reference": 5_000, "n_current": 4_800, "effect_size": None},
        threshold=Threshold("p_value_adjusted", fail=0.05, direction="min"),
        evidence=(evidence,),
        waiver=waiver,
    )


def drift_artefact(check_id: str, columns: list[dict[str, Any]]) -> tuple[Artefact, bytes]:
    content = {"reference": "train", "current": "current", "check": check_id, "columns": columns}
    raw = json.dumps(content, sort_keys=True).encode()
    return artefact(f"drift/{check_id}/current.json", "application/json", raw)


def build_drift() -> Stored:
    """A run with two drift artefacts (feature and label) of one train → current comparison.

    Ranked by effect size: age 0.42 (fail, histogram), target 0.3 (drift.label, fail, bars),
    the hostile column 0.25 (waived, bars), city 0.18 (warn, bars), income 0.01 (pass), zip
    (fail, no plot: its type changed).
    """
    features, features_bytes = drift_artefact(
        "drift.feature",
        [
            drift_column("income", "numeric", 0.01, histogram(0.0), p_value_adjusted=0.9),
            drift_column(
                "city",
                "categorical",
                0.18,
                bars(["Paris", HOSTILE, MATH_LABEL], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]),
                test="psi",
                statistic=0.15,
            ),
            drift_column("zip", "categorical", None, None, test=None),
            drift_column(
                "age", "numeric", 0.42, histogram(0.1), statistic=0.31, p_value_adjusted=4e-6
            ),
            drift_column(
                HOSTILE_COLUMN,
                "boolean",
                0.25,
                bars(["true", "false"], [0.7, 0.3], [0.45, 0.55]),
                test="chi_squared",
                statistic=31.5,
                p_value_adjusted=2e-8,
            ),
        ],
    )
    label, label_bytes = drift_artefact(
        "drift.label",
        [
            drift_column(
                "target",
                "categorical",
                0.3,
                bars(["0", "1"], [0.8, 0.2], [0.6, 0.4]),
                test="chi_squared",
                statistic=12.0,
                p_value_adjusted=4e-4,
            )
        ],
    )
    ref = features.ref
    findings = [
        drift_finding(
            "drift.feature", "age", Status.FAIL, "current:age drifted: ks p = 1e-06.", ref
        ),
        drift_finding(
            "drift.feature", "city", Status.WARN, "current:city shifted: psi = 0.15.", ref
        ),
        drift_finding(
            "drift.feature",
            "zip",
            Status.FAIL,
            "current:zip: the column's type changed from integer in train to string in current.",
            ref,
        ),
        drift_finding("drift.feature", "income", Status.PASS, "current:income: ks p = 0.9.", ref),
        drift_finding(
            "drift.feature",
            HOSTILE_COLUMN,
            Status.WAIVED,
            "segment shifted.",
            ref,
            waiver=Waiver("Known campaign", "cro@example.org", "2031-01-31"),
        ),
        drift_finding("drift.label", "target", Status.FAIL, "current:target drifted.", label.ref),
        Finding(
            "drift.dataset",
            "drift",
            "current",
            Status.FAIL,
            Severity.MAJOR,
            "ml-team",
            "current: 2 of 4 features drifted against train (age, zip).",
            metrics={"drift_share": 0.5, "drifted_features": 2, "features": 4},
            threshold=Threshold("drift_share", warn=0.25, fail=0.5),
        ),
    ]
    base = build_stored()
    run = replace(
        base.run,
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=(features, label),
    )
    return Stored(run, {features.sha256: features_bytes, label.sha256: label_bytes}, ())


def build_many_drifted(n: int) -> Stored:
    """A run whose one drift artefact has ``n`` failing numeric columns, effect 0.01 to n/100."""
    columns = [
        drift_column(f"col_{i:02d}", "numeric", (i + 1) / 100, histogram(0.01 * i), statistic=0.2)
        for i in range(n)
    ]
    features, raw = drift_artefact("drift.feature", columns)
    findings = [
        drift_finding("drift.feature", c["column"], Status.FAIL, "drifted", features.ref)
        for c in columns
    ]
    base = build_stored()
    run = replace(
        base.run,
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=(features,),
    )
    return Stored(run, {features.sha256: raw}, ())


# Model validation, fairness and robustness --------------------------------------------------

HOSTILE_GROUP = "sex=<img src=x onerror=alert(1)>"
"""A group name that must reach the fairness section only as escaped text."""

HOSTILE_FEATURE = "f<script>&"
"""A feature name that must reach the robustness section only as escaped text."""


def json_artefact(name: str, content: Any) -> tuple[Artefact, bytes]:
    return artefact(name, "application/json", json.dumps(content, sort_keys=True).encode())


def calibration_bins(points: Sequence[tuple[float, float, float, float, int]]) -> dict[str, Any]:
    return {
        "ece": 0.05,
        "mce": 0.12,
        "bins": [
            {"lower": lo, "upper": hi, "mean_predicted": p, "observed": o, "count": n}
            for lo, hi, p, o, n in points
        ],
    }


def domain_contents() -> dict[str, Any]:
    """The contents of the model, fairness and robustness artefacts of :func:`build_domains`."""
    curve = [
        {
            "level": lv,
            "metric": m,
            "metric_drop": d,
            "flip_rate": f,
            "invalid_output_rate": 0.0,
            "raised": None,
            "undefined": None,
        }
        for lv, m, d, f in (
            (0.05, 0.81, 0.0023, 0.01),
            (0.1, 0.8, 0.0123, 0.02),
            (0.5, 0.7, 0.1123, 0.125),
        )
    ]
    raised = "ModelCallError: the model failed: ValueError: <b>NaN</b>"
    out_of_range = [
        {**curve[0], "level": 1.0},
        {**curve[1], "level": 10.0},
        {
            "level": 1000.0,
            "metric": None,
            "metric_drop": None,
            "flip_rate": None,
            "invalid_output_rate": None,
            "raised": raised,
            "undefined": "the model raised",
        },
    ]
    dropout = [
        {**curve[0], "level": "age", "metric_drop": 0.02},
        {**curve[2], "level": HOSTILE_FEATURE, "metric_drop": 0.1123},
        {**out_of_range[2], "level": "income"},
    ]
    base = {
        "schema": "assay.robustness/1",
        "dataset": "test",
        "task": "classification",
        "rows": 500,
        "metric": "roc_auc",
        "unperturbed_metric": 0.8123,
        "flip_tolerance": None,
    }
    return {
        "model/performance/test.json": {
            "dataset": "test",
            "task": "classification",
            "rows": 500,
            "metrics": {"accuracy": 0.75, "log_loss": None, "roc_auc": 0.8123},
            "undefined": {"log_loss": "the model gives no probabilities"},
            "intervals": {
                "accuracy": {"low": 0.7123, "high": 0.7891, "confidence": 0.95},
                "roc_auc": {"low": 0.7765, "high": 0.8432, "confidence": 0.95},
            },
        },
        "model/calibration/test.json": {
            "dataset": "test",
            "kind": "binary",
            "positive": "yes",
            "rows": 500,
            "n_bins": 10,
            "graded": "uniform",
            "brier": 0.1789,
            "strategies": {
                "quantile": calibration_bins(
                    [
                        (0.0, 0.3, 0.2, 0.25, 166),
                        (0.3, 0.6, 0.45, 0.4, 167),
                        (0.6, 1.0, 0.8, 0.7, 167),
                    ]
                ),
                "uniform": calibration_bins(
                    [
                        (0.0, 0.1, 0.05, 0.1, 40),
                        (0.4, 0.5, 0.45, 0.3, 200),
                        (0.9, 1.0, 0.93, 0.8, 260),
                    ]
                ),
            },
        },
        "fairness/test.json": {
            "dataset": "test",
            "positive": "yes",
            "rows": 500,
            "notes": [],
            "groupings": [
                {
                    "features": ["sex"],
                    "groups": [
                        {
                            "group": "sex=M",
                            "size": 300,
                            "selection_rate": 0.6,
                            "tpr": 0.8,
                            "fpr": 0.2,
                            "precision": 0.7,
                            "error_rate": 0.2,
                            "small": False,
                        },
                        {
                            "group": HOSTILE_GROUP,
                            "size": 180,
                            "selection_rate": 0.4,
                            "tpr": 0.7,
                            "fpr": 0.1,
                            "precision": 0.75,
                            "error_rate": 0.22,
                            "small": False,
                        },
                        {
                            "group": "sex=X",
                            "size": 20,
                            "selection_rate": 0.55,
                            "tpr": None,
                            "fpr": 0.3,
                            "precision": 0.6,
                            "error_rate": 0.3,
                            "small": True,
                        },
                    ],
                },
                {
                    "features": ["region"],
                    "groups": [
                        {
                            "group": "region=north",
                            "size": 250,
                            "selection_rate": 0.5,
                            "tpr": 0.8,
                            "fpr": 0.2,
                            "precision": 0.7,
                            "error_rate": 0.2,
                            "small": False,
                        },
                        {
                            "group": "region=south",
                            "size": 250,
                            "selection_rate": 0.52,
                            "tpr": 0.81,
                            "fpr": 0.21,
                            "precision": 0.7,
                            "error_rate": 0.2,
                            "small": False,
                        },
                    ],
                },
            ],
        },
        "fairness/test/disparate_impact/sex.json": {
            "dataset": "test",
            "features": ["sex"],
            "reference": "privileged",
            "privileged": "sex=M",
            "by_group": [
                {"group": HOSTILE_GROUP, "size": 180, "small": False, "passes_four_fifths": False},
                {"group": "sex=X", "size": 20, "small": True, "passes_four_fifths": True},
            ],
        },
        "robustness/noise/test.json": {
            **base,
            "check": "robustness.noise",
            "curve": curve,
            "reference_level": 0.1,
        },
        "robustness/out_of_range/test.json": {
            **base,
            "check": "robustness.out_of_range",
            "curve": out_of_range,
            "reference_level": 10.0,
        },
        "robustness/feature_dropout/test.json": {
            **base,
            "check": "robustness.feature_dropout",
            "curve": dropout,
            "reference_level": None,
            "fill": "null",
        },
        "robustness/adversarial/test.json": {
            "schema": "assay.robustness/1",
            "check": "robustness.adversarial",
            "dataset": "test",
            "rows": 500,
            "budget": 0.2,
            "attacked_rows": [1, 2, 3, 4],
            "curve": [
                {"budget": 0.05, "success_rate": 0.0},
                {"budget": 0.2, "success_rate": 0.25},
                {"budget": 0.4, "success_rate": 0.5},
            ],
        },
    }


def domain_finding(
    check_id: str,
    subject: str,
    status: Status,
    evidence: Sequence[str],
    *,
    metrics: Mapping[str, Any] | None = None,
    threshold: Threshold | None = None,
    message: str | None = None,
) -> Finding:
    return Finding(
        check_id,
        check_id.split(".", 1)[0],
        subject,
        status,
        Severity.MAJOR,
        "ml-team",
        message or f"{check_id} on {subject}.",
        metrics=dict(metrics or {}),
        threshold=threshold,
        evidence=tuple(evidence),
    )


def build_domains(
    contents: Mapping[str, Any] | None = None, *, raw: Mapping[str, bytes] | None = None
) -> Stored:
    """A run with model, fairness and robustness artefacts and the findings citing them.

    ``contents`` replaces artefact contents by name (``None`` drops the artefact); ``raw``
    stores bytes as they are (for unreadable JSON).
    """
    stored = domain_contents()
    stored.update(contents or {})
    stored_artefacts = {
        name: (
            artefact(name, "application/json", raw[name])
            if raw and name in raw
            else json_artefact(name, content)
        )
        for name, content in stored.items()
        if content is not None or (raw and name in raw)
    }
    ref = {name: a.ref for name, (a, _) in stored_artefacts.items()}
    ghost = "sha256:" + "e" * 64

    def cite(name: str) -> list[str]:
        return [ref.get(name, ghost)]

    slices = [
        ("test [age < 25]", Status.FAIL, 0.25, 0.45),
        (f"test [city = {HOSTILE}]", Status.WARN, 0.12, 0.32),
        ("test [income > 1000]", Status.PASS, 0.05, 0.25),
    ]
    findings = [
        domain_finding(
            "model.performance",
            "test",
            Status.PASS,
            cite("model/performance/test.json"),
            metrics={
                "roc_auc": 0.8123,
                "roc_auc_ci_low": 0.7765,
                "roc_auc_ci_high": 0.8432,
                "accuracy": 0.75,
                "accuracy_ci_low": 0.7123,
                "accuracy_ci_high": 0.7891,
                "n_rows": 500,
            },
            threshold=Threshold("roc_auc", warn=0.75, fail=0.65, direction="min"),
        ),
        domain_finding(
            "model.calibration",
            "test",
            Status.WARN,
            cite("model/calibration/test.json"),
            metrics={"ece_uniform": 0.12, "ece_quantile": 0.05},
            threshold=Threshold("ece_uniform", warn=0.1, fail=0.2),
        ),
        *[
            domain_finding(
                "model.slices",
                subject,
                status,
                cite("model/slices/test.json"),
                metrics={
                    "n_rows": 60,
                    "error_rate": value,
                    "error_rate_ci_low": value - 0.1,
                    "error_rate_ci_high": value + 0.1,
                    "rest_error_rate": 0.2,
                    "error_rate_gap": gap,
                    "p_adjusted": 0.001,
                },
                threshold=Threshold("error_rate_gap", warn=0.1, fail=0.2),
            )
            for subject, status, gap, value in slices
        ],
        domain_finding(
            "fairness.disparate_impact",
            "test:sex",
            Status.FAIL,
            cite("fairness/test.json") + cite("fairness/test/disparate_impact/sex.json"),
            metrics={"min_disparate_impact": 0.6667},
            threshold=Threshold("min_disparate_impact", warn=0.9, fail=0.8, direction="min"),
            message=f"selection rate 0.40 ({HOSTILE_GROUP}) vs 0.60 (sex=M, privileged).",
        ),
        domain_finding(
            "fairness.demographic_parity", "test:region", Status.PASS, cite("fairness/test.json")
        ),
        domain_finding(
            "robustness.noise",
            "test",
            Status.PASS,
            cite("robustness/noise/test.json"),
            message="flip rate 2% at σ = 0.1 × std; ROC AUC 0.812 → 0.8 (500 rows of test).",
        ),
        domain_finding(
            "robustness.out_of_range",
            "test",
            Status.FAIL,
            cite("robustness/out_of_range/test.json"),
        ),
        domain_finding(
            "robustness.adversarial", "test", Status.WARN, cite("robustness/adversarial/test.json")
        ),
        *[
            domain_finding(
                "robustness.feature_dropout",
                f"test:{feature}",
                status,
                cite("robustness/feature_dropout/test.json"),
            )
            for feature, status in (
                ("age", Status.PASS),
                (HOSTILE_FEATURE, Status.WARN),
                ("income", Status.FAIL),
            )
        ],
    ]
    run = replace(
        build_stored().run,
        findings=findings,
        verdict=compute_verdict(findings, Severity.MAJOR),
        artefacts=tuple(a for a, _ in stored_artefacts.values()),
    )
    return Stored(run, {a.sha256: raw_bytes for a, raw_bytes in stored_artefacts.values()}, ())
