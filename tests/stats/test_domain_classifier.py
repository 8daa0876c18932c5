"""The domain classifier: AUC near 0.5 without drift, high with it, deterministic by seed, and
within 0.03 of the scikit-learn implementation it replaced on the same data."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from assay.checks.drift_dataset import MULTIVARIATE_ITERATIONS
from assay.stats import NumericDistribution, domain_classifier, ks
from assay.stats.domain_classifier import (
    COLUMNS_DIFFER,
    MAX_CATEGORIES,
    DomainClassifierResult,
    _stratified_folds,
    _subsample,
    bootstrap_auc,
    encode_tables,
    weighted_auc,
)

ROWS = 5000
CATEGORIES = (5, 10, 20, 35, 50)
TOLERANCE = 0.03  # |our AUC - scikit-learn's AUC|


def _zipf(k: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    weights = 1.0 / np.arange(1, k + 1)
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _table(
    rng: np.random.Generator,
    rows: int = ROWS,
    *,
    shift: float = 0.0,
    scale: float = 1.0,
    correlation: float = 0.0,
    reorder: bool = False,
    rare: bool = False,
    missing: float = 0.3,
) -> pa.Table:
    """The benchmark's 27 columns: 20 floats (5% missing; 30% in num_4 and num_5), 5 strings
    with 5-50 Zipf-distributed categories (5% missing) and 2 binary columns.

    Drift options: num_0 shifts by ``shift`` sd and num_1 scales by ``scale``; num_2 and
    num_3 are standard normals with correlation ``correlation``; cat_1's popularity order
    reverses (``reorder``); cat_2's rarest category (0.5%) takes 15% (``rare``); num_5 misses
    ``missing`` of its values.
    """
    columns: dict[str, Any] = {}
    pair = rng.normal(size=(rows, 2))
    for i in range(20):
        values = rng.normal(size=rows)
        if i == 0:
            values += shift
        elif i == 1:
            values *= scale
        elif i == 2:
            values = pair[:, 0]
        elif i == 3:
            values = correlation * pair[:, 0] + np.sqrt(1 - correlation**2) * pair[:, 1]
        share = {4: 0.3, 5: missing}.get(i, 0.05)
        values[rng.random(rows) < share] = np.nan
        columns[f"num_{i}"] = pa.array(values, from_pandas=True)
    for i, k in enumerate(CATEGORIES):
        p = _zipf(k)
        if i == 1 and reorder:
            p = p[::-1]
        if i == 2:
            p[-1] = 0.15 if rare else 0.005
            p[:-1] *= (1.0 - p[-1]) / p[:-1].sum()
        picks = rng.choice([f"c{j}" for j in range(k)], size=rows, p=p).astype(object)
        picks[rng.random(rows) < 0.05] = None
        columns[f"cat_{i}"] = pa.array(picks.tolist(), type=pa.string())
    columns["target"] = pa.array(rng.random(rows) < 0.3)
    columns["prediction"] = pa.array((rng.random(rows) < 0.3).astype(np.int8))
    return pa.table(columns)


def _pair(seed: int, rows: int = ROWS, **drift: Any) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng
    return _table(rng(100 + seed), rows), _table(rng(200 + seed), rows, **drift)


def _sklearn_domain_classifier(
    ref: pa.Table, cur: pa.Table, *, seed: int
) -> DomainClassifierResult:
    """The scikit-learn implementation this module replaced, kept as the reference: the same
    sampling, encoding and bootstrap, with HistGradientBoostingClassifier, StratifiedKFold and
    roc_auc_score (defaults as before: 2 folds, 200 resamples, 95%, 5,000 rows)."""
    rng = np.random.default_rng(seed)
    ref, cur = _subsample(ref, 5000, rng), _subsample(cur, 5000, rng)
    features, categorical, names, skipped = encode_tables(ref, cur)
    labels = np.concatenate([np.zeros(ref.num_rows), np.ones(cur.num_rows)])
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    fold_aucs: list[float] = []
    boot = np.zeros(200)
    with threadpool_limits(limits=1, user_api="openmp"):
        for train, test in folds.split(features, labels):
            model = HistGradientBoostingClassifier(
                max_iter=MULTIVARIATE_ITERATIONS,
                early_stopping=False,
                random_state=seed,
                categorical_features=categorical if categorical.any() else None,
            )
            model.fit(features[train], labels[train])
            scores = model.predict_proba(features[test])[:, 1]
            held_out = labels[test]
            fold_aucs.append(float(roc_auc_score(held_out, scores)))
            boot += bootstrap_auc(scores[held_out == 1], scores[held_out == 0], 200, rng)
    low, high = np.percentile(boot / 2, [2.5, 97.5])
    return DomainClassifierResult(
        auc=float(np.mean(fold_aucs)),
        ci_low=float(low),
        ci_high=float(high),
        confidence=0.95,
        n_ref=ref.num_rows,
        n_cur=cur.num_rows,
        n_splits=2,
        n_bootstrap=200,
        seed=seed,
        fold_aucs=tuple(fold_aucs),
        features=tuple(names),
        skipped=tuple(skipped),
    )


def _ours_and_sklearn(
    ref: pa.Table, cur: pa.Table, seed: int
) -> tuple[DomainClassifierResult, DomainClassifierResult]:
    ours = domain_classifier(ref, cur, seed=seed, max_iter=MULTIVARIATE_ITERATIONS)
    return ours, _sklearn_domain_classifier(ref, cur, seed=seed)


def test_without_drift_the_auc_is_one_half_as_with_scikit_learn() -> None:
    covered = 0
    for seed in range(5):
        ours, sklearn = _ours_and_sklearn(*_pair(seed, rows=2000), seed)
        assert abs(ours.auc - 0.5) < 0.03
        assert ours.auc == pytest.approx(sklearn.auc, abs=TOLERANCE)
        assert ours.ci_low < ours.auc < ours.ci_high
        assert not ours.drifted() and not sklearn.drifted()
        covered += ours.ci_low <= 0.5 <= ours.ci_high
    assert covered >= 4  # 95% intervals


@pytest.mark.parametrize(
    ("drift", "detected"),
    [
        ({"shift": 0.3}, False),  # one column of 27 moves 0.3 sd: AUC about 0.54
        ({"scale": 1.5}, True),
        ({"reorder": True}, True),
        ({"rare": True}, True),
        ({"missing": 0.5}, True),  # 30% of num_5 missing in the reference, 50% now
    ],
    ids=["mean-shift", "scale", "categories-reordered", "rare-category-common", "missingness"],
)
def test_drift_scenarios_agree_with_scikit_learn(drift: dict[str, Any], detected: bool) -> None:
    rows = 2000 if "reorder" in drift or "rare" in drift else ROWS  # strong effects need fewer
    ours, sklearn = _ours_and_sklearn(*_pair(0, rows, **drift), 0)
    assert ours.auc == pytest.approx(sklearn.auc, abs=TOLERANCE)
    assert ours.drifted() == sklearn.drifted() == detected


def test_a_changed_correlation_is_seen_by_the_classifier_not_by_the_columns() -> None:
    """num_2 and num_3 stay standard normal but become correlated (0.8). Single seeds differ
    from scikit-learn by up to 0.05 here (the AUC of about 0.62 is noisy), so the AUCs are
    compared as a mean over three seeds."""
    ours_aucs, sklearn_aucs = [], []
    for seed in range(3):
        ref, cur = _pair(seed, correlation=0.8)
        for name in ("num_2", "num_3"):
            marginals = (NumericDistribution.from_values(t.column(name)) for t in (ref, cur))
            p_value = ks(*marginals).p_value
            assert p_value is not None and p_value > 0.05
        ours, sklearn = _ours_and_sklearn(ref, cur, seed)
        assert ours.drifted() and sklearn.drifted()
        ours_aucs.append(ours.auc)
        sklearn_aucs.append(sklearn.auc)
    assert np.mean(ours_aucs) == pytest.approx(np.mean(sklearn_aucs), abs=TOLERANCE)


def test_a_shifted_feature_is_detected() -> None:
    result = domain_classifier(*_pair(3, shift=2.0), seed=0, max_iter=MULTIVARIATE_ITERATIONS)
    assert result.auc > 0.8 and result.ci_low > 0.8
    assert result.drifted()
    assert (result.n_ref, result.n_cur, result.n_splits, result.n_bootstrap) == (
        ROWS,
        ROWS,
        2,
        200,
    )
    assert len(result.features) == 27 and result.skipped == ()


def test_same_inputs_and_seed_give_the_same_result() -> None:
    ref, cur = _pair(4, rows=2000, shift=0.3)
    first = domain_classifier(ref, cur, seed=7, max_iter=10)
    assert domain_classifier(ref, cur, seed=7, max_iter=10) == first
    assert domain_classifier(ref, cur, seed=8, max_iter=10) != first


def test_large_inputs_are_subsampled_by_seed() -> None:
    rng = np.random.default_rng(5)
    ref, cur = _table(rng, rows=3000), _table(rng, rows=2500)
    options: dict[str, Any] = {"seed": 1, "max_rows": 1000, "n_bootstrap": 50, "max_iter": 10}
    result = domain_classifier(ref, cur, **options)
    assert (result.n_ref, result.n_cur) == (1000, 1000)
    assert result == domain_classifier(ref, cur, **options)


def test_folds_are_stratified_and_seeded() -> None:
    labels = np.r_[np.zeros(101), np.ones(50)]
    fold = _stratified_folds(labels, 3, np.random.default_rng(0))
    for side in (0.0, 1.0):
        sizes = np.bincount(fold[labels == side], minlength=3)
        assert sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(fold, _stratified_folds(labels, 3, np.random.default_rng(0)))
    assert not np.array_equal(fold, _stratified_folds(labels, 3, np.random.default_rng(1)))


def test_importing_it_loads_neither_scikit_learn_nor_scipy_nor_pandas() -> None:
    heavy = ("sklearn", "scipy", "pandas")
    code = (
        "import assay.stats.domain_classifier, sys; "
        f"assert not any(m in sys.modules for m in {heavy!r}), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


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
    pos, neg = (
        rng.integers(0, 20, size=300).astype(float),
        rng.integers(0, 18, size=200).astype(float),
    )
    labels = np.r_[np.ones(pos.size), np.zeros(neg.size)]
    expected = roc_auc_score(labels, np.r_[pos, neg])
    got = weighted_auc(pos, neg, np.ones((1, pos.size)), np.ones((1, neg.size)))
    assert got[0] == pytest.approx(expected, rel=1e-12)
    doubled = weighted_auc(pos, neg, np.full((1, pos.size), 2.0), np.ones((1, neg.size)))
    assert doubled[0] == pytest.approx(expected, rel=1e-12)
