"""governance.retention, .consent, .inferred_lineage and .compliance_matrix."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Severity, Status
from assay.checks.governance_compliance import consent_of, utc_timestamps
from assay.compliance import MATRIX_ARTEFACT
from assay.policy import params_for
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

load_builtin()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_spec(root: Path, table: pa.Table, **extra: Any) -> Spec:
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "train.parquet")
    dataset = {"path": "train.parquet", **extra.pop("dataset", {})}
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "compliance"},
            "owners": {"default": "dpo@example.org"},
            "datasets": {"train": dataset},
            "compliance": {"retention_days": 365},
            **extra,
        },
        base_dir=root,
    )


def run(
    check_id: str, spec: Spec, findings: list[Finding] | None = None
) -> tuple[list[Finding], Context]:
    datasets = {name: open_dataset(spec, name) for name in spec.datasets}
    ctx = Context(spec, datasets)
    ctx.now = NOW  # the audit's clock, pinned
    ctx.findings = list(findings or [])
    info = REGISTRY[check_id]
    return info.function(ctx, params_for(info, spec)), ctx


def stored(ctx: Context, name: str) -> Any:
    [(_, raw)] = [v for v in ctx.artefacts.values() if v[0].name == name]
    return json.loads(raw)


# governance.retention ----------------------------------------------------------------------


def test_rows_older_than_the_retention_period_fail(tmp_path: Path) -> None:
    stamps = ["2020-03-01", "2024-12-31T23:00:00Z", "2025-06-01 10:00:00+02:00", None, "soon"]
    spec = make_spec(
        tmp_path, pa.table({"ts": stamps, "x": [1, 2, 3, 4, 5]}), dataset={"timestamp": "ts"}
    )
    [f], ctx = run("governance.retention", spec)
    assert f.subject == "train" and f.status is Status.FAIL
    assert f.metrics["expired_count"] == 2  # the 2020 row and 2024-12-31 (cutoff 2025-01-01)
    assert f.metrics["expired_ratio"] == 0.4
    assert f.metrics["undated_count"] == 2
    assert f.metrics["oldest_age_days"] == (NOW - datetime(2020, 3, 1, tzinfo=UTC)).days
    assert f.threshold is not None and f.threshold.metric == "expired_count"
    assert "older than the 365-day retention period (before 2025-01-01; oldest 2020-03-01)" in (
        f.message
    )
    evidence = stored(ctx, "compliance/retention/train.json")
    assert evidence["as_of"] == "2026-01-01T00:00:00+00:00"
    assert evidence["oldest"] == "2020-03-01T00:00:00+00:00"


def test_recent_rows_pass_and_undated_ones_warn(tmp_path: Path) -> None:
    ts = pa.array([datetime(2025, 6, 1), datetime(2025, 7, 1)], pa.timestamp("ms"))
    spec = make_spec(tmp_path / "a", pa.table({"ts": ts}), dataset={"timestamp": "ts"})
    [f], _ = run("governance.retention", spec)
    assert f.status is Status.PASS and f.metrics["expired_count"] == 0

    dates = pa.array([date(2025, 6, 1), None], pa.date32())
    spec = make_spec(tmp_path / "b", pa.table({"ts": dates}), dataset={"timestamp": "ts"})
    [f], _ = run("governance.retention", spec)
    assert f.status is Status.WARN and f.metrics["undated_count"] == 1


def test_timestamps_with_zones_are_compared_in_utc() -> None:
    zoned = pa.array([datetime(2025, 1, 1, tzinfo=UTC)], pa.timestamp("s", tz="Europe/Paris"))
    assert utc_timestamps(zoned).to_pylist() == [datetime(2025, 1, 1, tzinfo=UTC)]
    assert utc_timestamps(pa.array([1, 2])).null_count == 2


def test_retention_without_a_period_or_a_timestamp_is_skipped(tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "a", pa.table({"x": [1]}))
    [f], _ = run("governance.retention", spec)
    assert (f.subject, f.status) == ("train", Status.SKIPPED)
    assert "datasets.train.timestamp" in f.remediation

    spec = make_spec(tmp_path / "b", pa.table({"x": [1]}), compliance={"frameworks": ["iso_42001"]})
    [f], _ = run("governance.retention", spec)
    assert (f.subject, f.status) == ("*", Status.SKIPPED)


# governance.consent ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("Yes", True),
        (" y ", True),
        (1, True),
        ("1", True),
        ("true", True),
        (False, False),
        ("NO", False),
        (0, False),
        ("f", False),
        (None, None),
        ("maybe", None),
        (2, None),
        ("", None),
    ],
)
def test_consent_values(value: Any, expected: bool | None) -> None:
    assert consent_of(value) is expected


def test_rows_without_consent_fail_and_are_named(tmp_path: Path) -> None:
    values = ["yes", "no", None, "maybe", "yes", "1"]
    spec = make_spec(tmp_path, pa.table({"ok": values}), dataset={"consent": "ok"})
    [f], ctx = run("governance.consent", spec)
    assert (f.subject, f.status) == ("train:ok", Status.FAIL)
    assert {k: f.metrics[k] for k in ("refused_count", "missing_count", "unrecognised_count")} == {
        "refused_count": 1,
        "missing_count": 1,
        "unrecognised_count": 1,
    }
    assert f.metrics["without_consent_count"] == 3 and f.metrics["without_consent_ratio"] == 0.5
    assert "(rows 1, 2, 3)" in f.message
    assert stored(ctx, "compliance/consent/train.json")["example_rows"] == [1, 2, 3]


def test_consent_everywhere_passes(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, pa.table({"ok": [True, True]}), dataset={"consent": "ok"})
    [f], _ = run("governance.consent", spec)
    assert f.status is Status.PASS and f.metrics["without_consent_count"] == 0


# governance.inferred_lineage ---------------------------------------------------------------


def test_inferred_columns_need_a_lineage_step(tmp_path: Path) -> None:
    lineage = [
        {
            "name": "enrich",
            "inputs": [{"path": "raw.csv", "sha256": "0" * 64}],
            "transform": "predict income",
            "outputs": [{"path": "train.parquet", "sha256": "1" * 64}],
            "columns": ["income_guess"],
        }
    ]
    spec = make_spec(
        tmp_path,
        pa.table({"income_guess": [1.0], "gender_guess": ["f"]}),
        dataset={"inferred": ["income_guess", "gender_guess"]},
        lineage=lineage,
    )
    findings, _ = run("governance.inferred_lineage", spec)
    by = {f.subject: f for f in findings}
    assert by["train:income_guess"].status is Status.PASS
    assert by["train:income_guess"].metrics == {"lineage_steps": 1}
    assert "'enrich'" in by["train:income_guess"].message
    assert by["train:gender_guess"].status is Status.FAIL
    assert "named in no lineage step" in by["train:gender_guess"].message


# governance.compliance_matrix --------------------------------------------------------------


def other(check_id: str, subject: str, status: Status) -> Finding:
    return Finding(
        check_id=check_id,
        domain=check_id.split(".")[0],
        subject=subject,
        status=status,
        severity=Severity.MAJOR,
        owner="team",
        message="m",
        evidence=("sha256:" + "a" * 64,),
    )


def test_the_matrix_is_stored_and_summarised_per_framework(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        pa.table({"x": [1]}),
        compliance={"frameworks": ["nist_ai_rmf", "iso_42001"]},
    )
    findings = [
        other("security.pii", "train:notes", Status.FAIL),
        other("model.performance", "test", Status.PASS),
        other("drift.feature", "current:age", Status.WARN),
    ]
    result, ctx = run("governance.compliance_matrix", spec, findings)
    assert [f.subject for f in result] == ["nist_ai_rmf", "iso_42001"]
    nist = result[0]
    assert nist.status is Status.FAIL and nist.severity is Severity.INFO  # never gates more
    assert nist.metrics["failing_controls"] == 1  # MEASURE 2.10 (privacy), by security.pii
    assert "Failing: MEASURE 2.10" in nist.message
    matrix = stored(ctx, MATRIX_ARTEFACT)
    assert [fw["id"] for fw in matrix["frameworks"]] == ["nist_ai_rmf", "iso_42001"]
    fw = matrix["frameworks"][0]
    assert nist.metrics["coverage_ratio"] == fw["coverage_ratio"]
    assert nist.metrics["evidenced_controls"] == fw["evidenced"]
    assert nist.evidence == (
        f"sha256:{next(k for k, v in ctx.artefacts.items() if v[0].name == MATRIX_ARTEFACT)}",
    )
    iso = result[1]
    assert iso.status is Status.WARN and iso.metrics["warning_controls"] == 1  # A.6.2.6
    assert "indicative" in iso.message


def test_waived_findings_count_as_waived(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        pa.table({"x": [1]}),
        compliance={"frameworks": ["nist_ai_rmf"]},
        waivers=[
            {
                "check": "security.pii",
                "subject": "train:*",
                "reason": "synthetic names",
                "approver": "dpo@example.org",
                "expires": "2026-06-30",
            }
        ],
    )
    [f], _ = run(
        "governance.compliance_matrix", spec, [other("security.pii", "train:n", Status.FAIL)]
    )
    assert f.status is Status.PASS
    assert (f.metrics["failing_controls"], f.metrics["waived_controls"]) == (0, 1)


def test_a_coverage_level_in_the_spec_grades_the_matrix(tmp_path: Path) -> None:
    spec = make_spec(
        tmp_path,
        pa.table({"x": [1]}),
        compliance={"frameworks": ["nist_ai_rmf"]},
        checks={"governance.compliance_matrix": {"thresholds": {"coverage_ratio": {"warn": 0.99}}}},
    )
    (nist,) = run(
        "governance.compliance_matrix", spec, [other("model.performance", "test", Status.PASS)]
    )[0]
    assert nist.metrics["coverage_ratio"] < 0.99
    assert nist.status is Status.WARN and nist.threshold is not None
    assert nist.threshold.metric == "coverage_ratio"
