"""Bootstrap confidence intervals for model metrics, all resamples at once.

The resampling unit is the row: each of B resamples draws n rows with replacement from the
n rows of the test set. Resample b is row b of ``default_rng(seed).integers(0, n, (B, n))``
(:func:`resample_indices` yields exactly those rows, in chunks), so the same seed gives the
same resamples whatever the chunk size, and a plain loop can reproduce them.

The named metrics of :mod:`assay.stats.metrics` are evaluated without a Python loop over
resamples. A chunk of resamples becomes one ``np.bincount`` of a per-row key: confusion
cells ``true·k + predicted`` give every resample's confusion matrix (accuracy, balanced
accuracy, precision, recall, F1), and ``is-positive·G + tie group`` over the scores,
sorted once, gives per-resample positive and negative counts at each distinct score, from
which cumulative sums yield ROC AUC (the weighted Mann–Whitney statistic, ties counting
one half, as scikit-learn) and average precision. Per-row losses and errors are gathered
and averaged along the resample axis. Chunks hold at most ``max_chunk_bytes`` of indices
(8 MiB by default, at least one resample); the working memory is a small multiple of that.

The interval is the percentile interval: the (1 − confidence)/2 and (1 + confidence)/2
quantiles of the resampled values (``np.percentile``, linear interpolation), the choice of
``scipy.stats.bootstrap(method="percentile")``. Resamples where a metric is undefined (no
positive row drawn, for ROC AUC) are left out and counted. Details: docs/model-metrics.md.

Example::

    from assay.stats.bootstrap import bootstrap_classification

    cis = bootstrap_classification(y, y_hat, proba, classes=[0, 1], positive=1, seed=0)
    cis["roc_auc"].low, cis["roc_auc"].high
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.stats.metrics import (
    CLASSIFICATION_METRICS,
    PROBABILITY_METRICS,
    REGRESSION_METRICS,
    EncodedClassification,
    FloatArray,
    IntArray,
    auc_from_counts,
    average_precision_from_counts,
    check_regression,
    classification_metrics,
    encode_classification,
    regression_metrics,
    score_groups,
)

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
#: Upper bound on one chunk's (resamples × rows) int64 index matrix. A chunk's working memory
#: is a small multiple of it (about 6× for ROC AUC on distinct scores), so ~64 MB at the
#: default; smaller chunks also stay nearer the CPU caches, which measured faster.
DEFAULT_CHUNK_BYTES = 8 * 2**20

BAD_RESAMPLES = "n_resamples must be an int of at least 1; got {value!r}."
BAD_CONFIDENCE = "confidence must be a number in (0, 1), such as 0.95; got {value!r}."
BAD_CHUNK = "max_chunk_bytes must be a positive int; got {value!r}."
NO_ROWS = "A bootstrap needs at least one row; got none."
UNKNOWN_METRIC = "Unknown {kind} metric {name!r}; the metrics are {known}."
NEEDS_PREDICTIONS = "{name} needs y_pred; pass the predicted labels."
NO_ARRAYS = "bootstrap_ci needs at least one array to resample."
ARRAY_LENGTHS = "Every array must have one entry per row; got lengths {lengths}."


@dataclass(frozen=True)
class BootstrapResult:
    """A metric on the full data and its bootstrap percentile interval.

    ``estimate`` is the metric on all rows (not the mean of the resamples). ``low``/``high``
    bound the ``confidence`` percentile interval and ``std`` is the standard deviation
    (ddof=1) of the resampled values, both over the ``n_resamples − n_undefined`` resamples
    where the metric is defined; ``nan`` when fewer than one (``std``: two) are.
    ``replicates`` holds every resample's value in resample order (``nan`` where undefined).
    """

    metric: str
    estimate: float
    low: float
    high: float
    std: float
    n: int
    n_resamples: int
    n_undefined: int
    confidence: float
    seed: int
    method: str = "percentile"
    replicates: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)


def chunk_rows(n: int, max_chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Resamples per chunk: as many as fit an int64 (resamples × n) matrix in the budget."""
    return max(1, max_chunk_bytes // (8 * max(n, 1)))


def resample_indices(
    n: int, n_resamples: int, seed: int, *, rows: int | None = None
) -> Iterator[IntArray]:
    """The bootstrap's row indices, ``rows`` resamples at a time (one row per resample).

    Concatenated, the chunks equal ``np.random.default_rng(seed).integers(0, n,
    size=(n_resamples, n))`` for any ``rows``.
    """
    rng = np.random.default_rng(seed)
    step = rows if rows is not None else chunk_rows(n)
    for start in range(0, n_resamples, step):
        yield rng.integers(0, n, size=(min(step, n_resamples - start), n))


def bootstrap_classification(
    y_true: Any,
    y_pred: Any,
    proba: Any = None,
    *,
    classes: Sequence[Any],
    positive: Any = None,
    metrics: Sequence[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> dict[str, BootstrapResult]:
    """Percentile intervals for classification metrics, all over the same resamples.

    Arguments as :func:`assay.stats.metrics.classification_metrics`; ``metrics`` picks
    names from ``CLASSIFICATION_METRICS`` (default: every one the inputs allow — the
    probability metrics need ``proba``, the others ``y_pred``). Each resample's value
    equals scikit-learn's metric on ``y_true[idx]``, ``y_pred[idx]``, ``proba[idx]``
    (``labels=classes``, ``zero_division=np.nan``).
    """
    _check_settings(n_resamples, confidence, max_chunk_bytes)
    data = encode_classification(y_true, y_pred, proba, classes=classes, positive=positive)
    names = _classification_names(metrics, data)
    n = data.y_true.size
    if not n:
        raise ValueError(NO_ROWS)
    full = classification_metrics(y_true, y_pred, proba, classes=classes, positive=positive)
    replicates = {name: np.empty(n_resamples) for name in names}
    plan = _ClassificationPlan(data, names)
    start = 0
    for idx in resample_indices(n, n_resamples, seed, rows=chunk_rows(n, max_chunk_bytes)):
        for name, values in plan.evaluate(idx).items():
            replicates[name][start : start + idx.shape[0]] = values
        start += idx.shape[0]
    return {
        name: _summarise(name, full[name], replicates[name], n, confidence, seed) for name in names
    }


def bootstrap_regression(
    y_true: Any,
    y_pred: Any,
    *,
    metrics: Sequence[str] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> dict[str, BootstrapResult]:
    """Percentile intervals for MAE, RMSE, R² and MAPE (or the ``metrics`` named)."""
    _check_settings(n_resamples, confidence, max_chunk_bytes)
    names = list(REGRESSION_METRICS if metrics is None else metrics)
    for name in names:
        if name not in REGRESSION_METRICS:
            raise ValueError(
                UNKNOWN_METRIC.format(kind="regression", name=name, known=REGRESSION_METRICS)
            )
    truth, pred = check_regression(y_true, y_pred)
    n = truth.size
    if not n:
        raise ValueError(NO_ROWS)
    full = regression_metrics(truth, pred)
    error = truth - pred
    per_row = {"mae": np.abs(error), "rmse": error**2}
    if "mape" in names and not np.isnan(full["mape"]):
        per_row["mape"] = np.abs(error) / np.maximum(np.abs(truth), np.finfo(np.float64).eps)
    replicates = {name: np.full(n_resamples, np.nan) for name in names}
    start = 0
    for idx in resample_indices(n, n_resamples, seed, rows=chunk_rows(n, max_chunk_bytes)):
        stop = start + idx.shape[0]
        for name in names:
            if name == "r2":
                drawn = truth[idx]
                drawn -= drawn.mean(axis=1, keepdims=True)
                ss_tot = np.einsum("ij,ij->i", drawn, drawn)
                ss_res = per_row["rmse"][idx].sum(axis=1)
                replicates[name][start:stop] = 1.0 - _divide(ss_res, ss_tot)
            elif name in per_row:
                means = per_row[name][idx].mean(axis=1)
                replicates[name][start:stop] = np.sqrt(means) if name == "rmse" else means
        start = stop
    return {
        name: _summarise(name, full[name], replicates[name], n, confidence, seed) for name in names
    }


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: Any,
    name: str = "statistic",
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> BootstrapResult:
    """Percentile interval for any ``statistic(*arrays)``: the slow, general fallback.

    Calls ``statistic`` once per resample on the arrays indexed by that resample's rows (a
    Python loop: about B times the statistic's own cost), with the same resamples as the
    vectorised functions for the same seed and row count. A ``nan`` result marks the
    resample undefined. Use it for metrics without a vectorised form.
    """
    _check_settings(n_resamples, confidence, max_chunk_bytes)
    if not arrays:
        raise ValueError(NO_ARRAYS)
    columns = [np.asarray(a) for a in arrays]
    lengths = [len(a) for a in columns]
    if len(set(lengths)) != 1:
        raise ValueError(ARRAY_LENGTHS.format(lengths=lengths))
    n = lengths[0]
    if not n:
        raise ValueError(NO_ROWS)
    replicates = np.empty(n_resamples)
    b = 0
    for idx in resample_indices(n, n_resamples, seed, rows=chunk_rows(n, max_chunk_bytes)):
        for row in idx:
            replicates[b] = statistic(*(a[row] for a in columns))
            b += 1
    return _summarise(name, float(statistic(*columns)), replicates, n, confidence, seed)


def percentile_interval(replicates: FloatArray, confidence: float) -> tuple[float, float]:
    """The percentile interval of the defined (non-nan) replicates; nan if none."""
    defined = replicates[~np.isnan(replicates)]
    if not defined.size:
        return np.nan, np.nan
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(defined, [tail, 100.0 - tail])
    return float(low), float(high)


def _summarise(
    name: str, estimate: float, replicates: FloatArray, n: int, confidence: float, seed: int
) -> BootstrapResult:
    low, high = percentile_interval(replicates, confidence)
    defined = replicates[~np.isnan(replicates)]
    std = float(np.std(defined, ddof=1)) if defined.size > 1 else np.nan
    return BootstrapResult(
        metric=name,
        estimate=float(estimate),
        low=low,
        high=high,
        std=std,
        n=n,
        n_resamples=replicates.size,
        n_undefined=int(replicates.size - defined.size),
        confidence=confidence,
        seed=seed,
        replicates=replicates,
    )


def _check_settings(n_resamples: int, confidence: float, max_chunk_bytes: int) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(BAD_RESAMPLES.format(value=n_resamples))
    if not isinstance(confidence, float | int) or not 0.0 < confidence < 1.0:
        raise ValueError(BAD_CONFIDENCE.format(value=confidence))
    if isinstance(max_chunk_bytes, bool) or not isinstance(max_chunk_bytes, int):
        raise ValueError(BAD_CHUNK.format(value=max_chunk_bytes))
    if max_chunk_bytes < 1:
        raise ValueError(BAD_CHUNK.format(value=max_chunk_bytes))


def _classification_names(metrics: Sequence[str] | None, data: EncodedClassification) -> list[str]:
    if metrics is None:
        return [
            name
            for name in CLASSIFICATION_METRICS
            if (data.proba is not None if name in PROBABILITY_METRICS else data.y_pred is not None)
        ]
    names = list(metrics)
    for name in names:
        if name not in CLASSIFICATION_METRICS:
            raise ValueError(
                UNKNOWN_METRIC.format(
                    kind="classification", name=name, known=CLASSIFICATION_METRICS
                )
            )
        if name not in PROBABILITY_METRICS and data.y_pred is None:
            raise ValueError(NEEDS_PREDICTIONS.format(name=name))
    return names


def _divide(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _chunk_counts(keys: IntArray, idx: IntArray, size: int) -> IntArray:
    """Per resample (row of ``idx``), how many drawn rows have each key in [0, size)."""
    drawn = keys[idx]
    drawn += (np.arange(idx.shape[0], dtype=np.int64) * size)[:, None]
    counts = np.bincount(drawn.ravel(), minlength=idx.shape[0] * size)
    return np.asarray(counts.reshape(idx.shape[0], size), dtype=np.int64)


def _mean_defined(per_class: FloatArray) -> FloatArray:
    """Mean over the last axis of the non-nan entries; nan where none is defined."""
    defined = ~np.isnan(per_class)
    total = np.where(defined, per_class, 0.0).sum(axis=-1)
    return _divide(total, defined.sum(axis=-1).astype(np.float64))


class _ClassificationPlan:
    """Per-row keys computed once; :meth:`evaluate` turns a chunk of resamples into values."""

    def __init__(self, data: EncodedClassification, names: list[str]) -> None:
        self.data = data
        self.names = names
        k = data.k
        self.cells: IntArray | None = None
        if data.y_pred is not None and any(n not in PROBABILITY_METRICS for n in names):
            self.cells = data.y_true * k + data.y_pred
        self.rank_keys: list[tuple[IntArray, int]] = []
        if data.proba is not None and ("roc_auc" in names or "pr_auc" in names):
            columns = [data.positive] if data.positive is not None else range(k)
            for c in columns:
                groups, n_groups = score_groups(data.proba[:, c])
                keys = groups + n_groups * (data.y_true == c)
                self.rank_keys.append((keys, n_groups))
        self.losses: FloatArray | None = None
        if data.proba is not None and "log_loss" in names:
            eps = float(np.finfo(np.float64).eps)
            picked = data.proba[np.arange(data.y_true.size), data.y_true]
            self.losses = -np.log(np.clip(picked, eps, 1.0 - eps))

    def evaluate(self, idx: IntArray) -> dict[str, FloatArray]:
        data, k, n = self.data, self.data.k, idx.shape[1]
        out: dict[str, FloatArray] = {}
        if self.cells is not None:
            confusion = _chunk_counts(self.cells, idx, k * k).reshape(-1, k, k)
            tp = np.diagonal(confusion, axis1=1, axis2=2).astype(np.float64)
            true_sum = confusion.sum(axis=2).astype(np.float64)
            pred_sum = confusion.sum(axis=1).astype(np.float64)
            per_class = {
                "precision": _divide(tp, pred_sum),
                "recall": _divide(tp, true_sum),
                "f1": _divide(2.0 * tp, true_sum + pred_sum),
            }
            out["accuracy"] = tp.sum(axis=1) / n
            out["balanced_accuracy"] = _mean_defined(per_class["recall"])
            for name, values in per_class.items():
                out[name] = (
                    values[:, data.positive]
                    if data.positive is not None
                    else (_mean_defined(values))
                )
        if self.rank_keys:
            aucs, aps = [], []
            for keys, n_groups in self.rank_keys:
                counts = _chunk_counts(keys, idx, 2 * n_groups).reshape(-1, 2, n_groups)
                neg, pos = counts[:, 0, :], counts[:, 1, :]
                if "roc_auc" in self.names:
                    aucs.append(auc_from_counts(pos, neg))
                if "pr_auc" in self.names:
                    aps.append(average_precision_from_counts(pos, neg))
            if aucs:
                out["roc_auc"] = _mean_defined(np.stack(aucs, axis=1))
            if aps:
                out["pr_auc"] = _mean_defined(np.stack(aps, axis=1))
        if self.losses is not None:
            out["log_loss"] = self.losses[idx].mean(axis=1)
        return {name: out[name] for name in self.names}
