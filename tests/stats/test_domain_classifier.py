"""The domain classifier: AUC near 0.5 without drift, high with it, deterministic by seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import roc_auc_score

from assay.stats import domain_classifier
from assay.stats.domain_classifier import (
    COLUMNS_DIFFER,
    MAX_CATEGORIES,
    encode_tables,
    weighted_auc,
)

ROWS = 5000


def _table(rng: np.random.Generator, *, shift: float = 0.0, rows: int = ROWS) -> pa.Table:
    """The benchmark's column mix: 20 floats, 5 strings, a binary target and prediction."""
    columns: dict[str, Any] = {}
    for i in range(20):
        values = rng.normal(size=rows) + (shift if i == 0 else 0.0)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"num_{i}"] = pa.array(values, from_pandas=True)
    for i in range(5):
        picks = rng.choice([f"c{j}" for j in range(8 + i)], size=rows).astype(object)
        picks[rng.random(rows) < 0.05] = None
        columns[f"cat_{i}"] = pa.array(picks.tolist(), type=pa.string())
    columns["target"] = pa.array(rng.random(rows) < 0.3)
    columns["prediction"] = pa.array((rng.random(rows) < 0.3).astype(np.int8))
    return pa.table(columns)


@pytest.fixture(scope="module")
def reference() -> pa.Table:
    return _table(np.random.default_rng(1))


def test_identical_distributions_give_an_interval_around_one_half(reference: pa.Table) -> None:
    current = _table(np.random.default_rng(2))
    covered = 0
    for seed in range(3):
        result = domain_classifier(reference, current, seed=seed)
        assert 0.47 < result.auc < 0.53
        assert result.ci_low < result.auc < result.ci_high
        covered += result.ci_low <= 0.5 <= result.ci_high
        assert not result.drifted()
    assert covered >= 2  # a 95% interval; all three cover 0.5 with these seeds


def test_a_shifted_feature_is_detected(reference: pa.Table) -> None:
    current = _table(np.random.default_rng(3), shift=2.0)
    result = domain_classifier(reference, current, seed=0)
    assert result.auc > 0.8 and result.ci_low > 0.8
    assert result.drifted()
    assert (result.n_ref, result.n_cur, result.n_splits, result.n_bootstrap) == (
        ROWS,
        ROWS,
        2,
        200,
    )
    assert len(result.features) == 27 and result.skipped == ()


def test_same_inputs_and_seed_give_the_same_result(reference: pa.Table) -> None:
    current = _table(np.random.default_rng(4), shift=0.3)
    first = domain_classifier(reference, current, seed=7)
    assert domain_classifier(reference, current, seed=7) == first
    assert domain_classifier(reference, current, seed=8) != first


def test_large_inputs_are_subsampled_by_seed() -> None:
    rng = np.random.default_rng(5)
    ref, cur = _table(rng, rows=3000), _table(rng, rows=2500)
    result = domain_classifier(ref, cur, seed=1, max_rows=1000, n_bootstrap=50)
    assert (result.n_ref, result.n_cur) == (1000, 1000)
    assert result == domain_classifier(ref, cur, seed=1, max_rows=1000, n_bootstrap=50)


def test_columns_must_match() -> None:
    with pytest.raises(ValueError) as caught:
        domain_classifier(
            pa.table({"a": [1.0], "b": [2]}), pa.table({"a": [1.0], "c": [3]}), seed=0
        )
    assert str(caught.value) == COLUMNS_DIFFER.format(ref_only=["b"], cur_only=["c"])


def test_encoding_of_mixed_types() -> None:
    ref = pa.table(
        {
            "x": pa.array([1.5, None, float("inf")]),
            "flag": pa.array([True, None, False]),
            "s": pa.array(["b", "a", None]),
            "mixed": pa.array([1, 2, 3]),
            "when": pa.array([1704067200, None, None], type=pa.timestamp("s")),
            "nested": pa.array([[1], [2], []]),
        }
    )
    cur = pa.table(
        {
            "x": pa.array([2.0, 3.0]),
            "flag": pa.array([True, True]),
            "s": pa.array(["b", "c"]),
            "mixed": pa.array(["1", "x"]),
            "when": pa.array([None, None], type=pa.timestamp("s")),
            "nested": pa.array([[1], [3]]),
        }
    )
    matrix, categorical, names, skipped = encode_tables(ref, cur)
    assert names == ["x", "flag", "s", "mixed", "when"] and skipped == ["nested"]
    assert categorical.tolist() == [False, False, True, True, False]
    np.testing.assert_array_equal(matrix[:, 0], [1.5, np.nan, np.nan, 2.0, 3.0])
    np.testing.assert_array_equal(matrix[:, 1], [1.0, np.nan, 0.0, 1.0, 1.0])
    # codes rank categories by combined frequency, ties by value: b (2), then a, c
    np.testing.assert_array_equal(matrix[:, 2], [0.0, 1.0, np.nan, 0.0, 2.0])
    # a column numeric on one side and text on the other is compared as text
    np.testing.assert_array_equal(matrix[:, 3], [0.0, 1.0, 2.0, 0.0, 3.0])
    assert matrix[0, 4] == 1704067200.0


def test_high_cardinality_strings_become_a_frequency_rank() -> None:
    values = [f"id{i}" for i in range(MAX_CATEGORIES + 1)]
    _, categorical, _, _ = encode_tables(pa.table({"s": values}), pa.table({"s": values}))
    assert categorical.tolist() == [False]


def test_weighted_auc_with_unit_weights_is_roc_auc() -> None:
    rng = np.random.default_rng(6)
    pos, neg = rng.integers(0, 20, size=300).astype(float), rng.integers(0, 18, size=200) * 1.0
    labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    expected = roc_auc_score(labels, np.r_[pos, neg])
    got = weighted_auc(pos, neg, np.ones((1, pos.size)), np.ones((1, neg.size)))
    assert got[0] == pytest.approx(expected, rel=1e-12)
    doubled = weighted_auc(pos, neg, np.full((1, pos.size), 2.0), np.ones((1, neg.size)))
    assert doubled[0] == pytest.approx(expected, rel=1e-12)
