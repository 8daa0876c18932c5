"""Group fairness of a binary classifier: per-group rates, disparities and their intervals.

Two conventions, both reported (definitions and every choice in docs/fairness.md):

- **Between groups** (Fairlearn): the spread of a rate across all compared groups —
  ``*_difference`` is max − min, ``*_ratio`` is min / max. With every rate defined and two or
  more groups, the values equal Fairlearn 0.15's ``demographic_parity_difference``,
  ``demographic_parity_ratio``, ``equalized_odds_difference``, ``equalized_odds_ratio`` and
  ``equal_opportunity_*`` (``method="between_groups"``, ``agg="worst_case"``).
- **Privileged versus unprivileged** (AIF360): disparate impact P(ŷ=1 | unprivileged) /
  P(ŷ=1 | privileged) and statistical parity difference P(ŷ=1 | unprivileged) −
  P(ŷ=1 | privileged), signed, for the pooled unprivileged rows (the headline) and for each
  unprivileged group; the four-fifths rule passes when disparate impact ≥ 0.8.

Rates that divide by zero are NaN, never 0, and say why in ``warnings``. Groups smaller than
``min_group_size`` stay in the table, flagged ``small``; the headline ``disparities`` leave
them out, ``all_groups_disparities`` keep them. Every disparity carries a seeded percentile
bootstrap interval.

The records are in :mod:`assay.stats.fairness_results` and the disparities and the bootstrap in
:mod:`assay.stats.fairness_bootstrap`; every public name is importable from here.

Example::

    from assay.stats.fairness import fairness_metrics

    result = fairness_metrics(
        y_true, y_pred, {"race": race, "sex": sex},
        pos_label=1, privileged={"race": "White", "sex": "Male"}, seed=0,
    )
    result.disparities["equalized_odds_difference"].value   # over the race × sex groups
    result.privileged.pooled.disparate_impact.value          # unprivileged pooled / privileged
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from assay.stats.fairness_bootstrap import (
    ALL_GROUPS,
    HEADLINE,
    PRIVILEGED_SELECTS_NONE,
    PRIVILEGED_SMALL,
    TOO_FEW_GROUPS,
    UNDEFINED_RESAMPLES,
    ZERO_OVER_ZERO,
    Interval,
    between,
    rates,
    resample,
    versus,
)
from assay.stats.fairness_results import (
    BETWEEN_GROUP_METRICS,
    DEFAULT_CONFIDENCE,
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_N_BOOTSTRAP,
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    DISPARATE_IMPACT,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_RATIO,
    EQUALIZED_ODDS_DIFFERENCE,
    EQUALIZED_ODDS_RATIO,
    FOUR_FIFTHS,
    POOLED,
    STATISTICAL_PARITY_DIFFERENCE,
    BoolArray,
    Disparity,
    FairnessResult,
    FloatArray,
    GroupStats,
    IntArray,
    PrivilegedComparison,
    PrivilegedDisparities,
    Scalar,
)

__all__ = [
    "ABSENT_PRIVILEGED_GROUP",
    "ALL_GROUPS",
    "BAD_PARAMETER",
    "BETWEEN_GROUP_METRICS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_MIN_GROUP_SIZE",
    "DEFAULT_N_BOOTSTRAP",
    "DEMOGRAPHIC_PARITY_DIFFERENCE",
    "DEMOGRAPHIC_PARITY_RATIO",
    "DISPARATE_IMPACT",
    "EQUALIZED_ODDS_DIFFERENCE",
    "EQUALIZED_ODDS_RATIO",
    "EQUAL_OPPORTUNITY_DIFFERENCE",
    "EQUAL_OPPORTUNITY_RATIO",
    "FOUR_FIFTHS",
    "HEADLINE",
    "LENGTHS_DIFFER",
    "MISSING_VALUES",
    "NOT_BINARY",
    "NO_ACTUAL_NEGATIVES",
    "NO_ACTUAL_POSITIVES",
    "NO_FEATURES",
    "NO_PREDICTED_POSITIVES",
    "NO_ROWS",
    "POOLED",
    "PRIVILEGED_SELECTS_NONE",
    "PRIVILEGED_SMALL",
    "SMALL_GROUPS",
    "STATISTICAL_PARITY_DIFFERENCE",
    "TOO_FEW_GROUPS",
    "UNDEFINED_RESAMPLES",
    "UNKNOWN_FEATURE",
    "UNKNOWN_POS_LABEL",
    "UNKNOWN_PRIVILEGED",
    "ZERO_OVER_ZERO",
    "Disparity",
    "FairnessResult",
    "GroupStats",
    "PrivilegedComparison",
    "PrivilegedDisparities",
    "Scalar",
    "fairness_by_grouping",
    "fairness_metrics",
]

NO_FEATURES = "Fairness metrics need at least one sensitive feature; got none."
NO_ROWS = "Fairness metrics need at least one row; got 0."
LENGTHS_DIFFER = (
    "y_true, y_pred and every sensitive feature need one value per row; got lengths {lengths}."
)
MISSING_VALUES = (
    "{name} has {count} missing value(s) (None or NaN), the first at row {row}. Fill them with "
    "an explicit value such as 'unknown', or drop those rows, before measuring fairness."
)
NOT_BINARY = (
    "Fairness metrics need binary labels; y_true and y_pred together hold {count} distinct "
    "labels: {labels}. Map them to two labels (or threshold the scores) first."
)
UNKNOWN_POS_LABEL = (
    "pos_label {pos_label!r} occurs in neither y_true nor y_pred; the labels that occur are "
    "{labels}."
)
UNKNOWN_FEATURE = (
    "{where} names {name!r}, which is not a declared sensitive feature; declared: {declared}."
)
UNKNOWN_PRIVILEGED = (
    "Privileged value {value!r} of sensitive feature {feature!r} does not occur in the data; "
    "the values that occur are {values}."
)
ABSENT_PRIVILEGED_GROUP = (
    "The privileged group {group} has no rows: each value occurs, but never together. "
    "Declare a privileged group that occurs, or compare single features."
)
BAD_PARAMETER = "The {name!r} parameter of {function} must be {expected}. Got {value!r} instead."

NO_ACTUAL_POSITIVES = (
    "Group {group} has no actual positives (y_true == {pos_label!r}): its TPR is undefined "
    "(NaN) and left out of equal opportunity and equalized odds."
)
NO_ACTUAL_NEGATIVES = (
    "Group {group} has no actual negatives: its FPR is undefined (NaN) and left out of "
    "equalized odds."
)
NO_PREDICTED_POSITIVES = (
    "Group {group} has no predicted positives: its precision is undefined (NaN)."
)
SMALL_GROUPS = (
    "{count} group(s) have fewer than min_group_size={min_group_size} rows and are left out of "
    "the headline disparities (they stay in the group table, flagged small, and in "
    "all_groups_disparities): {groups}."
)


def fairness_metrics(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Mapping[str, Any],
    *,
    pos_label: Any,
    seed: int,
    features: Sequence[str] | None = None,
    privileged: Mapping[str, Any] | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    stratified: bool = True,
) -> FairnessResult:
    """Per-group rates and disparities of binary predictions over one grouping.

    ``sensitive_features`` maps each feature name to one value per row (lists, NumPy arrays
    and pandas Series all work). ``features`` picks the grouping: one name for that feature
    alone, several for their intersection; None intersects every declared feature. Groups
    are the combinations that occur, sorted by value.

    ``privileged`` maps features to their privileged value; every declared value must occur
    in the data (else ValueError). The AIF360 comparison is made when it names every feature
    of the grouping (for an intersection, the privileged group is the combination).

    The bootstrap draws ``n_bootstrap`` resamples from ``np.random.default_rng(seed)``;
    ``stratified`` keeps every group's size fixed (see docs/fairness.md). ``n_bootstrap=0``
    skips it (intervals NaN).
    """
    _check_parameters("fairness_metrics", min_group_size, n_bootstrap, confidence)
    data = _prepare(y_true, y_pred, sensitive_features, pos_label, privileged)
    if isinstance(features, str):
        features = [features]
    chosen = tuple(sensitive_features) if features is None else tuple(features)
    return _grouping(data, chosen, min_group_size, n_bootstrap, confidence, stratified, seed)


def fairness_by_grouping(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Mapping[str, Any],
    *,
    pos_label: Any,
    seed: int,
    privileged: Mapping[str, Any] | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    n_bootstrap: int = DEFAULT_N_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    stratified: bool = True,
) -> tuple[FairnessResult, ...]:
    """:func:`fairness_metrics` for each feature alone, then (with two or more) for all together.

    Each result is the one ``fairness_metrics(..., features=...)`` returns with the same seed.
    """
    _check_parameters("fairness_by_grouping", min_group_size, n_bootstrap, confidence)
    data = _prepare(y_true, y_pred, sensitive_features, pos_label, privileged)
    names = tuple(sensitive_features)
    groupings = [(name,) for name in names] + ([names] if len(names) > 1 else [])
    return tuple(
        _grouping(data, chosen, min_group_size, n_bootstrap, confidence, stratified, seed)
        for chosen in groupings
    )


@dataclass(frozen=True)
class _Column:
    uniques: list[Scalar]
    codes: IntArray


@dataclass(frozen=True)
class _Data:
    positive: BoolArray
    predicted: BoolArray
    columns: Mapping[str, _Column]
    pos_label: Scalar
    privileged: Mapping[str, Scalar]


def _prepare(
    y_true: Any,
    y_pred: Any,
    sensitive_features: Mapping[str, Any],
    pos_label: Any,
    privileged: Mapping[str, Any] | None,
) -> _Data:
    if not sensitive_features:
        raise ValueError(NO_FEATURES)
    named = {str(k): _as_1d(v) for k, v in sensitive_features.items()}
    arrays = {"y_true": _as_1d(y_true), "y_pred": _as_1d(y_pred)}
    arrays.update({f"sensitive feature {k!r}": v for k, v in named.items()})
    lengths = {name: int(a.size) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(LENGTHS_DIFFER.format(lengths=lengths))
    if arrays["y_true"].size == 0:
        raise ValueError(NO_ROWS)
    for name, array in arrays.items():
        _check_missing(name, array)
    labels = sorted(
        set(_factorize(arrays["y_true"])[0]) | set(_factorize(arrays["y_pred"])[0]), key=_order
    )
    if len(labels) > 2:
        raise ValueError(NOT_BINARY.format(count=len(labels), labels=labels))
    if _py(pos_label) not in labels:
        raise ValueError(UNKNOWN_POS_LABEL.format(pos_label=_py(pos_label), labels=labels))
    columns = {name: _Column(*_factorize(values)) for name, values in named.items()}
    chosen: dict[str, Scalar] = {}
    for feature, value in (privileged or {}).items():
        if feature not in columns:
            raise ValueError(
                UNKNOWN_FEATURE.format(where="privileged", name=feature, declared=list(columns))
            )
        if _py(value) not in columns[feature].uniques:
            raise ValueError(
                UNKNOWN_PRIVILEGED.format(
                    value=_py(value), feature=feature, values=columns[feature].uniques
                )
            )
        chosen[feature] = _py(value)
    return _Data(
        positive=_equals(arrays["y_true"], pos_label),
        predicted=_equals(arrays["y_pred"], pos_label),
        columns=columns,
        pos_label=_py(pos_label),
        privileged=chosen,
    )


def _check_parameters(function: str, min_group_size: int, n_bootstrap: int, conf: float) -> None:
    checks = [
        ("min_group_size", min_group_size, "an int ≥ 1", _is_int(min_group_size, 1)),
        ("n_bootstrap", n_bootstrap, "an int ≥ 0", _is_int(n_bootstrap, 0)),
        ("confidence", conf, "a number in (0, 1)", isinstance(conf, float) and 0 < conf < 1),
    ]
    for name, value, expected, ok in checks:
        if not ok:
            raise ValueError(
                BAD_PARAMETER.format(name=name, function=function, expected=expected, value=value)
            )


def _is_int(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _grouping(
    data: _Data,
    features: tuple[str, ...],
    min_group_size: int,
    n_bootstrap: int,
    confidence: float,
    stratified: bool,
    seed: int,
) -> FairnessResult:
    if not features:
        raise ValueError(NO_FEATURES)
    for name in features:
        if name not in data.columns:
            raise ValueError(
                UNKNOWN_FEATURE.format(where="features", name=name, declared=list(data.columns))
            )
    codes, values = _intersect([data.columns[name] for name in features])
    labels = [" & ".join(f"{f}={v}" for f, v in zip(features, vs, strict=True)) for vs in values]
    cells = codes * 4 + 2 * data.positive.astype(np.int64) + data.predicted.astype(np.int64)
    counts = np.bincount(cells, minlength=4 * len(values)).reshape(len(values), 4)
    sizes = counts.sum(axis=1)
    small = sizes < min_group_size
    point = rates(counts.astype(np.float64))
    notes: list[str] = []
    groups = []
    for g, label in enumerate(labels):
        tn, fp, fn, tp = (int(c) for c in counts[g])
        if tp + fn == 0:
            notes.append(NO_ACTUAL_POSITIVES.format(group=label, pos_label=data.pos_label))
        if tn + fp == 0:
            notes.append(NO_ACTUAL_NEGATIVES.format(group=label))
        if tp + fp == 0:
            notes.append(NO_PREDICTED_POSITIVES.format(group=label))
        groups.append(
            GroupStats(
                group=label,
                values=tuple(zip(features, values[g], strict=True)),
                size=int(sizes[g]),
                actual_positives=tp + fn,
                predicted_positives=tp + fp,
                true_positives=tp,
                false_positives=fp,
                selection_rate=float(point["selection_rate"][g]),
                tpr=float(point["tpr"][g]),
                fpr=float(point["fpr"][g]),
                precision=float(point["precision"][g]),
                error_rate=float(point["error_rate"][g]),
                small=bool(small[g]),
            )
        )
    excluded = tuple(label for label, s in zip(labels, small, strict=True) if s)
    if excluded:
        notes.append(
            SMALL_GROUPS.format(
                count=len(excluded), min_group_size=min_group_size, groups=list(excluded)
            )
        )
    boot: FloatArray | None = None
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        boot = resample(counts, n_bootstrap, rng, stratified)
    interval = Interval(boot, confidence)
    scope = HEADLINE.format(min_group_size=min_group_size)
    headline = between(counts, ~small, labels, interval, scope, notes)
    every = between(counts, np.ones(len(labels), dtype=bool), labels, interval, ALL_GROUPS, notes)
    compared = None
    if all(name in data.privileged for name in features):
        target = tuple(data.privileged[name] for name in features)
        if target not in values:
            label = " & ".join(f"{f}={v}" for f, v in zip(features, target, strict=True))
            raise ValueError(ABSENT_PRIVILEGED_GROUP.format(group=label))
        compared = versus(counts, small, values.index(target), labels, interval, min_group_size)
    return FairnessResult(
        features=features,
        pos_label=data.pos_label,
        n_rows=int(sizes.sum()),
        min_group_size=min_group_size,
        groups=tuple(groups),
        disparities=headline,
        all_groups_disparities=every,
        excluded_groups=excluded,
        privileged=compared,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        stratified=stratified,
        seed=seed,
        warnings=tuple(dict.fromkeys(notes + interval.notes)),
    )


def _intersect(columns: Sequence[_Column]) -> tuple[IntArray, list[tuple[Scalar, ...]]]:
    """Group codes of the combinations that occur, sorted by value, and their values."""
    dims = tuple(len(c.uniques) for c in columns)
    flat = np.ravel_multi_index(tuple(c.codes for c in columns), dims)
    occurring, codes = np.unique(flat, return_inverse=True)
    parts = np.unravel_index(occurring, dims)
    values = [
        tuple(c.uniques[int(i)] for c, i in zip(columns, combo, strict=True))
        for combo in zip(*parts, strict=True)
    ]
    return codes.reshape(-1).astype(np.int64), values


def _as_1d(values: Any) -> npt.NDArray[Any]:
    array = np.asarray(values)
    return array.reshape(-1) if array.ndim != 1 else array


def _check_missing(name: str, array: npt.NDArray[Any]) -> None:
    if array.dtype.kind == "f":
        missing = np.isnan(array)
    elif array.dtype.kind == "O":
        missing = np.fromiter((_is_missing(v) for v in array), dtype=bool, count=array.size)
    else:
        return
    if missing.any():
        row = int(np.argmax(missing))
        raise ValueError(MISSING_VALUES.format(name=name, count=int(missing.sum()), row=row))


def _is_missing(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")  # pandas.NA, pandas.NaT


def _factorize(array: npt.NDArray[Any]) -> tuple[list[Scalar], IntArray]:
    """Distinct values (sorted; mixed types by type name, then value) and each row's code."""
    try:
        uniques, codes = np.unique(array, return_inverse=True)
        return [_py(u) for u in uniques], codes.reshape(-1).astype(np.int64)
    except TypeError:  # an object array mixing types that do not compare
        index: dict[Any, int] = {}
        first = np.fromiter((index.setdefault(_py(v), len(index)) for v in array), np.int64)
        ordered = sorted(index, key=_order)
        rank = np.empty(len(ordered), dtype=np.int64)
        rank[[index[v] for v in ordered]] = np.arange(len(ordered))
        return ordered, rank[first]


def _order(value: Scalar) -> tuple[str, Scalar | str]:
    return (type(value).__name__, value if isinstance(value, int | float) else str(value))


def _equals(array: npt.NDArray[Any], label: Any) -> BoolArray:
    matches = np.asarray(array == label)
    if matches.shape != array.shape:  # a comparison NumPy does not broadcast
        matches = np.fromiter((v == label for v in array), dtype=bool, count=array.size)
    return matches.astype(bool)


def _py(value: Any) -> Any:
    """A NumPy scalar as the Python scalar it holds; other values unchanged."""
    return value.item() if isinstance(value, np.generic) else value
