"""Attribute inference: how much a model's outputs reveal a sensitive attribute.

The attack predicts the attribute from what the attacker knows, once without and once with the
model's outputs; the advantage is the difference of the two ROC AUCs, with a paired bootstrap
interval (:func:`attribute_inference`). Methods and how to read the advantage:
docs/privacy-attacks.md#attribute-inference.

Example::

    from assay.stats.privacy_attacks import encode_table
    from assay.stats.privacy_attribute import attribute_inference

    result = attribute_inference(encode_table(known), proba, sex, seed=0)
    result.advantage, (result.low, result.high)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assay.stats.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    BootstrapResult,
    bootstrap_classification,
    percentile_interval,
)
from assay.stats.metrics import FloatArray, IntArray
from assay.stats.privacy_attacks import Encoded, attack_classifier, single_threaded

FEW_VALUES = "fewer than two values of the sensitive attribute have at least {folds} rows"


def logistic_classifier(categorical: Sequence[bool]) -> Any:
    """One of the attribute attacks: logistic regression on one-hot categories and standardised
    numbers (missing numbers: the median plus a missing indicator)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categories = [i for i, c in enumerate(categorical) if c]
    numbers = [i for i, c in enumerate(categorical) if not c]
    prepare = ColumnTransformer(
        [
            (
                "categories",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=-1.0),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categories,
            ),
            (
                "numbers",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numbers,
            ),
        ]
    )
    return make_pipeline(prepare, LogisticRegression(max_iter=1000))


ATTACKERS = ("logistic", "boosted_trees")
"""The attribute attacks (:func:`logistic_classifier`, :func:`~assay.stats.privacy_attacks.
attack_classifier`); each side of the comparison takes the better of the two."""


@dataclass(frozen=True)
class AttributeInference:
    """How well a sensitive attribute is inferred with and without the model's outputs.

    ``baseline`` and ``with_outputs`` are the ROC AUC of the cross-fitted attack (binary:
    of the second value; more values: the macro one-vs-rest mean) with their intervals;
    ``advantage = with_outputs − baseline`` and its paired interval ``low``–``high``.
    """

    values: tuple[Any, ...]
    baseline: BootstrapResult
    with_outputs: BootstrapResult
    advantage: float
    low: float
    high: float
    n: int
    folds: int
    dropped: dict[str, int]
    """Rows left out per reason (a missing value, a value with fewer than ``folds`` rows)."""
    attackers: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Each attacker's AUC without and with the outputs."""

    def to_json(self) -> dict[str, Any]:
        def side(r: BootstrapResult) -> dict[str, Any]:
            return {
                "roc_auc": _plain(r.estimate),
                "ci": [_plain(r.low), _plain(r.high)],
                "n_undefined_resamples": r.n_undefined,
            }

        return {
            "values": [str(v) for v in self.values],
            "metric": "roc_auc" if len(self.values) == 2 else "roc_auc (macro one-vs-rest)",
            "baseline": side(self.baseline),
            "with_outputs": side(self.with_outputs),
            "advantage": _plain(self.advantage),
            "advantage_ci": [_plain(self.low), _plain(self.high)],
            "rows": self.n,
            "folds": self.folds,
            "dropped": dict(self.dropped),
            "attackers": {
                name: {"baseline": _plain(a), "with_outputs": _plain(b)}
                for name, a, b in ((k, *v) for k, v in self.attackers.items())
            },
            "n_resamples": self.baseline.n_resamples,
            "confidence": self.baseline.confidence,
            "seed": self.baseline.seed,
        }


def cross_fitted_proba(
    attacker: str,
    x: FloatArray,
    categorical: Sequence[bool],
    y: IntArray,
    folds: list[tuple[Any, Any]],
    seed: int,
) -> FloatArray:
    """Out-of-fold class probabilities of one attacker (columns: the classes 0..k−1).

    Without any column to learn from, each fold predicts its training class shares.
    """
    k = int(y.max()) + 1
    out = np.zeros((y.size, k))
    for train, test in folds:
        if not x.shape[1]:
            out[test] = np.bincount(y[train], minlength=k) / train.size
            continue
        if attacker == "logistic":
            model = logistic_classifier(categorical)
        else:
            model = attack_classifier(seed, categorical)
        model.fit(x[train], y[train])
        classes = np.asarray(model.classes_, dtype=np.int64)
        out[np.ix_(test, classes)] = model.predict_proba(x[test])
    return out


def _better(results: list[BootstrapResult], confidence: float, seed: int) -> BootstrapResult:
    """The better of several attacks' AUCs, per resample as well (the max statistic)."""
    replicates = np.fmax.reduce([r.replicates for r in results])
    low, high = percentile_interval(replicates, confidence)
    defined = replicates[~np.isnan(replicates)]
    return BootstrapResult(
        metric="roc_auc",
        estimate=max(r.estimate for r in results),
        low=low,
        high=high,
        std=float(np.std(defined, ddof=1)) if defined.size > 1 else np.nan,
        n=results[0].n,
        n_resamples=replicates.size,
        n_undefined=int(replicates.size - defined.size),
        confidence=confidence,
        seed=seed,
        replicates=replicates,
    )


def attribute_inference(
    known: Encoded,
    outputs: Any,
    sensitive: Any,
    *,
    folds: int = 5,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int,
) -> AttributeInference | str:
    """The advantage the model's ``outputs`` give an attacker who knows ``known``.

    The attack predicts ``sensitive`` from ``known`` alone (the baseline) and from ``known``
    and ``outputs``. Each side is attacked by every one of ``ATTACKERS`` (logistic regression
    and gradient-boosted trees), cross-fitted on the same stratified folds (shuffled with
    ``seed``) so every row is scored by a model that did not see it, and scored by ROC AUC;
    a side's AUC is the better attacker's, resample by resample. Every bootstrap resample
    uses the same rows on both sides (same seed, same n), so the percentile interval of the
    per-resample differences is paired. Rows
    with a missing sensitive value, and values with fewer than ``folds`` rows, are left out.
    Returns the reason instead when fewer than two values remain. The attacks are fitted
    single-threaded (:func:`~assay.stats.privacy_attacks.single_threaded`).
    """
    from sklearn.model_selection import StratifiedKFold

    raw = np.asarray(sensitive, dtype=object)
    extra = np.asarray(outputs, dtype=np.float64).reshape(raw.size, -1)
    present = np.array([v is not None and v == v for v in raw.tolist()], dtype=bool)
    dropped = {"missing": int((~present).sum())}
    labels = np.array([str(v) for v in raw.tolist()], dtype=object)
    values, counts = np.unique(labels[present], return_counts=True)
    kept_values = values[counts >= folds]
    keep = present & np.isin(labels, kept_values)
    dropped["rare_value"] = int((present & ~keep).sum())
    if kept_values.size < 2:
        return FEW_VALUES.format(folds=folds)
    y = np.searchsorted(kept_values, labels[keep]).astype(np.int64)
    base_x = known.values[keep]
    full_x = np.column_stack([base_x, extra[keep]])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    split = list(splitter.split(np.zeros(y.size), y))
    classes = tuple(range(kept_values.size))
    positive = 1 if kept_values.size == 2 else None
    sides = []
    by_attacker: dict[str, list[float]] = {name: [] for name in ATTACKERS}
    for x, mask in (
        (base_x, known.categorical),
        (full_x, (*known.categorical, *([False] * extra.shape[1]))),
    ):
        results = []
        for attacker in ATTACKERS:
            with single_threaded():
                proba = cross_fitted_proba(attacker, x, mask, y, split, seed)
            result = bootstrap_classification(
                y,
                None,
                proba,
                classes=classes,
                positive=positive,
                metrics=["roc_auc"],
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            )["roc_auc"]
            results.append(result)
            by_attacker[attacker].append(result.estimate)
        sides.append(_better(results, confidence, seed))
    baseline, with_outputs = sides
    low, high = percentile_interval(with_outputs.replicates - baseline.replicates, confidence)
    return AttributeInference(
        values=tuple(kept_values.tolist()),
        baseline=baseline,
        with_outputs=with_outputs,
        advantage=with_outputs.estimate - baseline.estimate,
        low=low,
        high=high,
        n=int(y.size),
        folds=folds,
        dropped=dropped,
        attackers={k: (v[0], v[1]) for k, v in by_attacker.items()},
    )


def _plain(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


__all__ = [
    "ATTACKERS",
    "FEW_VALUES",
    "AttributeInference",
    "attribute_inference",
    "cross_fitted_proba",
    "logistic_classifier",
]
