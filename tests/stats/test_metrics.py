"""Model metrics: equal to scikit-learn on the same data; undefined is nan with a reason."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from assay.stats.metrics import (
    CLASSIFICATION_METRICS,
    CONSTANT_TARGET,
    MACRO_SOME,
    NO_POSITIVE_ROWS,
    NO_PREDICTED,
    NO_PROBA,
    NO_ROWS,
    NO_TRUE,
    ONE_CLASS,
    POSITIVE_NEEDS_TWO,
    PROBA_SUM,
    REGRESSION_METRICS,
    UNKNOWN_LABELS,
    ZERO_TARGET,
    classification_metrics,
    regression_metrics,
)

TOL = 1e-12


def _proba(rng: np.random.Generator, y: np.ndarray[Any, Any], classes: list[Any], *, ties: bool):
    """Probabilities that lean towards the truth; rounded to 1 decimal (ties) or not."""
    k = len(classes)
    logits = rng.normal(size=(y.size, k))
    logits[np.arange(y.size), [classes.index(v) for v in y.tolist()]] += 1.0
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if ties:
        proba = np.round(proba, 1)
        proba[:, -1] = 1.0 - proba[:, :-1].sum(axis=1)
        proba = np.clip(proba, 0.0, 1.0)
        proba /= proba.sum(axis=1, keepdims=True)
    return proba


def _datasets() -> list[tuple[str, Any, Any, Any, list[Any], Any]]:
    """(name, y_true, y_pred, proba, classes, positive)."""
    rng = np.random.default_rng(20240611)
    out = []
    specs: list[tuple[str, list[Any], Any, int, bool]] = [
        ("binary_int", [0, 1], 1, 400, False),
        ("binary_str_ties", ["no", "yes"], "yes", 300, True),
        ("binary_bool_positive_first", [True, False], True, 250, True),
        ("binary_macro", ["a", "b"], None, 200, False),
        ("three_str", ["cat", "dog", "eel"], None, 500, False),
        ("four_int_ties", [3, 1, 2, 0], None, 350, True),
        ("small", ["x", "y", "z"], None, 12, True),
    ]
    for name, classes, positive, n, ties in specs:
        weights = rng.dirichlet(np.ones(len(classes)) * 3)
        y = np.array(classes, dtype=object)[rng.choice(len(classes), size=n, p=weights)]
        if name == "small":
            y[:3] = classes  # every class present
        y = np.array(y.tolist())
        proba = _proba(rng, y, classes, ties=ties)
        pred = np.array(classes)[np.argmax(proba, axis=1)]
        flip = rng.random(n) < 0.1
        pred[flip] = np.array(classes)[rng.integers(0, len(classes), size=int(flip.sum()))]
        out.append((name, y, pred, proba, classes, positive))
    return out


DATASETS = _datasets()


def _reference(y: Any, pred: Any, proba: Any, classes: list[Any], positive: Any):
    """scikit-learn's values for the same definitions."""
    # scikit-learn takes probability columns in sorted label order.
    order = sorted(range(len(classes)), key=lambda i: classes[i])
    sorted_classes, sorted_proba = [classes[i] for i in order], proba[:, order]
    ref = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "log_loss": skm.log_loss(y, sorted_proba, labels=sorted_classes),
    }
    if positive is not None:
        common = {"pos_label": positive, "zero_division": np.nan}
        ref["precision"] = skm.precision_score(y, pred, **common)
        ref["recall"] = skm.recall_score(y, pred, **common)
        ref["f1"] = skm.f1_score(y, pred, **common)
        column = proba[:, classes.index(positive)]
        ref["roc_auc"] = skm.roc_auc_score(y == positive, column)
        ref["pr_auc"] = skm.average_precision_score(y, column, pos_label=positive)
        return ref
    macro = {"average": "macro", "labels": classes, "zero_division": np.nan}
    ref["precision"] = skm.precision_score(y, pred, **macro)
    ref["recall"] = skm.recall_score(y, pred, **macro)
    ref["f1"] = skm.f1_score(y, pred, **macro)
    onehot = np.stack([y == c for c in classes], axis=1).astype(int)
    if len(classes) > 2:
        ref["roc_auc"] = skm.roc_auc_score(
            y, sorted_proba, multi_class="ovr", average="macro", labels=sorted_classes
        )
    else:
        ref["roc_auc"] = np.mean([skm.roc_auc_score(onehot[:, c], proba[:, c]) for c in (0, 1)])
    ref["pr_auc"] = skm.average_precision_score(onehot, proba, average="macro")
    return ref


@pytest.mark.parametrize("dataset", DATASETS, ids=[d[0] for d in DATASETS])
def test_classification_metrics_equal_scikit_learn(dataset: Any) -> None:
    _, y, pred, proba, classes, positive = dataset
    result = classification_metrics(y, pred, proba, classes=classes, positive=positive)
    assert list(result.values) == list(CLASSIFICATION_METRICS)
    assert result.undefined == {} and result.notes == {}
    for name, expected in _reference(y, pred, proba, classes, positive).items():
        assert result[name] == pytest.approx(expected, abs=TOL, rel=TOL), name


@pytest.mark.parametrize("dataset", DATASETS, ids=[d[0] for d in DATASETS])
def test_metrics_do_not_depend_on_row_order(dataset: Any) -> None:
    _, y, pred, proba, classes, positive = dataset
    order = np.random.default_rng(1).permutation(y.size)
    a = classification_metrics(y, pred, proba, classes=classes, positive=positive)
    b = classification_metrics(
        y[order], pred[order], proba[order], classes=classes, positive=positive
    )
    for name in CLASSIFICATION_METRICS:
        assert b[name] == pytest.approx(a[name], abs=TOL), name


def test_without_proba_the_probability_metrics_are_undefined() -> None:
    _, y, pred, _, classes, positive = DATASETS[0]
    result = classification_metrics(y, pred, classes=classes, positive=positive)
    for name in ("roc_auc", "pr_auc", "log_loss"):
        assert np.isnan(result[name]) and result.undefined[name] == NO_PROBA
    assert not np.isnan(result["f1"])


def test_no_predicted_positive_makes_precision_nan_not_zero() -> None:
    y = np.array([0, 1, 1, 0, 1])
    pred = np.zeros(5, dtype=int)
    result = classification_metrics(y, pred, classes=[0, 1], positive=1)
    assert np.isnan(result["precision"])
    assert result.undefined["precision"] == NO_PREDICTED.format(label=1)
    assert result["recall"] == 0.0 and result["f1"] == 0.0  # defined: 0 / 3 and 0 / 3
    assert np.isnan(skm.precision_score(y, pred, zero_division=np.nan))


def test_one_class_in_y_true_makes_roc_auc_and_recall_undefined() -> None:
    y = np.array(["no"] * 6)
    pred = np.array(["no", "yes", "no", "no", "yes", "no"])
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.8, 0.2], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5]])
    result = classification_metrics(y, pred, proba, classes=["no", "yes"], positive="yes")
    assert result.undefined == {
        "recall": NO_TRUE.format(label="yes"),
        "roc_auc": ONE_CLASS.format(present="rows of classes other than 'yes'"),
        "pr_auc": NO_POSITIVE_ROWS.format(label="yes"),
    }
    assert result["precision"] == 0.0 and result["f1"] == 0.0  # 0 / 2 predicted, 0 / (0 + 2)
    assert result["accuracy"] == pytest.approx(4 / 6)


def test_macro_average_leaves_out_undefined_classes_and_says_so() -> None:
    """A class never predicted: precision averages the others (zero_division=np.nan)."""
    y = np.array(["a", "b", "c", "a", "b", "c", "a"])
    pred = np.array(["a", "b", "b", "a", "a", "b", "a"])
    classes = ["a", "b", "c"]
    result = classification_metrics(y, pred, classes=classes)
    expected = skm.precision_score(y, pred, average="macro", labels=classes, zero_division=np.nan)
    assert result["precision"] == pytest.approx(expected, abs=TOL)
    assert result.notes["precision"] == MACRO_SOME.format(
        used=2, total=3, skipped=NO_PREDICTED.format(label="c")
    )
    assert "precision" not in result.undefined
    assert result["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=TOL)


def test_no_rows_gives_every_metric_nan() -> None:
    result = classification_metrics([], [], np.zeros((0, 2)), classes=[0, 1], positive=1)
    assert all(np.isnan(v) for v in result.values.values())
    assert result.undefined == dict.fromkeys(CLASSIFICATION_METRICS, NO_ROWS)


def test_bad_inputs_are_refused_with_the_templates() -> None:
    with pytest.raises(ValueError) as info:
        classification_metrics([0, 1, 2], [0, 1, 1], classes=[0, 1])
    assert str(info.value) == UNKNOWN_LABELS.format(name="y_true", unknown="2", classes=[0, 1])
    with pytest.raises(ValueError) as info:
        classification_metrics([0, 1], [0, 1], classes=[0, 1, 2], positive=1)
    assert str(info.value) == POSITIVE_NEEDS_TWO.format(count=3, classes=[0, 1, 2])
    with pytest.raises(ValueError) as info:
        classification_metrics([0, 1], [0, 1], [[0.5, 0.6], [0.5, 0.5]], classes=[0, 1])
    assert str(info.value) == PROBA_SUM.format(tol=1e-6, row=0, total=1.1)
    with pytest.raises(ValueError, match="shape"):
        classification_metrics([0, 1], [0, 1], [[0.5, 0.5]], classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes"):
        classification_metrics(["a", "b"], ["a", "b"], classes=[0, 1])


def _regression_sets() -> list[tuple[str, Any, Any]]:
    rng = np.random.default_rng(7)
    y = rng.normal(10, 3, size=500)
    ints = rng.integers(1, 20, size=300).astype(float)
    return [
        ("normal", y, y + rng.normal(0, 1, size=500)),
        ("integers_ties", ints, np.round(ints + rng.normal(0, 2, size=300))),
        ("negative_and_tiny", -np.abs(y) * 1e-3, -np.abs(y) * 1e-3 + 1e-4),
        ("two_rows", np.array([1.0, 3.0]), np.array([2.0, 2.0])),
    ]


@pytest.mark.parametrize("data", _regression_sets(), ids=lambda d: d[0])
def test_regression_metrics_equal_scikit_learn(data: Any) -> None:
    _, y, pred = data
    result = regression_metrics(y, pred)
    assert list(result.values) == list(REGRESSION_METRICS) and result.undefined == {}
    expected = {
        "mae": skm.mean_absolute_error(y, pred),
        "rmse": skm.root_mean_squared_error(y, pred),
        "r2": skm.r2_score(y, pred),
        "mape": skm.mean_absolute_percentage_error(y, pred),
    }
    for name, value in expected.items():
        assert result[name] == pytest.approx(value, abs=TOL, rel=TOL), name


def test_r2_of_a_constant_target_and_mape_with_zero_targets_are_undefined() -> None:
    result = regression_metrics([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert np.isnan(result["r2"]) and result.undefined["r2"] == CONSTANT_TARGET
    assert result["mae"] == pytest.approx(2 / 3)
    zeros = regression_metrics([0.0, 1.0, 2.0, 0.0], [0.5, 1.0, 2.5, 0.0])
    assert np.isnan(zeros["mape"])
    assert zeros.undefined["mape"] == ZERO_TARGET.format(count=2, n=4)
    assert zeros["r2"] == pytest.approx(skm.r2_score([0.0, 1.0, 2.0, 0.0], [0.5, 1.0, 2.5, 0.0]))
