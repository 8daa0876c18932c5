"""Calibration: do predicted probabilities match observed frequencies?

Two views of a classifier's probabilities:

* **binary** (``positive`` given): the positive class's probability against whether the
  row is positive — the reliability diagram of ``sklearn.calibration.calibration_curve``;
* **top-label** (no ``positive``; any number of classes): the largest probability in a row
  (the model's *confidence*) against whether the predicted class — the first class in
  ``classes`` order with that probability — is the true one (Guo et al., 2017).

Rows are binned by that probability, with ``n_bins`` equal-width bins over [0, 1]
(``strategy="uniform"``) or equal-mass bins at the probabilities' quantiles
(``"quantile"``). As in scikit-learn, bin i holds the probabilities p with
``edge[i] < p <= edge[i + 1]``, and the first bin also holds p at or below its lower edge.
Per non-empty bin b with n_b rows: mean predicted probability conf_b and observed frequency
acc_b. Then

* ECE = Σ_b (n_b / n) · |acc_b − conf_b| over non-empty bins (empty bins are skipped);
* MCE = max_b |acc_b − conf_b| over non-empty bins;
* Brier = mean over rows of Σ_c (p_c − 1[y = c])² over classes — for binary mode the
  positive class alone, mean (p − y)², which is ``sklearn.metrics.brier_score_loss``;
  multiclass it is the original [0, 2]-ranged score, sklearn's with ``scale_by_half="auto"``.

Details and conformance references: docs/model-metrics.md.

Example::

    from assay.stats.calibration import calibration

    result = calibration(y, proba, classes=[0, 1], positive=1, n_bins=10)
    result.ece, [(b.mean_predicted, b.observed, b.count) for b in result.bins]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from assay.stats.metrics import FloatArray, IntArray, encode_classification

Strategy = Literal["uniform", "quantile"]
STRATEGIES: tuple[Strategy, ...] = ("uniform", "quantile")
DEFAULT_BINS = 10

BAD_STRATEGY = "strategy must be one of {known}; got {value!r}."
BAD_BINS = "n_bins must be an int of at least 1; got {value!r}."
NO_ROWS = "Calibration needs at least one row; got none."
BAD_PROBABILITY = "probability must hold finite numbers in [0, 1]; row {row} is {value!r}."
OUTCOME_LENGTH = "outcome has {got} rows but probability has {n}. Pass one entry per row."
NOT_ONE_DIMENSIONAL = "{name} must be one-dimensional; got shape {shape}."


@dataclass(frozen=True)
class ReliabilityBin:
    """One non-empty bin of a reliability diagram.

    ``lower`` and ``upper`` are the bin's edges; ``mean_predicted`` the mean probability of
    its ``count`` rows and ``observed`` the share of them that are positive (binary) or
    correct (top-label).
    """

    lower: float
    upper: float
    mean_predicted: float
    observed: float
    count: int

    @property
    def gap(self) -> float:
        """|observed − mean_predicted|, this bin's calibration error."""
        return abs(self.observed - self.mean_predicted)


@dataclass(frozen=True)
class CalibrationResult:
    """ECE, MCE and Brier score of a classifier's probabilities, with the diagram's bins.

    ``kind`` is ``"binary"`` (the positive class's probability) or ``"top_label"`` (the
    largest probability against whether the prediction is correct). ``bins`` lists the
    non-empty bins in ascending order; ``n_bins`` is how many were asked for.
    """

    ece: float
    mce: float
    brier: float
    bins: tuple[ReliabilityBin, ...]
    n: int
    n_bins: int
    strategy: Strategy
    kind: Literal["binary", "top_label"]


def bin_edges(
    probability: FloatArray, *, n_bins: int = DEFAULT_BINS, strategy: Strategy = "uniform"
) -> FloatArray:
    """The ``n_bins + 1`` edges: ``linspace(0, 1)`` or the probabilities' quantiles.

    Quantile edges are ``np.percentile(probability, linspace(0, 1, n_bins + 1) * 100)``
    (linear interpolation), as scikit-learn; with many tied probabilities some coincide,
    leaving empty bins.
    """
    _check_settings(n_bins, strategy)
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    return np.asarray(
        np.percentile(probability, np.linspace(0.0, 1.0, n_bins + 1) * 100), dtype=np.float64
    )


def reliability_bins(
    probability: Any,
    outcome: Any,
    *,
    n_bins: int = DEFAULT_BINS,
    strategy: Strategy = "uniform",
) -> tuple[ReliabilityBin, ...]:
    """The non-empty bins of ``probability`` with each bin's observed frequency of ``outcome``.

    ``outcome`` is true (1) where the event the probability predicts happened.
    ``mean_predicted`` and ``observed`` equal ``calibration_curve(outcome, probability,
    n_bins=n_bins, strategy=strategy)``'s ``prob_pred`` and ``prob_true``.
    """
    p, hit = _check_inputs(probability, outcome)
    edges = bin_edges(p, n_bins=n_bins, strategy=strategy)
    ids = np.searchsorted(edges[1:-1], p)
    sums = np.bincount(ids, weights=p, minlength=n_bins)
    hits = np.bincount(ids, weights=hit, minlength=n_bins)
    counts = np.bincount(ids, minlength=n_bins)
    return tuple(
        ReliabilityBin(
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
            mean_predicted=float(sums[i] / counts[i]),
            observed=float(hits[i] / counts[i]),
            count=int(counts[i]),
        )
        for i in np.flatnonzero(counts).tolist()
    )


def expected_calibration_error(
    probability: Any,
    outcome: Any,
    *,
    n_bins: int = DEFAULT_BINS,
    strategy: Strategy = "uniform",
) -> float:
    """ECE: the count-weighted mean of |observed − mean predicted| over non-empty bins."""
    bins = reliability_bins(probability, outcome, n_bins=n_bins, strategy=strategy)
    return _ece(bins)


def maximum_calibration_error(
    probability: Any,
    outcome: Any,
    *,
    n_bins: int = DEFAULT_BINS,
    strategy: Strategy = "uniform",
) -> float:
    """MCE: the largest |observed − mean predicted| over non-empty bins."""
    bins = reliability_bins(probability, outcome, n_bins=n_bins, strategy=strategy)
    return max(b.gap for b in bins)


def top_label(y_true: IntArray, proba: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each row's confidence (largest probability) and 1.0 where its argmax is the truth.

    ``y_true`` holds class indices (columns of ``proba``); ties go to the first column.
    """
    predicted = np.argmax(proba, axis=1)
    confidence = proba[np.arange(proba.shape[0]), predicted]
    return confidence, (predicted == y_true).astype(np.float64)


def brier_score(y_true: Any, proba: Any, *, classes: Sequence[Any], positive: Any = None) -> float:
    """Brier score; with ``positive`` mean (p − y)² of the positive class's probability.

    Without ``positive``: mean over rows of Σ_c (p_c − 1[y = c])² (range [0, 2]), which for
    two classes is twice the binary score.
    """
    data = encode_classification(y_true, None, proba, classes=classes, positive=positive)
    assert data.proba is not None
    if not data.y_true.size:
        raise ValueError(NO_ROWS)
    return _brier(data.y_true, data.proba, data.positive)


def calibration(
    y_true: Any,
    proba: Any,
    *,
    classes: Sequence[Any],
    positive: Any = None,
    n_bins: int = DEFAULT_BINS,
    strategy: Strategy = "uniform",
) -> CalibrationResult:
    """ECE, MCE, Brier score and reliability bins of ``proba`` (rows × ``classes``).

    With ``positive`` (two classes) the binary view, else top-label (see the module
    docstring). Inputs are checked as for :func:`assay.stats.metrics.classification_metrics`.
    """
    _check_settings(n_bins, strategy)
    data = encode_classification(y_true, None, proba, classes=classes, positive=positive)
    assert data.proba is not None
    if not data.y_true.size:
        raise ValueError(NO_ROWS)
    if data.positive is not None:
        probability = data.proba[:, data.positive]
        outcome = (data.y_true == data.positive).astype(np.float64)
    else:
        probability, outcome = top_label(data.y_true, data.proba)
    bins = reliability_bins(probability, outcome, n_bins=n_bins, strategy=strategy)
    return CalibrationResult(
        ece=_ece(bins),
        mce=max(b.gap for b in bins),
        brier=_brier(data.y_true, data.proba, data.positive),
        bins=bins,
        n=int(data.y_true.size),
        n_bins=n_bins,
        strategy=strategy,
        kind="binary" if data.positive is not None else "top_label",
    )


def _ece(bins: tuple[ReliabilityBin, ...]) -> float:
    n = sum(b.count for b in bins)
    return float(sum(b.count * b.gap for b in bins) / n)


def _brier(y_true: IntArray, proba: FloatArray, positive: int | None) -> float:
    if positive is not None:
        hit = (y_true == positive).astype(np.float64)
        return float(np.mean((proba[:, positive] - hit) ** 2))
    diff = proba.copy()
    diff[np.arange(y_true.size), y_true] -= 1.0
    return float(np.mean(np.einsum("ij,ij->i", diff, diff)))


def _check_settings(n_bins: int, strategy: str) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(BAD_BINS.format(value=n_bins))
    if strategy not in STRATEGIES:
        raise ValueError(BAD_STRATEGY.format(known=STRATEGIES, value=strategy))


def _check_inputs(probability: Any, outcome: Any) -> tuple[FloatArray, FloatArray]:
    p = np.asarray(probability, dtype=np.float64)
    hit = np.asarray(outcome, dtype=np.float64)
    for name, array in (("probability", p), ("outcome", hit)):
        if array.ndim != 1:
            raise ValueError(NOT_ONE_DIMENSIONAL.format(name=name, shape=array.shape))
    if hit.size != p.size:
        raise ValueError(OUTCOME_LENGTH.format(got=hit.size, n=p.size))
    if not p.size:
        raise ValueError(NO_ROWS)
    bad = ~np.isfinite(p) | (p < 0.0) | (p > 1.0)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(BAD_PROBABILITY.format(row=row, value=float(p[row])))
    return p, hit
