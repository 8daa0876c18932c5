"""Model metrics on a labelled test set: classification and regression.

Every value equals scikit-learn's function on the same data (the conformance tests hold
them to 1e-12) with one deliberate difference: a metric that is undefined on the data — ROC
AUC when ``y_true`` holds one class, precision with no predicted positives, R² of a constant
target — is ``nan``, never 0, and :class:`MetricValues` says why. Names are stable:
``*_error``/``*_loss`` and ``mae``/``rmse``/``mape`` are lower-is-better, the rest
higher-is-better. Definitions and rules: docs/model-metrics.md.

Example::

    from assay.stats.metrics import classification_metrics

    m = classification_metrics(y, y_hat, proba, classes=["no", "yes"], positive="yes")
    m["f1"], m.undefined        # 0.71..., {} (or {"precision": "no row was predicted ..."})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The classification metric names, in the order :func:`classification_metrics` reports them.
CLASSIFICATION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "pr_auc",
    "log_loss",
)
#: The metrics that need predicted probabilities.
PROBABILITY_METRICS = ("roc_auc", "pr_auc", "log_loss")
#: The regression metric names, in the order :func:`regression_metrics` reports them.
REGRESSION_METRICS = ("mae", "rmse", "r2", "mape")
#: Rows of ``proba`` must sum to 1 within this (absolute) tolerance.
PROBA_SUM_TOLERANCE = 1e-6

TOO_FEW_CLASSES = "classes must list at least two distinct labels; got {classes!r}."
DUPLICATE_CLASSES = "classes must list each label once; {label!r} appears more than once."
UNKNOWN_LABELS = (
    "{name} holds labels that are not in classes: {unknown} (classes: {classes}). "
    "Add them to classes or drop those rows."
)
POSITIVE_NOT_A_CLASS = "positive={positive!r} is not one of classes {classes!r}."
POSITIVE_NEEDS_TWO = (
    "positive= selects binary metrics and needs exactly two classes; got {count}: "
    "{classes!r}. Leave positive out for macro averages over all classes."
)
LENGTH_MISMATCH = "{name} has {got} rows but y_true has {n}. Pass one entry per row."
NOT_ONE_DIMENSIONAL = "{name} must be one-dimensional; got shape {shape}."
PROBA_SHAPE = (
    "proba must have shape (rows, classes) = ({n}, {k}), one column per entry of classes in "
    "that order; got {shape}."
)
PROBA_RANGE = "proba must hold probabilities in [0, 1]; found {value!r} (row {row})."
PROBA_SUM = (
    "Each row of proba must sum to 1 (within {tol}); row {row} sums to {total!r}. Pass "
    "predict_proba's output, one column per class."
)
NOT_FINITE = "{name} must hold finite numbers; row {row} is {value!r}."

# Reasons a metric is undefined (MetricValues.undefined) or averages fewer classes (notes).
NO_ROWS = "there are no rows"
NO_PROBA = "no predicted probabilities were given (proba=None)"
NO_PRED = "no predicted labels were given (y_pred=None)"
ONE_CLASS = "y_true holds only {present}; ROC AUC needs both positive and negative rows"
NO_PREDICTED = "no row was predicted {label!r} (precision = 0/0)"
NO_TRUE = "no row of y_true is {label!r} (recall = 0/0)"
NEITHER = "no row of y_true is {label!r} and none was predicted {label!r} (F1 = 0/0)"
NO_POSITIVE_ROWS = "no row of y_true is {label!r}; average precision needs positive rows"
MACRO_NONE = "undefined for every class: {reasons}"
MACRO_SOME = (
    "macro average over the {used} of {total} classes where it is defined; left out: {skipped}"
)
CONSTANT_TARGET = "y_true is constant (total sum of squares 0), so R² is 0/0"
ONE_ROW = "R² needs at least two rows"
ZERO_TARGET = "{count} of {n} targets are 0, where the percentage error is undefined"


@dataclass(frozen=True)
class MetricValues:
    """Metric values by name, and why any of them is undefined.

    ``values`` holds every metric the function computes, in its documented order; an
    undefined one is ``nan``. ``undefined`` maps each ``nan`` metric to the reason. ``notes``
    flags defined values computed from less than the whole: a macro average that left out
    classes where the per-class value is undefined (scikit-learn's
    ``zero_division=np.nan`` rule). Index it like a dict: ``m["f1"]``.
    """

    values: dict[str, float]
    undefined: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name]


@dataclass(frozen=True, eq=False)
class EncodedClassification:
    """Validated classification inputs as class indices (into ``classes``).

    ``positive`` is the positive class's index in binary mode, None for macro averages.
    """

    y_true: IntArray
    y_pred: IntArray | None
    proba: FloatArray | None
    classes: tuple[Any, ...]
    positive: int | None

    @property
    def k(self) -> int:
        return len(self.classes)


def encode_labels(values: Any, classes: Sequence[Any], *, name: str = "y_true") -> IntArray:
    """Each label's index in ``classes``; raises ValueError naming labels not in it."""
    array = _one_dimensional(values, name)
    ordered = np.asarray(list(classes))
    order = np.argsort(ordered, kind="stable")
    ranked = ordered[order]
    try:
        position = np.searchsorted(ranked, array)
        position = np.minimum(position, ranked.size - 1)
        found = ranked[position] == array
    except TypeError:  # labels and classes of incomparable types (str vs int)
        found = np.zeros(array.size, dtype=bool)
        position = np.zeros(array.size, dtype=np.int64)
    found = np.asarray(found, dtype=bool)
    if not found.all():
        unknown = sorted({repr(v) for v in array[~found].tolist()})
        shown = ", ".join(unknown[:5]) + (", …" if len(unknown) > 5 else "")
        raise ValueError(UNKNOWN_LABELS.format(name=name, unknown=shown, classes=list(classes)))
    return np.asarray(order[position], dtype=np.int64)


def encode_classification(
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    classes: Sequence[Any],
    positive: Any = None,
) -> EncodedClassification:
    """Check and encode the inputs of :func:`classification_metrics` (and the bootstrap).

    ``y_pred`` may be None (probability metrics only). Raises ValueError with the message
    templates of this module.
    """
    labels = tuple(classes)
    if len(labels) < 2:
        raise ValueError(TOO_FEW_CLASSES.format(classes=list(labels)))
    for i, label in enumerate(labels):
        if any(label == other for other in labels[:i]):
            raise ValueError(DUPLICATE_CLASSES.format(label=label))
    true_codes = encode_labels(y_true, labels, name="y_true")
    n = true_codes.size
    pred_codes = None
    if y_pred is not None:
        pred_codes = encode_labels(y_pred, labels, name="y_pred")
        if pred_codes.size != n:
            raise ValueError(LENGTH_MISMATCH.format(name="y_pred", got=pred_codes.size, n=n))
    positive_code = None
    if positive is not None:
        matches = [i for i, label in enumerate(labels) if label == positive]
        if not matches:
            raise ValueError(POSITIVE_NOT_A_CLASS.format(positive=positive, classes=list(labels)))
        if len(labels) != 2:
            raise ValueError(POSITIVE_NEEDS_TWO.format(count=len(labels), classes=list(labels)))
        positive_code = matches[0]
    probabilities = None if proba is None else check_proba(proba, n, len(labels))
    return EncodedClassification(true_codes, pred_codes, probabilities, labels, positive_code)


def check_proba(proba: Any, n: int, k: int) -> FloatArray:
    """``proba`` as an (n, k) float array of probabilities whose rows sum to 1."""
    array = np.asarray(proba, dtype=np.float64)
    if array.shape != (n, k):
        raise ValueError(PROBA_SHAPE.format(n=n, k=k, shape=array.shape))
    if array.size:
        bad = ~np.isfinite(array) | (array < 0.0) | (array > 1.0)
        if bad.any():
            row = int(np.argmax(bad.any(axis=1)))
            value = float(array[row][bad[row]][0])
            raise ValueError(PROBA_RANGE.format(value=value, row=row))
        totals = array.sum(axis=1)
        off = np.abs(totals - 1.0) > PROBA_SUM_TOLERANCE
        if off.any():
            row = int(np.argmax(off))
            raise ValueError(
                PROBA_SUM.format(tol=PROBA_SUM_TOLERANCE, row=row, total=float(totals[row]))
            )
    return array


def classification_metrics(
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    classes: Sequence[Any],
    positive: Any = None,
) -> MetricValues:
    """Accuracy, balanced accuracy, precision, recall, F1, ROC AUC, PR AUC and log loss.

    With ``positive`` (two classes only) precision, recall and F1 are the positive class's,
    and ROC AUC and PR AUC (average precision) rank rows by the positive class's column of
    ``proba``. Without it they are macro averages over ``classes``: ROC AUC and PR AUC
    one-vs-rest per class. ``proba`` is (rows × classes) in the order of ``classes``; without
    it the three probability metrics are ``nan``; without ``y_pred`` (None) the other five
    are. Labels may be any comparable values (strings, integers, booleans) but every label
    must be in ``classes``.
    """
    data = encode_classification(y_true, y_pred, proba, classes=classes, positive=positive)
    n = data.y_true.size
    if not n:
        return MetricValues(
            dict.fromkeys(CLASSIFICATION_METRICS, np.nan),
            dict.fromkeys(CLASSIFICATION_METRICS, NO_ROWS),
        )
    values: dict[str, float] = {}
    undefined: dict[str, str] = {}
    notes: dict[str, str] = {}
    if data.y_pred is None:
        for metric in CLASSIFICATION_METRICS:
            if metric not in PROBABILITY_METRICS:
                values[metric], undefined[metric] = np.nan, NO_PRED
    else:
        _label_metrics(data, values, undefined, notes)
    if data.proba is None:
        for metric in PROBABILITY_METRICS:
            values[metric] = np.nan
            undefined[metric] = NO_PROBA
    else:
        _ranking_metrics(data, values, undefined, notes)
        clipped = np.clip(data.proba[np.arange(n), data.y_true], _EPS, 1.0 - _EPS)
        values["log_loss"] = float(np.mean(-np.log(clipped)))
    ordered = {metric: values[metric] for metric in CLASSIFICATION_METRICS}
    return MetricValues(ordered, _ordered(undefined), _ordered(notes))


_EPS = float(np.finfo(np.float64).eps)


def _label_metrics(
    data: EncodedClassification,
    values: dict[str, float],
    undefined: dict[str, str],
    notes: dict[str, str],
) -> None:
    assert data.y_pred is not None
    n, k = data.y_true.size, data.k
    confusion = np.bincount(data.y_true * k + data.y_pred, minlength=k * k).reshape(k, k)
    true_sum = confusion.sum(axis=1).astype(np.float64)
    pred_sum = confusion.sum(axis=0).astype(np.float64)
    tp = np.diag(confusion).astype(np.float64)

    values["accuracy"] = float(tp.sum() / n)
    present = true_sum > 0
    values["balanced_accuracy"] = float(np.mean(tp[present] / true_sum[present]))

    precision = _divide(tp, pred_sum)
    recall = _divide(tp, true_sum)
    f1 = _divide(2.0 * tp, true_sum + pred_sum)
    reasons = {
        "precision": [NO_PREDICTED.format(label=c) for c in data.classes],
        "recall": [NO_TRUE.format(label=c) for c in data.classes],
        "f1": [NEITHER.format(label=c) for c in data.classes],
    }
    for metric, per_class in (("precision", precision), ("recall", recall), ("f1", f1)):
        if data.positive is not None:
            values[metric] = float(per_class[data.positive])
            if np.isnan(values[metric]):
                undefined[metric] = reasons[metric][data.positive]
        else:
            _macro(metric, per_class, reasons[metric], values, undefined, notes)


def _ordered(mapping: dict[str, str]) -> dict[str, str]:
    order = CLASSIFICATION_METRICS + REGRESSION_METRICS
    return {metric: mapping[metric] for metric in order if metric in mapping}


def _divide(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den elementwise, nan where den is 0 (no warning)."""
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _macro(
    metric: str,
    per_class: FloatArray,
    reasons: list[str],
    values: dict[str, float],
    undefined: dict[str, str],
    notes: dict[str, str],
) -> None:
    defined = ~np.isnan(per_class)
    if not defined.any():
        values[metric] = np.nan
        undefined[metric] = MACRO_NONE.format(reasons="; ".join(reasons))
        return
    values[metric] = float(np.mean(per_class[defined]))
    if not defined.all():
        skipped = "; ".join(reasons[i] for i in np.flatnonzero(~defined).tolist())
        notes[metric] = MACRO_SOME.format(
            used=int(defined.sum()), total=per_class.size, skipped=skipped
        )


def _ranking_metrics(
    data: EncodedClassification,
    values: dict[str, float],
    undefined: dict[str, str],
    notes: dict[str, str],
) -> None:
    assert data.proba is not None
    columns = [data.positive] if data.positive is not None else list(range(data.k))
    auc = np.full(len(columns), np.nan)
    ap = np.full(len(columns), np.nan)
    auc_reasons: list[str] = []
    ap_reasons: list[str] = []
    for j, c in enumerate(columns):
        groups, n_groups = score_groups(data.proba[:, c])
        is_c = data.y_true == c
        pos = np.bincount(groups[is_c], minlength=n_groups).astype(np.float64)
        neg = np.bincount(groups[~is_c], minlength=n_groups).astype(np.float64)
        auc[j] = auc_from_counts(pos, neg)
        ap[j] = average_precision_from_counts(pos, neg)
        label = data.classes[c]
        present = "rows of " + (repr(label) if is_c.any() else f"classes other than {label!r}")
        auc_reasons.append(ONE_CLASS.format(present=present))
        ap_reasons.append(NO_POSITIVE_ROWS.format(label=label))
    if data.positive is not None:
        values["roc_auc"], values["pr_auc"] = float(auc[0]), float(ap[0])
        if np.isnan(auc[0]):
            undefined["roc_auc"] = auc_reasons[0]
        if np.isnan(ap[0]):
            undefined["pr_auc"] = ap_reasons[0]
        return
    _macro("roc_auc", auc, auc_reasons, values, undefined, notes)
    _macro("pr_auc", ap, ap_reasons, values, undefined, notes)


def score_groups(scores: FloatArray) -> tuple[IntArray, int]:
    """Each score's tie group: the rank of its value among the distinct values (ascending)."""
    distinct, inverse = np.unique(scores, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).reshape(-1), int(distinct.size)


def auc_from_counts(pos: npt.NDArray[Any], neg: npt.NDArray[Any]) -> FloatArray:
    """ROC AUC from positive and negative counts per tie group, in ascending score order.

    The Mann–Whitney statistic: over positives, the share of negatives scored lower, a tied
    negative counting one half — what ``sklearn.metrics.roc_auc_score`` computes as the
    trapezoidal area. Works along the last axis (one row per resample) on integer counts
    (exact sums) or float weights; ``nan`` where either class has zero total.
    """
    below = np.cumsum(neg, axis=-1)
    below -= neg
    below *= 2
    below += neg  # twice (negatives below + half the tied ones)
    wins = np.einsum("...i,...i->...", pos, below)
    total = 2 * pos.sum(axis=-1) * neg.sum(axis=-1)
    return _divide(np.asarray(wins, dtype=np.float64), np.asarray(total, dtype=np.float64))


def average_precision_from_counts(pos: npt.NDArray[Any], neg: npt.NDArray[Any]) -> FloatArray:
    """Average precision from counts per tie group, in ascending score order.

    ``Σ_t (R_t − R_{t−1}) · P_t`` over thresholds t at each distinct score, from the highest
    down, as ``sklearn.metrics.average_precision_score`` (no interpolation). Along the last
    axis; ``nan`` where there are no positives.
    """
    tps = np.cumsum(pos[..., ::-1], axis=-1)[..., ::-1]  # positives scored >= each group
    predicted = np.cumsum(neg[..., ::-1], axis=-1)[..., ::-1]
    predicted += tps
    precision = np.zeros(np.shape(tps))
    np.divide(tps, predicted, out=precision, where=predicted > 0)
    hits = np.einsum("...i,...i->...", pos, precision)
    return _divide(
        np.asarray(hits, dtype=np.float64), np.asarray(pos.sum(axis=-1), dtype=np.float64)
    )


def _one_dimensional(values: Any, name: str) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(NOT_ONE_DIMENSIONAL.format(name=name, shape=array.shape))
    return array


def check_regression(y_true: Any, y_pred: Any) -> tuple[FloatArray, FloatArray]:
    """Both arrays as finite float64 vectors of one length."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        array = np.asarray(_one_dimensional(values, name), dtype=np.float64)
        bad = ~np.isfinite(array)
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(NOT_FINITE.format(name=name, row=row, value=float(array[row])))
        arrays.append(array)
    if arrays[1].size != arrays[0].size:
        raise ValueError(
            LENGTH_MISMATCH.format(name="y_pred", got=arrays[1].size, n=arrays[0].size)
        )
    return arrays[0], arrays[1]


def regression_metrics(y_true: Any, y_pred: Any) -> MetricValues:
    """MAE, RMSE, R² and MAPE.

    MAPE is ``mean(|y − ŷ| / max(|y|, ε))`` with ε the float64 machine epsilon, as
    ``sklearn.metrics.mean_absolute_percentage_error`` — but ``nan`` (undefined) when any
    target is exactly 0, where scikit-learn returns a huge number (|error| / 2.2e-16). It is
    a fraction, not a percentage: 0.1 means 10 %. R² is ``nan`` for a constant target or a
    single row (scikit-learn returns 1.0 or 0.0 for a constant target by default).
    """
    truth, pred = check_regression(y_true, y_pred)
    n = truth.size
    values: dict[str, float] = {}
    undefined: dict[str, str] = {}
    if not n:
        values = dict.fromkeys(REGRESSION_METRICS, np.nan)
        return MetricValues(values, dict.fromkeys(REGRESSION_METRICS, NO_ROWS))
    error = truth - pred
    values["mae"] = float(np.mean(np.abs(error)))
    values["rmse"] = float(np.sqrt(np.mean(error**2)))
    ss_tot = float(np.sum((truth - np.mean(truth)) ** 2))
    if n < 2:
        values["r2"], undefined["r2"] = np.nan, ONE_ROW
    elif ss_tot == 0.0:
        values["r2"], undefined["r2"] = np.nan, CONSTANT_TARGET
    else:
        values["r2"] = 1.0 - float(np.sum(error**2)) / ss_tot
    zeros = int(np.count_nonzero(truth == 0.0))
    if zeros:
        values["mape"], undefined["mape"] = np.nan, ZERO_TARGET.format(count=zeros, n=n)
    else:
        values["mape"] = float(np.mean(np.abs(error) / np.maximum(np.abs(truth), _EPS)))
    return MetricValues(values, _ordered(undefined))
