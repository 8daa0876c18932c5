"""model.slices: the condition language, the weak-slice search and the check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _model_checks_support import run_model_check

from _model_audits import make_table, model_spec
from assay.checks._registry import Status
from assay.spec.loader import spec_from_mapping
from assay.stats.slice_conditions import describe, where_mask
from assay.stats.slices import levels, search

AGE = np.array([17.0, 25.0, 30.0, np.nan, 64.0, 80.0])
REGION = np.array(["north", "south", None, "east", "north", "west"], dtype=object)
COLUMNS = {"age": AGE, "region": REGION}


@pytest.mark.parametrize(
    ("where", "rows"),
    [
        ({"region": "north"}, [0, 4]),
        ({"region": ["north", "east"]}, [0, 3, 4]),
        ({"region": None}, [2]),
        ({"age": {"min": 25, "max": 64}}, [1, 2, 4]),
        ({"age": {"gt": 25, "lt": 80}}, [2, 4]),
        ({"age": {"missing": True}}, [3]),
        ({"region": {"not_in": ["north", "south"]}}, [3, 5]),
        ({"age": {"min": 18}, "region": "north"}, [4]),
        ({"age": 30}, [2]),
    ],
)
def test_conditions_select_the_rows(where: dict, rows: list[int]) -> None:
    assert np.flatnonzero(where_mask(COLUMNS, where)).tolist() == rows


@pytest.mark.parametrize(
    ("where", "problem"),
    [
        ({"height": 3}, "column 'height' is not in the data"),
        ({"region": {"min": 3}}, "needs a numeric column"),
        ({"age": {"between": [1, 2]}}, "unknown keys ['between']"),
        ({"age": {"min": "old"}}, "must be a number"),
        ({"age": "__import__('os')"}, "must be a number"),
        ({}, "at least one condition"),
    ],
)
def test_bad_conditions_say_what_is_wrong(where: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=None) as raised:
        where_mask(COLUMNS, where)
    assert problem in str(raised.value)


def test_describe() -> None:
    assert describe({"age": {"gt": 0.5, "max": 1.25}, "region": "north"}) == (
        "age in (0.5, 1.25] and region = north"
    )
    assert describe({"region": ["a", "b"], "age": None}) == "region in {a, b} and age is missing"


def test_levels_bin_numbers_and_group_rare_categories() -> None:
    x = np.arange(100, dtype=np.float64)
    lv = levels(x, "x", bins=4)
    assert np.bincount(lv.codes).tolist() == [25, 25, 25, 25]
    assert lv.conditions[0] == {"min": 0, "max": 24.75}
    words = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5, dtype=object)
    cats = levels(words, "w", max_categories=2)
    assert cats.conditions == ("a", "b", {"not_in": ["a", "b"]})
    assert np.bincount(cats.codes).tolist() == [50, 30, 20]
    # Every auto slice's condition selects exactly its rows.
    for level, condition in enumerate(cats.conditions):
        mask = where_mask({"w": words}, {"w": condition})
        assert np.array_equal(mask, cats.codes == level)


def _world(n: int, seed: int, *, planted: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.uniform(size=n)
    region = np.asarray(rng.choice(["north", "south", "east", "west"], n), dtype=object)
    rate = np.full(n, 0.15)
    if planted:
        rate[(region == "east") & (x > 0.5)] = 0.6
    errors = (rng.random(n) < rate).astype(np.float64)
    return errors, {"x": x, "z": z, "region": region}


def test_search_finds_a_planted_weak_slice() -> None:
    errors, columns = _world(4000, 1, planted=True)
    found = search(errors, columns, kind="error", min_rows=30)
    best = found.slices[0]
    assert "region = east" in best.label and "x in" in best.label
    assert best.p_adjusted < 1e-6 and best.value > 0.5
    assert found.pair_columns and "region" in found.pair_columns


def test_search_on_null_data_finds_nothing_after_correction() -> None:
    errors, columns = _world(4000, 2, planted=False)
    found = search(errors, columns, kind="error", min_rows=30)
    assert len(found.slices) > 30
    assert min(s.p_adjusted for s in found.slices) > 0.05
    assert min(s.p_value for s in found.slices) < 0.2  # raw p-values alone would be tempting


def test_search_agrees_with_fisher_and_welch() -> None:
    from scipy import stats

    errors, columns = _world(500, 3, planted=True)
    found = search(errors, {"region": columns["region"]}, kind="error", min_rows=10)
    s = next(s for s in found.slices if s.label == "region = east")
    inside = columns["region"] == "east"
    table = [
        [errors[inside].sum(), (1 - errors[inside]).sum()],
        [errors[~inside].sum(), (1 - errors[~inside]).sum()],
    ]
    assert s.p_value == pytest.approx(stats.fisher_exact(table, alternative="greater")[1])
    loss = np.abs(np.random.default_rng(0).normal(size=500)) + inside
    found = search(loss, {"region": columns["region"]}, kind="absolute_error", min_rows=10)
    s = next(s for s in found.slices if s.label == "region = east")
    welch = stats.ttest_ind(loss[inside], loss[~inside], equal_var=False, alternative="greater")
    assert s.p_value == pytest.approx(welch.pvalue)


def test_small_slices_are_counted_not_tested() -> None:
    errors, columns = _world(200, 4, planted=False)
    found = search(errors, columns, kind="error", min_rows=60)
    assert all(s.n >= 60 for s in found.slices)
    assert found.untested > 0


# the check -----------------------------------------------------------------------------------


def test_good_audit_has_no_weak_slice_and_reports_declared_ones(tmp_path: Path) -> None:
    spec = model_spec("good", tmp_path)
    spec = _with_params(
        spec,
        {
            "slices": [
                {"name": "north", "where": {"region": "north"}},
                {"name": "tiny", "where": {"x1": {"min": 3.5}}},
            ]
        },
    )
    result = run_model_check("model.slices", spec)
    assert result.one("test").status == Status.PASS
    assert result.one("test [north]").status == Status.PASS
    assert result.one("test [north]").metrics["n_rows"] > 100
    assert result.one("test [tiny]").status == Status.SKIPPED  # too few rows
    evidence = result.artefact(result.one("test"), "model/slices/test.json")
    assert evidence["min_slice_rows"] == 30 and evidence["untested_slices"] > 0
    assert all(not s["flagged"] for s in evidence["slices"])


def test_a_weak_region_is_flagged(tmp_path: Path) -> None:
    test = make_table("good", 2000, 2)
    rng = np.random.default_rng(5)
    y = test["y"].to_numpy()
    east = test["region"].to_numpy(zero_copy_only=False) == "east"
    wrong = rng.random(y.size) < np.where(east, 0.45, 0.08)
    test = test.append_column("pred", pa.array(np.where(wrong, 1 - y, y)))
    pq.write_table(test, tmp_path / "test.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {"test": {"path": "test.parquet", "target": "y", "prediction": "pred"}},
        },
        base_dir=tmp_path,
    )
    result = run_model_check("model.slices", spec)
    finding = result.one("test [region = east]")
    assert finding.status == Status.FAIL
    assert finding.metrics["error_rate_gap"] > 0.2
    assert finding.metrics["p_adjusted"] < 0.05
    assert finding.metrics["error_rate_ci_low"] < finding.metrics["error_rate"]
    assert "dataset's `pred` column" in finding.message
    assert result.findings == run_model_check("model.slices", spec).findings  # deterministic


def test_a_bad_declared_slice_is_an_error_for_that_slice_only(tmp_path: Path) -> None:
    spec = _with_params(
        model_spec("good", tmp_path, n=400),
        {"slices": [{"name": "oops", "where": {"height": {"min": 2}}}]},
    )
    result = run_model_check("model.slices", spec)
    assert result.one("test [oops]").status == Status.ERROR
    assert "height" in result.one("test [oops]").message
    assert result.one("test").status == Status.PASS


def test_regression_slices_use_the_mae_ratio(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 1500
    group = np.asarray(rng.choice(["a", "b", "c"], n), dtype=object)
    y = rng.normal(size=n)
    pred = y + rng.normal(0, np.where(group == "c", 3.0, 1.0))
    pq.write_table(pa.table({"g": group, "y": y, "p": pred}), tmp_path / "test.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {"test": {"path": "test.parquet", "target": "y", "prediction": "p"}},
        },
        base_dir=tmp_path,
    )
    finding = run_model_check("model.slices", spec).one("test [g = c]")
    assert finding.status == Status.FAIL and finding.metrics["mae_ratio"] > 2.0


def _with_params(spec, params: dict):  # type: ignore[no-untyped-def]
    checks = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "x"},
            "datasets": {"d": {"data": pa.table({"a": [1]})}},
            "checks": {"model.slices": {"params": params}},
        }
    ).checks
    return spec.model_copy(update={"checks": checks})
