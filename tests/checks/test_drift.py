"""The drift checks on real tables: tests chosen by kind and size, corrections, edge cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats

from assay.checks import load_builtin
from assay.checks._context import Context
from assay.checks._registry import REGISTRY, Finding, Status
from assay.policy import params_for
from assay.profiles.engine import ScanOptions, scan
from assay.runner import open_profiles
from assay.sources import open_dataset
from assay.spec import spec_from_mapping

load_builtin()


def tables(
    n_ref: int, n_cur: int, *, shift: float = 0.0, seed: int = 0
) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)

    def one(n: int, delta: float) -> pa.Table:
        return pa.table(
            {
                "x": rng.normal(delta, 1.0, n),
                "z": rng.normal(0.0, 1.0, n),
                "c": rng.choice(
                    ["a", "b", "c"], n, p=[0.5, 0.3, 0.2] if not delta else [0.2, 0.3, 0.5]
                ),
                "y": rng.integers(0, 2, n),
            }
        )

    return one(n_ref, 0.0), one(n_cur, shift)


def run(check_id: str, ref: Any, cur: Any, **extra: Any) -> list[Finding]:
    datasets: dict[str, Any] = {
        "reference": {"data": ref, "target": "y"} if not isinstance(ref, dict) else ref,
        "current": {"data": cur, "target": "y"},
    }
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "drift"}, "datasets": datasets, **extra}
    )
    opened = {n: open_dataset(spec, n) for n, d in spec.datasets.items() if not d.profile_only}
    info = REGISTRY[check_id]
    ctx = Context(
        spec,
        opened,
        options=ScanOptions(seed=spec.seed, sample_size=info.sample_rows),
        stored=open_profiles(spec),
    )
    if info.after_checks:
        for other in ("drift.feature",):
            ctx.findings.extend(REGISTRY[other].function(ctx, params_for(REGISTRY[other], spec)))
    return info.function(ctx, params_for(info, spec))


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def test_small_exact_data_uses_ks_and_chi_squared_with_bh_correction() -> None:
    ref, cur = tables(400, 300, seed=1)
    found = by_subject(run("drift.feature", ref, cur))
    x = found["current:x"]
    assert x.threshold is not None and x.threshold.metric == "p_value_adjusted"
    expected = stats.ks_2samp(ref["x"].to_numpy(), cur["x"].to_numpy())
    assert x.metrics["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
    assert x.metrics["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    raw = [found[s].metrics["p_value"] for s in ("current:x", "current:z", "current:c")]
    adjusted = stats.false_discovery_control(raw, method="bh")
    for subject, value in zip(("current:x", "current:z", "current:c"), adjusted, strict=True):
        assert found[subject].metrics["p_value_adjusted"] == pytest.approx(value, rel=1e-9)
    assert found["current:c"].message.startswith("current:c: chi_squared")
    assert {f.status for f in found.values()} == {Status.PASS}
    assert all(
        f.metrics["n_reference"] == 400 and f.metrics["n_current"] == 300 for f in found.values()
    )


def test_a_shift_at_small_n_fails_the_p_value_test() -> None:
    ref, cur = tables(400, 300, shift=0.6, seed=2)
    found = by_subject(run("drift.feature", ref, cur))
    assert found["current:x"].status is Status.FAIL
    assert found["current:c"].status is Status.FAIL
    assert found["current:z"].status is Status.PASS
    assert "drifted" in found["current:x"].message


def test_large_data_judges_effect_sizes_not_p_values() -> None:
    # 200k rows: a 0.02 sigma shift is "significant" for KS, but no drift by effect size.
    ref, cur = tables(200_000, 200_000, seed=3)
    cur = cur.set_column(0, "x", pa.array(cur["x"].to_numpy() + 0.02))
    found = by_subject(run("drift.feature", ref, cur))
    x = found["current:x"]
    assert x.threshold is not None and x.threshold.metric == "wasserstein_normed"
    assert x.status is Status.PASS
    assert 0.0 < x.metrics["wasserstein_normed"] < 0.05
    assert stats.ks_2samp(ref["x"].to_numpy(), cur["x"].to_numpy()).pvalue < 0.05
    assert found["current:c"].threshold.metric == "jensenshannon"  # type: ignore[union-attr]


def test_a_test_named_in_the_spec_is_used() -> None:
    ref, cur = tables(400, 300, shift=0.6, seed=4)
    checks = {"drift.feature": {"params": {"tests": {"x": "psi"}, "test": "jensenshannon"}}}
    found = by_subject(run("drift.feature", ref, cur, checks=checks))
    assert found["current:x"].threshold.metric == "psi"  # type: ignore[union-attr]
    assert found["current:z"].threshold.metric == "jensenshannon"  # type: ignore[union-attr]
    assert found["current:x"].status is Status.FAIL


def test_a_type_change_and_an_all_null_column_are_findings() -> None:
    ref, cur = tables(200, 200, seed=5)
    cur = cur.set_column(1, "z", pa.array([str(v) for v in cur["z"].to_pylist()]))
    cur = cur.set_column(0, "x", pa.nulls(200, pa.float64()))
    found = by_subject(run("drift.feature", ref, cur))
    assert found["current:z"].status is Status.FAIL
    assert "type changed from float" in found["current:z"].message
    assert found["current:x"].status is Status.FAIL
    assert "every value is missing in current" in found["current:x"].message


def test_too_few_values_is_skipped_as_insufficient() -> None:
    ref, cur = tables(200, 10, seed=6)
    found = by_subject(run("drift.feature", ref, cur))
    assert found["current:x"].status is Status.SKIPPED
    assert found["current:x"].message.startswith("insufficient data: n=10, need 30")


def test_label_and_prediction_drift() -> None:
    ref, cur = tables(500, 500, seed=7)
    cur = cur.set_column(3, "y", pa.array(np.ones(500, dtype=np.int64)))
    (label,) = run("drift.label", ref, cur)
    assert label.subject == "current:y" and label.status is Status.FAIL


def test_dataset_share_and_multivariate(tmp_path: Path) -> None:
    ref, cur = tables(3000, 3000, shift=0.8, seed=8)
    (share,) = run("drift.dataset", ref, cur)
    assert share.metrics["drifted_features"] == 2 and share.metrics["features"] == 3
    assert share.status is Status.FAIL  # 2/3 > 0.5
    (multi,) = run("drift.multivariate", ref, cur)
    assert multi.status is Status.FAIL and multi.metrics["auc"] > 0.7  # type: ignore[operator]
    same_ref, same_cur = tables(3000, 3000, seed=9)
    (calm,) = run("drift.multivariate", same_ref, same_cur)
    assert calm.status is Status.PASS
    assert calm.metrics["auc_ci_low"] <= 0.5 <= calm.metrics["auc_ci_high"]  # type: ignore[operator]


def test_drift_against_a_stored_reference_profile(tmp_path: Path) -> None:
    ref, cur = tables(50_000, 50_000, shift=0.5, seed=10)
    pq.write_table(ref, tmp_path / "ref.parquet")
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "p"}, "datasets": {"r": {"path": "ref.parquet"}}},
        base_dir=tmp_path,
    )
    profile = scan({"r": open_dataset(spec, "r")}, ScanOptions(row_hashes=False))["r"].profile
    profile.save(tmp_path / "ref.assayprofile")
    stored = {"profile": str(tmp_path / "ref.assayprofile"), "role": "reference", "target": "y"}
    from_profile = by_subject(run("drift.feature", stored, cur))
    from_rows = by_subject(run("drift.feature", ref, cur))
    assert from_profile.keys() == from_rows.keys()
    for subject, finding in from_rows.items():
        again = from_profile[subject]
        assert again.status == finding.status
        assert again.metrics["effect_size"] == pytest.approx(
            finding.metrics["effect_size"], abs=0.02
        )
    (multi,) = run("drift.multivariate", stored, cur)
    assert multi.status is Status.SKIPPED and "stored profile" in multi.message


def test_the_reference_kind_decides_even_when_current_has_few_values() -> None:
    rng = np.random.default_rng(11)
    ref = pa.table({"n": rng.integers(0, 500, 2000), "y": rng.integers(0, 2, 2000)})
    cur = pa.table({"n": rng.integers(0, 5, 2000), "y": rng.integers(0, 2, 2000)})  # 5 values
    (finding,) = run("drift.feature", ref, cur)
    assert "type changed" not in finding.message
    assert finding.threshold is not None and finding.threshold.metric == "p_value_adjusted"
    assert finding.message.startswith("current:n drifted: ks")
    assert finding.status is Status.FAIL
