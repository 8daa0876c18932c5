"""The NumPy gradient-boosting classifier behind the domain classifier."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from assay.stats._boosting import BAD_CATEGORY, NOT_FITTED, HistGradientBoosting, _edges


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _interaction(seed: int, rows: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Five numeric columns (10% missing); the label needs x0 and the product x1 * x2."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 5))
    signal = x[:, 0] + x[:, 1] * x[:, 2] + 0.7 * rng.normal(size=rows)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, (signal > 0).astype(float)


def test_a_separable_problem_is_learned_with_probabilities_inside_0_1() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (x[:, 0] - x[:, 1] > 0).astype(float)
    p = HistGradientBoosting(max_iter=50).fit(x, y).predict_proba_positive(x)
    assert roc_auc_score(y, p) > 0.99
    assert ((p > 0.0) & (p < 1.0)).all()


def test_categories_are_split_as_sets() -> None:
    """Codes 3 and 7 are positive: one categorical split isolates them, a numeric one cannot."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 10, size=(3000, 1)).astype(float)
    y = np.isin(codes[:, 0], [3, 7]).astype(float)
    stump = HistGradientBoosting(max_iter=1, max_leaf_nodes=2)
    as_categories = stump.fit(codes, y, [True])
    assert as_categories._forest is not None
    left = set(np.flatnonzero(as_categories._forest.table[0, :10]).tolist())
    assert left in ({3, 7}, set(range(10)) - {3, 7})
    assert roc_auc_score(y, as_categories.predict_proba_positive(codes)) == 1.0
    as_numbers = HistGradientBoosting(max_iter=1, max_leaf_nodes=2).fit(codes, y)
    assert roc_auc_score(y, as_numbers.predict_proba_positive(codes)) < 0.8


def test_missing_values_are_sent_to_the_better_side() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 1))
    y = (rng.random(2000) < 0.3).astype(float)
    x[y == 1, 0] = np.nan  # missingness is the signal
    stump = HistGradientBoosting(max_iter=1, max_leaf_nodes=2).fit(x, y)
    assert roc_auc_score(y, stump.predict_proba_positive(x)) == 1.0


def test_the_log_loss_decreases_with_every_tree() -> None:
    x, y = _interaction(3, rows=2000)
    prior = _log_loss(y, np.full(y.size, y.mean()))
    losses = [
        _log_loss(y, HistGradientBoosting(max_iter=n).fit(x, y).predict_proba_positive(x))
        for n in (1, 2, 5, 10, 20)
    ]
    assert all(b < a for a, b in zip([prior, *losses], losses, strict=False))
    assert losses[-1] < 0.8 * prior


def test_held_out_auc_is_close_to_scikit_learn() -> None:
    x, y = _interaction(4)
    test_x, test_y = _interaction(5)
    ours = HistGradientBoosting(max_iter=50).fit(x, y).predict_proba_positive(test_x)
    with threadpool_limits(limits=1, user_api="openmp"):  # spinning threads on busy cores crawl
        reference = HistGradientBoostingClassifier(max_iter=50, early_stopping=False).fit(x, y)
    theirs = reference.predict_proba(test_x)[:, 1]
    assert roc_auc_score(test_y, ours) == pytest.approx(roc_auc_score(test_y, theirs), abs=0.01)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.98


def test_fit_many_equals_separate_fits_and_fits_are_deterministic() -> None:
    x, y = _interaction(6, rows=1500)
    x[:, 4] = np.random.default_rng(7).integers(0, 12, size=1500)  # a categorical column
    categorical = [False, False, False, False, True]
    folds = np.arange(1500) % 3
    models = HistGradientBoosting(max_iter=10).fit_many(
        x, y, categorical, [folds != k for k in range(3)]
    )
    for k, model in enumerate(models):
        alone = HistGradientBoosting(max_iter=10).fit(x[folds != k], y[folds != k], categorical)
        np.testing.assert_array_equal(model.decision_function(x), alone.decision_function(x))
    again = HistGradientBoosting(max_iter=10).fit(x[folds != 0], y[folds != 0], categorical)
    np.testing.assert_array_equal(again.decision_function(x), models[0].decision_function(x))


def test_bin_edges_follow_distinct_values_or_quantiles() -> None:
    np.testing.assert_array_equal(_edges(np.array([3.0, 1.0, np.nan, 1.0, 2.0]), 255), [1.5, 2.5])
    many = _edges(np.random.default_rng(8).normal(size=5000), 63)
    assert many.size == 62 and (np.diff(many) > 0).all()


def test_codes_unseen_in_training_are_routed_and_bad_codes_rejected() -> None:
    rng = np.random.default_rng(9)
    codes = rng.integers(0, 5, size=(500, 1)).astype(float)
    y = (codes[:, 0] == 2).astype(float)
    model = HistGradientBoosting(max_iter=5).fit(codes, y, [True])
    assert np.isfinite(model.predict_proba_positive(np.array([[200.0], [np.nan]]))).all()
    with pytest.raises(ValueError) as caught:
        model.predict_proba_positive(np.array([[1.5]]))
    assert str(caught.value) == BAD_CATEGORY.format(top=253, value=1.5)


def test_invalid_use_is_reported() -> None:
    with pytest.raises(ValueError, match=re.escape("max_bins in 2..255")):
        HistGradientBoosting(max_bins=256)
    with pytest.raises(RuntimeError, match=re.escape(NOT_FITTED)):
        HistGradientBoosting().predict_proba_positive(np.zeros((1, 1)))
    with pytest.raises(ValueError, match="labels 0 or 1"):
        HistGradientBoosting().fit(np.zeros((4, 1)), [0, 1, 2, 1])


def _stump_scores(bins: np.ndarray, y: np.ndarray, n_num: int, slots: int) -> list[float]:
    """GL²/HL + GR²/HR of every valid root split, by brute force in double precision (first
    tree: a constant hessian, so a child's share of the hessian is its share of the rows)."""
    p = y.mean()
    g, h, every = p - y, np.full(y.size, p * (1 - p)), np.arange(slots)
    scores = []
    for j, b in enumerate(bins):
        sg, sh, n = (np.bincount(b, w, slots) for w in (g, h, None))
        if j < n_num:  # thresholds, the missing values right, then left
            lefts = [every <= t for t in range(slots - 1)]
            lefts += [left | (every == slots - 1) for left in lefts]
        else:  # the supported categories by G / (H + 10), the pool right, then left
            ranked = [c for c in np.argsort(sg / (sh + 10), kind="stable") if n[c] >= 10]
            lefts = [np.isin(every, ranked[: r + 1]) for r in range(len(ranked))]
            lefts += [left | ~np.isin(every, ranked) for left in lefts]
        for left in lefts:
            gl, hl, nl = sg[left].sum(), sh[left].sum(), n[left].sum()
            if min(nl, y.size - nl) >= 20:
                scores.append(gl**2 / hl + (g.sum() - gl) ** 2 / (h.sum() - hl))
    return scores


def test_the_root_split_is_the_best_of_all_candidates() -> None:
    """Numeric features with and without missing values, and a categorical one with more codes
    than numeric bins: the stump's split scores the best of a brute-force search."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(3000, 4))
    x[rng.random(3000) < 0.2, 1] = np.nan
    x[:, 3] = rng.integers(0, 61, 3000)
    x[rng.random(3000) < 0.1, 3] = np.nan
    signal = np.nan_to_num(x[:, 1], nan=1.0) + 0.3 * x[:, 0] + (x[:, 3] % 4 == 0)
    y = (signal > 0.8).astype(float)
    stump = HistGradientBoosting(max_iter=1, max_leaf_nodes=2, max_bins=32)
    stump.fit(x, y, [False, False, False, True])
    assert stump._binner is not None and stump._forest is not None
    bins = stump._binner(x).astype(np.intp)
    goes = stump._forest.table[0][bins[stump._forest.feature[0]]]
    g, h = y.mean() - y, np.full(y.size, y.mean() * (1 - y.mean()))
    ours = g[goes].sum() ** 2 / h[goes].sum() + g[~goes].sum() ** 2 / h[~goes].sum()
    best = max(_stump_scores(bins, y, stump._binner.n_num, stump._binner.slots))
    assert ours == pytest.approx(best, rel=1e-6)


def test_equal_splits_go_to_the_first_feature() -> None:
    """Copies of a numeric column with missing values, or of a categorical one, score alike:
    the first copy wins."""
    rng = np.random.default_rng(11)
    a = rng.normal(size=2000)
    a[rng.random(2000) < 0.1] = np.nan
    y = (np.nan_to_num(a, nan=2.0) + 0.5 * rng.normal(size=2000) > 0.5).astype(float)
    numeric = HistGradientBoosting(max_iter=3).fit(np.c_[a, a, a], y)
    assert numeric._forest is not None
    assert (numeric._forest.feature[numeric._forest.child[:, 0] >= 0] == 0).all()
    codes = rng.integers(0, 8, 2000)
    y = (np.isin(codes, [1, 4]) ^ (rng.random(2000) < 0.1)).astype(float)
    x = np.c_[rng.normal(size=2000), codes, codes]
    categorical = HistGradientBoosting(max_iter=3).fit(x, y, [False, True, True])
    assert categorical._forest is not None
    splits = categorical._forest.child[:, 0] >= 0
    assert (categorical._forest.feature[splits] != 2).all()
    assert (categorical._forest.feature[splits] == 1).any()
