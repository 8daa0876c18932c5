"""Multivariate drift: can a classifier tell current rows from reference rows?

A gradient-boosted classifier learns to label rows "reference" (0) or "current" (1); its
out-of-fold ROC AUC measures how separable the two samples are. 0.5 means they look alike;
1.0 means every current row is recognisable. Unlike per-column tests this also sees changed
relationships between columns. Exclude identifiers and timestamps first: they separate the
samples trivially.

Example::

    from assay.stats import domain_classifier

    result = domain_classifier(reference_sample, current_sample, seed=0)
    result.auc, (result.ci_low, result.ci_high)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from assay._arrow import bools, floats_or_nan, int64_array
from assay.stats._boosting import HistGradientBoosting, IntArray
from assay.stats.distributions import FloatArray

#: Suggested rule: drift when the AUC is at least this and its CI lies above 0.5.
DEFAULT_AUC_THRESHOLD = 0.55
#: Strings with more distinct values than this are encoded as a frequency rank instead of as
#: categories (the model's category codes are 0..253; one more bin holds missing values).
MAX_CATEGORIES = 254
#: Bins per numeric feature of the model. scikit-learn's default is 255; 63 kept the AUCs as
#: close to scikit-learn's in less than half the time (docs/drift-statistics.md).
MAX_BINS = 63

COLUMNS_DIFFER = (
    "The domain classifier needs the same columns on both sides; only in the reference: "
    "{ref_only}; only in the current data: {cur_only}. Select the shared columns first."
)
TOO_FEW_ROWS = (
    "The domain classifier needs at least {need} rows on each side for {folds}-fold "
    "cross-validation; got {n_ref} reference and {n_cur} current rows."
)
NO_FEATURES = (
    "The domain classifier found no usable column (numeric, boolean, string or temporal) "
    "among {columns}."
)


@dataclass(frozen=True)
class DomainClassifierResult:
    """The held-out ROC AUC of reference-vs-current, with a bootstrap interval.

    ``auc`` is the mean of the per-fold AUCs (``fold_aucs``), each computed on the fold's
    held-out rows by the model that did not see them. Averaging per fold rather than pooling
    every fold's scores keeps the AUC unbiased when nothing drifted (pooled out-of-fold
    scores from different models come out below 0.5, about 0.49 at 2 × 5,000 rows).
    ``ci_low`` and ``ci_high`` are the percentile interval of that mean over ``n_bootstrap``
    resamples of each fold's held-out scores, drawn per fold and class (the models are not
    refitted: the interval reflects evaluation noise, which under no drift is all the noise
    there is). ``features`` were used; ``skipped`` had types the encoder cannot use (lists,
    structs, binary).
    """

    auc: float
    ci_low: float
    ci_high: float
    confidence: float
    n_ref: int
    n_cur: int
    n_splits: int
    n_bootstrap: int
    seed: int
    fold_aucs: tuple[float, ...]
    features: tuple[str, ...]
    skipped: tuple[str, ...]

    def drifted(self, threshold: float = DEFAULT_AUC_THRESHOLD) -> bool:
        """True when the AUC reaches ``threshold`` and its interval excludes 0.5."""
        return self.auc >= threshold and self.ci_low > 0.5


def domain_classifier(
    ref: pa.Table,
    cur: pa.Table,
    *,
    seed: int,
    n_splits: int = 2,
    max_iter: int = 100,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    max_rows: int = 5000,
) -> DomainClassifierResult:
    """Fit a reference-vs-current classifier and report its held-out ROC AUC (mean over folds).

    Rows beyond ``max_rows`` per side are subsampled without replacement (seeded). Columns are
    encoded by :func:`encode_tables`. The model is
    ``assay.stats._boosting.HistGradientBoosting`` (scikit-learn's
    ``HistGradientBoostingClassifier`` algorithm in NumPy) with ``max_iter`` trees and
    ``MAX_BINS`` bins, scored out of fold on a stratified split: each side's rows are shuffled
    and dealt round-robin into ``n_splits`` folds. Every random step draws from
    ``np.random.default_rng(seed)`` and the model has none, so the same tables and seed give
    the same result.

    The stages are public so that folds can be fitted in different processes with the same
    result: :func:`prepare_folds`, :func:`fit_folds` (any folds, anywhere), then
    :func:`finish_folds`.
    """
    folds = prepare_folds(
        ref,
        cur,
        seed=seed,
        n_splits=n_splits,
        max_iter=max_iter,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        max_rows=max_rows,
    )
    return finish_folds(folds, fit_folds(folds, range(n_splits)))


@dataclass(frozen=True)
class Folds:
    """Encoded, labelled and folded samples, ready to fit (picklable, ~8 bytes per cell)."""

    features: FloatArray
    categorical: npt.NDArray[np.bool_]
    labels: FloatArray
    fold: IntArray
    names: tuple[str, ...]
    skipped: tuple[str, ...]
    n_ref: int
    n_cur: int
    seed: int
    n_splits: int
    max_iter: int
    n_bootstrap: int
    confidence: float
    rng_state: dict[str, Any]  # the generator after the folds were dealt: the bootstrap's


def prepare_folds(
    ref: pa.Table,
    cur: pa.Table,
    *,
    seed: int,
    n_splits: int = 2,
    max_iter: int = 100,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    max_rows: int = 5000,
) -> Folds:
    """Subsample, encode and fold the two samples (see :func:`domain_classifier`)."""
    ref_only = sorted(set(ref.column_names) - set(cur.column_names))
    cur_only = sorted(set(cur.column_names) - set(ref.column_names))
    if ref_only or cur_only:
        raise ValueError(COLUMNS_DIFFER.format(ref_only=ref_only, cur_only=cur_only))
    rng = np.random.default_rng(seed)
    ref, cur = _subsample(ref, max_rows, rng), _subsample(cur, max_rows, rng)
    if min(ref.num_rows, cur.num_rows) < n_splits:
        raise ValueError(
            TOO_FEW_ROWS.format(
                need=n_splits, folds=n_splits, n_ref=ref.num_rows, n_cur=cur.num_rows
            )
        )
    features, categorical, names, skipped = encode_tables(ref, cur)
    if not names:
        raise ValueError(NO_FEATURES.format(columns=ref.column_names))
    labels = np.concatenate([np.zeros(ref.num_rows), np.ones(cur.num_rows)])
    fold = _stratified_folds(labels, n_splits, rng)
    return Folds(
        features=features,
        categorical=np.asarray(categorical, dtype=bool),
        labels=labels,
        fold=fold,
        names=tuple(names),
        skipped=tuple(skipped),
        n_ref=ref.num_rows,
        n_cur=cur.num_rows,
        seed=seed,
        n_splits=n_splits,
        max_iter=max_iter,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        rng_state=dict(rng.bit_generator.state),
    )


def fit_folds(folds: Folds, ks: Sequence[int]) -> list[tuple[FloatArray, FloatArray]]:
    """For each fold ``k`` in ``ks``, fit on every other fold (the models together, with
    ``fit_many``) and return fold ``k``'s held-out scores of current and of reference rows."""
    template = HistGradientBoosting(max_iter=folds.max_iter, max_bins=MAX_BINS)
    models = template.fit_many(
        folds.features, folds.labels, folds.categorical, [folds.fold != k for k in ks]
    )
    out = []
    for k, model in zip(ks, models, strict=True):
        test = folds.fold == k
        scores = model.predict_proba_positive(folds.features[test])
        held_out = folds.labels[test]
        out.append((scores[held_out == 1], scores[held_out == 0]))
    return out


def finish_folds(
    folds: Folds, scores: Sequence[tuple[FloatArray, FloatArray]]
) -> DomainClassifierResult:
    """The result from every fold's held-out scores (:func:`fit_folds`), in fold order."""
    rng = np.random.default_rng()
    rng.bit_generator.state = folds.rng_state
    fold_aucs: list[float] = []
    boot = np.zeros(folds.n_bootstrap)
    for positive, negative in scores:
        ones = (np.ones((1, positive.size)), np.ones((1, negative.size)))
        fold_aucs.append(float(weighted_auc(positive, negative, *ones)[0]))
        boot += bootstrap_auc(positive, negative, folds.n_bootstrap, rng)
    boot /= folds.n_splits
    tail = (1.0 - folds.confidence) / 2.0 * 100.0
    low, high = np.percentile(boot, [tail, 100.0 - tail])
    return DomainClassifierResult(
        auc=float(np.mean(fold_aucs)),
        ci_low=float(low),
        ci_high=float(high),
        confidence=folds.confidence,
        n_ref=folds.n_ref,
        n_cur=folds.n_cur,
        n_splits=folds.n_splits,
        n_bootstrap=folds.n_bootstrap,
        seed=folds.seed,
        fold_aucs=tuple(fold_aucs),
        features=folds.names,
        skipped=folds.skipped,
    )


def _stratified_folds(labels: FloatArray, n_splits: int, rng: np.random.Generator) -> IntArray:
    """A fold number per row: each class's rows in random order, dealt round-robin."""
    fold = np.empty(labels.size, dtype=np.intp)
    for value in (0.0, 1.0):
        rows = np.flatnonzero(labels == value)
        fold[rng.permutation(rows)] = np.arange(rows.size) % n_splits
    return fold


def _subsample(table: pa.Table, max_rows: int, rng: np.random.Generator) -> pa.Table:
    if table.num_rows <= max_rows:
        return table
    keep = np.sort(rng.choice(table.num_rows, size=max_rows, replace=False))
    return table.take(int64_array(keep))


def encode_tables(
    ref: pa.Table, cur: pa.Table
) -> tuple[FloatArray, npt.NDArray[np.bool_], list[str], list[str]]:
    """Encode both tables' rows as one float matrix (reference rows first).

    Numbers and temporal values become floats (nulls and ±inf become NaN); booleans 0/1;
    strings, and columns whose type differs between the sides, become category codes ranked
    by combined frequency (ties by value), so codes do not depend on row order. Up to
    ``MAX_CATEGORIES`` codes the column is marked categorical; beyond, the frequency rank is
    used as a number. Returns the matrix, the categorical mask, used and skipped columns.
    """
    columns: list[FloatArray] = []
    categorical: list[bool] = []
    names: list[str] = []
    skipped: list[str] = []
    for name in ref.column_names:
        a, b = ref.column(name), cur.column(name)
        encoded = _encode_numeric(a, b)
        is_categorical = False
        if encoded is None:
            categories = _encode_categories(a, b)
            if categories is not None:
                encoded, count = categories
                is_categorical = count <= MAX_CATEGORIES
        if encoded is None:
            skipped.append(name)
            continue
        columns.append(encoded)
        categorical.append(is_categorical)
        names.append(name)
    rows = ref.num_rows + cur.num_rows
    matrix = np.column_stack(columns) if columns else np.zeros((rows, 0))
    return matrix, np.array(categorical, dtype=bool), names, skipped


def _numeric_like(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_temporal(kind)
    )


def _to_float(column: pa.ChunkedArray) -> FloatArray:
    kind = column.type
    if pa.types.is_temporal(kind):
        column = pc.cast(column, pa.int32() if kind.bit_width == 32 else pa.int64())
    values = floats_or_nan(pc.cast(column, pa.float64()))
    values[~np.isfinite(values)] = np.nan
    return values


def _encode_numeric(a: pa.ChunkedArray, b: pa.ChunkedArray) -> FloatArray | None:
    if not (_numeric_like(a.type) and _numeric_like(b.type)):
        return None
    if pa.types.is_temporal(a.type) != pa.types.is_temporal(b.type):
        return None
    try:
        if pa.types.is_temporal(a.type) and a.type != b.type:
            b = pc.cast(b, a.type)  # one unit for both sides (seconds vs milliseconds)
        return np.concatenate([_to_float(a), _to_float(b)])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _encode_categories(a: pa.ChunkedArray, b: pa.ChunkedArray) -> tuple[FloatArray, int] | None:
    try:
        texts = [pc.cast(a, pa.large_string()), pc.cast(b, pa.large_string())]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    combined = pa.chunked_array(texts[0].chunks + texts[1].chunks, type=pa.large_string())
    encoded = pc.dictionary_encode(combined).combine_chunks()
    dictionary = encoded.dictionary.to_pylist()
    valid = bools(encoded.indices.is_valid())
    indices = floats_or_nan(encoded.indices)
    counts = np.bincount(indices[valid].astype(np.int64), minlength=len(dictionary))
    ranked = sorted(range(len(dictionary)), key=lambda i: (-int(counts[i]), dictionary[i]))
    rank = np.empty(len(dictionary), dtype=np.float64)
    rank[np.array(ranked, dtype=np.int64)] = np.arange(len(dictionary), dtype=np.float64)
    codes = np.full(indices.size, np.nan)
    codes[valid] = rank[indices[valid].astype(np.int64)]
    return codes, len(dictionary)


def bootstrap_auc(
    positive: FloatArray, negative: FloatArray, n_bootstrap: int, rng: np.random.Generator
) -> FloatArray:
    """ROC AUC on ``n_bootstrap`` stratified resamples, all at once.

    Each resample draws each class's scores with replacement, held as multiplicity weights
    (one row per resample), and scores them with :func:`weighted_auc`.
    """
    w_pos = _resample_weights(positive.size, n_bootstrap, rng)
    w_neg = _resample_weights(negative.size, n_bootstrap, rng)
    return weighted_auc(positive, negative, w_pos, w_neg)


def weighted_auc(
    positive: FloatArray, negative: FloatArray, w_pos: FloatArray, w_neg: FloatArray
) -> FloatArray:
    """ROC AUC per row of weights: the weighted Mann–Whitney statistic, ties counting 1/2.

    ``w_pos`` has shape (resamples, len(positive)), ``w_neg`` (resamples, len(negative)).
    With all weights 1 this is ``sklearn.metrics.roc_auc_score``.
    """
    order = np.argsort(negative, kind="stable")
    sorted_neg = negative[order]
    cumulative = np.concatenate(
        [np.zeros((w_neg.shape[0], 1)), np.cumsum(w_neg[:, order], axis=1)], axis=1
    )
    lo = np.searchsorted(sorted_neg, positive, side="left")
    hi = np.searchsorted(sorted_neg, positive, side="right")
    below = cumulative[:, lo]
    ties = cumulative[:, hi] - below
    wins = np.sum(w_pos * (below + 0.5 * ties), axis=1)
    total = w_pos.sum(axis=1) * w_neg.sum(axis=1)
    return np.asarray(wins / total, dtype=np.float64)


def _resample_weights(n: int, n_bootstrap: int, rng: np.random.Generator) -> FloatArray:
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    offsets = (np.arange(n_bootstrap) * n)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_bootstrap * n)
    return counts.reshape(n_bootstrap, n).astype(np.float64)
