"""monitoring.baseline and monitoring.readiness on real audits and drill records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assay.api import execute
from assay.checks._registry import Finding, Status
from assay.evidence import Repository
from assay.profiles.baseline import Baseline
from assay.spec import Spec, spec_from_mapping

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _rule(signal: str, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"{signal}-rule",
        "signal": signal,
        "when": when,
        "actions": ["alert"],
        "runbook": f"https://wiki.example.com/{signal}",
        **extra,
    }


ALL_RULES = [
    _rule("input_shift", "share_drifted > 0.2"),
    _rule("score_shift", "psi > 0.2"),
    _rule("accuracy_drop", "accuracy_drop > 0.05"),
    _rule("latency_spike", "p99_ratio > 1.5"),
    _rule("suspicious_output", "suspicious_rate > 0.01"),
    _rule("security_anomaly", "auth_failures >= 20"),
]


def _spec(tmp_path: Path, rules: list[dict[str, Any]], **monitor: Any) -> Spec:
    rng = np.random.default_rng(0)
    n = 2000
    table = pa.table(
        {
            "age": rng.normal(40, 10, n),
            "region": rng.choice(["a", "b", "c"], n),
            "target": rng.integers(0, 2, n),
            "score": rng.random(n),
        }
    )
    pq.write_table(table, tmp_path / "reference.parquet")
    return spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "watched"},
            "owners": {"default": "ml@example.com"},
            "datasets": {
                "reference": {"path": "reference.parquet", "target": "target", "score": "score"}
            },
            "monitor": {"rules": rules, "webhooks": {"alert": "http://127.0.0.1:9/"}, **monitor},
        },
        base_dir=tmp_path,
    )


def _findings(tmp_path: Path, spec: Spec, check_id: str) -> dict[str, Finding]:
    result = execute(spec, repo=tmp_path / ".assay", now=NOW)
    return {f.subject: f for f in result.run.findings if f.check_id == check_id}


def _drill(repo: Path, run: str, scenario: str, *, passed: bool, age_days: float) -> None:
    finished = (NOW - timedelta(days=age_days)).timestamp()
    record = {"format": 1, "scenario": scenario, "passed": passed, "finished": finished}
    Repository.open(repo).attach(
        run,
        "monitor_drill",
        [(f"drill-{scenario}.json", "application/json", json.dumps(record).encode())],
    )


def test_baseline_is_stored_and_reads_back(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ALL_RULES)
    result = execute(spec, repo=tmp_path / ".assay", now=NOW)
    (finding,) = [f for f in result.run.findings if f.check_id == "monitoring.baseline"]
    assert finding.status is Status.PASS
    assert finding.metrics["n_features"] == 1 + 1  # age and region; target and score are not
    (artefact,) = [a for a in result.run.artefacts if a.name == "monitor/baseline.json"]
    assert result.repository is not None
    baseline = Baseline.from_json(result.repository.get(artefact.sha256))
    assert set(baseline.features) == {"age", "region"}


def test_baseline_fails_naming_an_unknown_reference(tmp_path: Path) -> None:
    spec = _spec(tmp_path, ALL_RULES, reference="live")
    (finding,) = _findings(tmp_path, spec, "monitoring.baseline").values()
    assert finding.status is Status.FAIL and "'live'" in finding.message


def test_readiness_needs_rules_runbooks_and_recent_passing_drills(tmp_path: Path) -> None:
    rules = [r for r in ALL_RULES if r["signal"] != "score_shift"]
    rules[0] = {**rules[0], "runbook": None}  # input_shift: no runbook
    spec = _spec(tmp_path, rules)
    first = _findings(tmp_path, spec, "monitoring.readiness")
    assert {s: f.status for s, f in first.items()} == {
        s: Status.FAIL
        for s in (
            "input_shift",
            "score_shift",
            "accuracy_drop",
            "latency_spike",
            "suspicious_output",
            "security_anomaly",
        )
    }
    assert "no runbook link" in first["input_shift"].message
    assert "no rule watches it" in first["score_shift"].message
    assert "no drill on record" in first["latency_spike"].message

    repo = tmp_path / ".assay"
    run = Repository.open(repo).resolve("latest").id
    _drill(repo, run, "accuracy_drop", passed=True, age_days=2)
    _drill(repo, run, "latency_spike", passed=True, age_days=45)  # older than 30 days
    _drill(repo, run, "suspicious_output", passed=False, age_days=1)
    _drill(repo, run, "security_anomaly", passed=False, age_days=9)
    _drill(repo, run, "security_anomaly", passed=True, age_days=3)  # the newest counts
    second = _findings(tmp_path, spec, "monitoring.readiness")
    assert second["accuracy_drop"].status is Status.PASS
    assert second["accuracy_drop"].metrics["drill_age_days"] == 2.0
    assert second["accuracy_drop"].evidence
    assert "45.0 days old" in second["latency_spike"].message
    assert "its last drill failed" in second["suspicious_output"].message
    assert second["security_anomaly"].status is Status.PASS
    assert second["score_shift"].status is Status.FAIL  # still no rule


def test_kpis_add_their_signal(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path,
        [*ALL_RULES, _rule("kpi_out_of_band", "deviation > 1")],
        kpis={"approval_rate": {"min": 0.2, "max": 0.6}},
    )
    found = _findings(tmp_path, spec, "monitoring.readiness")
    assert found["kpi_out_of_band"].status is Status.PASS  # no drill scenario for KPIs
    assert found["score_shift"].status is Status.PASS
