"""Vectorised bootstrap: each resample equals scikit-learn on the same rows; chunking and
seeds change nothing they should not."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.stats.bootstrap import (
    BAD_CONFIDENCE,
    BAD_RESAMPLES,
    bootstrap_ci,
    bootstrap_classification,
    bootstrap_regression,
    chunk_rows,
    resample_indices,
)
from assay.stats.metrics import CLASSIFICATION_METRICS, classification_metrics

TOL = 1e-12
B = 40


def _binary(n: int = 300, seed: int = 3) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.35, "yes", "no")
    score = np.clip(0.3 * (y == "yes") + 0.7 * rng.random(n), 0, 1).round(2)  # ties
    pred = np.where(score > 0.5, "yes", "no")
    return y, pred, np.column_stack([1 - score, score])


def _multiclass(n: int = 300, seed: int = 4) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"])
    y = classes[rng.choice(3, size=n, p=[0.5, 0.3, 0.2])]
    logits = rng.normal(size=(n, 3)) + 1.2 * (y[:, None] == classes)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, classes[np.argmax(proba, axis=1)], proba


def _sklearn_binary(y: Any, pred: Any, proba: Any) -> dict[str, float]:
    common = {"pos_label": "yes", "zero_division": np.nan}
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, **common),
        "recall": skm.recall_score(y, pred, **common),
        "f1": skm.f1_score(y, pred, **common),
        "roc_auc": skm.roc_auc_score(y == "yes", proba[:, 1]),
        "pr_auc": skm.average_precision_score(y, proba[:, 1], pos_label="yes"),
        "log_loss": skm.log_loss(y, proba, labels=["no", "yes"]),
    }


def _sklearn_macro(y: Any, pred: Any, proba: Any) -> dict[str, float]:
    classes = ["a", "b", "c"]
    macro = {"average": "macro", "labels": classes, "zero_division": np.nan}
    onehot = np.stack([y == c for c in classes], axis=1).astype(int)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, **macro),
        "recall": skm.recall_score(y, pred, **macro),
        "f1": skm.f1_score(y, pred, **macro),
        "roc_auc": skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes),
        "pr_auc": skm.average_precision_score(onehot, proba, average="macro"),
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }


def test_resample_indices_do_not_depend_on_the_chunk_size() -> None:
    whole = np.random.default_rng(11).integers(0, 50, size=(23, 50))
    for rows in (1, 4, 23, 100):
        chunks = list(resample_indices(50, 23, 11, rows=rows))
        assert all(c.shape[0] <= rows for c in chunks)
        assert np.array_equal(np.vstack(chunks), whole)
    assert chunk_rows(50_000, 8 * 2**20) == 20 and chunk_rows(10**9, 1) == 1


@pytest.mark.parametrize(
    ("make", "classes", "positive", "reference"),
    [
        (_binary, ["no", "yes"], "yes", _sklearn_binary),
        (_multiclass, ["a", "b", "c"], None, _sklearn_macro),
    ],
    ids=["binary", "multiclass"],
)
def test_every_resample_equals_scikit_learn_on_the_same_rows(
    make: Any, classes: list[str], positive: str | None, reference: Any
) -> None:
    y, pred, proba = make()
    result = bootstrap_classification(
        y, pred, proba, classes=classes, positive=positive, n_resamples=B, seed=5
    )
    assert list(result) == list(CLASSIFICATION_METRICS)
    full = classification_metrics(y, pred, proba, classes=classes, positive=positive)
    indices = np.random.default_rng(5).integers(0, y.size, size=(B, y.size))
    expected = [reference(y[i], pred[i], proba[i]) for i in indices]
    for name, ci in result.items():
        assert ci.estimate == full[name] and ci.n_resamples == B and ci.n_undefined == 0
        want = np.array([values[name] for values in expected])
        np.testing.assert_allclose(ci.replicates, want, rtol=TOL, atol=TOL, err_msg=name)
        low, high = np.percentile(want, [2.5, 97.5])
        assert ci.low == pytest.approx(low, abs=1e-12) and ci.high == pytest.approx(high, abs=1e-12)
        assert ci.std == pytest.approx(np.std(want, ddof=1), abs=1e-12)


def test_the_generic_loop_draws_the_same_resamples() -> None:
    y, pred, proba = _binary()
    fast = bootstrap_classification(
        y, pred, proba, classes=["no", "yes"], positive="yes", n_resamples=B, seed=9
    )
    slow = bootstrap_ci(
        lambda t, p: skm.f1_score(t, p, pos_label="yes"), y, pred, name="f1", n_resamples=B, seed=9
    )
    np.testing.assert_allclose(slow.replicates, fast["f1"].replicates, rtol=0, atol=TOL)
    assert (slow.metric, slow.estimate) == ("f1", pytest.approx(fast["f1"].estimate, abs=TOL))


def test_chunk_size_changes_nothing() -> None:
    y, pred, proba = _multiclass(n=200)
    runs = [
        bootstrap_classification(
            y, pred, proba, classes=["a", "b", "c"], n_resamples=25, seed=2, max_chunk_bytes=size
        )
        for size in (1, 8 * 200 * 3, 8 * 200 * 7, 2**30)
    ]
    for run in runs[1:]:
        for name, ci in run.items():
            assert np.array_equal(ci.replicates, runs[0][name].replicates), name
            assert ci == runs[0][name]


def test_same_seed_same_interval_other_seed_other_interval() -> None:
    y, pred, proba = _binary()
    args = {"classes": ["no", "yes"], "positive": "yes", "n_resamples": 30, "metrics": ["f1"]}
    first = bootstrap_classification(y, pred, proba, seed=1, **args)["f1"]
    again = bootstrap_classification(y, pred, proba, seed=1, **args)["f1"]
    other = bootstrap_classification(y, pred, proba, seed=2, **args)["f1"]
    assert first == again and np.array_equal(first.replicates, again.replicates)
    assert (other.low, other.high) != (first.low, first.high)
    assert first.seed == 1 and first.method == "percentile" and first.confidence == 0.95


def test_accuracy_interval_matches_the_binomial_normal_approximation() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, size=n)
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    ci = bootstrap_classification(
        y, pred, classes=[0, 1], positive=1, metrics=["accuracy"], n_resamples=1000, seed=0
    )["accuracy"]
    se = np.sqrt(ci.estimate * (1 - ci.estimate) / n)
    assert ci.std == pytest.approx(se, rel=0.1)
    assert ci.low == pytest.approx(ci.estimate - 1.96 * se, abs=0.2 * se)
    assert ci.high == pytest.approx(ci.estimate + 1.96 * se, abs=0.2 * se)


def test_resamples_where_the_metric_is_undefined_are_counted_and_left_out() -> None:
    y = np.array([0] * 19 + [1])
    score = np.linspace(0.05, 0.95, 20)
    proba = np.column_stack([1 - score, score])
    ci = bootstrap_classification(
        y, None, proba, classes=[0, 1], positive=1, n_resamples=200, seed=0
    )["roc_auc"]
    undefined = np.isnan(ci.replicates)
    # a resample misses the single positive row with probability (19/20)^20 ≈ 0.36
    assert ci.n_undefined == int(undefined.sum()) and 40 < ci.n_undefined < 110
    assert ci.estimate == 1.0 and ci.low <= ci.high <= 1.0


def test_regression_resamples_equal_scikit_learn() -> None:
    rng = np.random.default_rng(6)
    y = rng.gamma(2.0, 3.0, size=250)
    pred = y + rng.normal(0, 1.5, size=250)
    result = bootstrap_regression(y, pred, n_resamples=B, seed=4)
    indices = np.random.default_rng(4).integers(0, 250, size=(B, 250))
    references = {
        "mae": skm.mean_absolute_error,
        "rmse": skm.root_mean_squared_error,
        "r2": skm.r2_score,
        "mape": skm.mean_absolute_percentage_error,
    }
    for name, metric in references.items():
        want = [metric(y[i], pred[i]) for i in indices]
        np.testing.assert_allclose(result[name].replicates, want, rtol=1e-10, err_msg=name)
        assert result[name].estimate == pytest.approx(metric(y, pred), abs=TOL)


def test_mape_with_a_zero_target_is_undefined_in_every_resample() -> None:
    ci = bootstrap_regression([0.0, 1.0, 2.0], [0.1, 1.0, 2.5], n_resamples=10, seed=0)["mape"]
    assert np.isnan(ci.estimate) and ci.n_undefined == 10 and np.isnan(ci.low)


def test_bad_settings_are_refused() -> None:
    y, pred, proba = _binary(n=20)
    with pytest.raises(ValueError) as info:
        bootstrap_classification(y, pred, classes=["no", "yes"], n_resamples=0, seed=0)
    assert str(info.value) == BAD_RESAMPLES.format(value=0)
    with pytest.raises(ValueError) as info:
        bootstrap_classification(y, pred, classes=["no", "yes"], confidence=95, seed=0)
    assert str(info.value) == BAD_CONFIDENCE.format(value=95)
    with pytest.raises(ValueError, match="Unknown classification metric 'auc'"):
        bootstrap_classification(y, pred, proba, classes=["no", "yes"], metrics=["auc"], seed=0)


def test_one_row_per_class_absent_from_a_resample_is_not_a_warning() -> None:
    """Tiny data: classes drop out of resamples; nan values, no warnings (they are errors)."""
    y = np.array(["a", "b", "c", "a"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = bootstrap_classification(
            y, y[::-1], classes=["a", "b", "c"], n_resamples=50, seed=0
        )
    assert 0 <= result["balanced_accuracy"].low <= result["balanced_accuracy"].high <= 1
