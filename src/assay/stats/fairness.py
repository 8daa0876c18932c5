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

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: A group value as reported: NumPy scalars become their Python equivalents.
Scalar = str | int | float | bool

DEFAULT_MIN_GROUP_SIZE = 30
DEFAULT_N_BOOTSTRAP = 1000
DEFAULT_CONFIDENCE = 0.95
#: The four-fifths rule: disparate impact below this fails.
FOUR_FIFTHS = 0.8
#: The label of the comparison that pools every row outside the privileged group.
POOLED = "all unprivileged"

DEMOGRAPHIC_PARITY_DIFFERENCE = "demographic_parity_difference"
DEMOGRAPHIC_PARITY_RATIO = "demographic_parity_ratio"
EQUALIZED_ODDS_DIFFERENCE = "equalized_odds_difference"
EQUALIZED_ODDS_RATIO = "equalized_odds_ratio"
EQUAL_OPPORTUNITY_DIFFERENCE = "equal_opportunity_difference"
EQUAL_OPPORTUNITY_RATIO = "equal_opportunity_ratio"
#: The between-groups metrics, in report order. Names are stable.
BETWEEN_GROUP_METRICS = (
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    EQUALIZED_ODDS_DIFFERENCE,
    EQUALIZED_ODDS_RATIO,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_RATIO,
)
DISPARATE_IMPACT = "disparate_impact"
STATISTICAL_PARITY_DIFFERENCE = "statistical_parity_difference"

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
TOO_FEW_GROUPS = (
    "Disparities in {rate} ({metrics}) among {scope} are undefined (NaN): {count} group(s) "
    "have a defined {rate}; a comparison needs two."
)
ZERO_OVER_ZERO = (
    "The {rate} ratio ({metrics}) among {scope} is undefined (NaN): the largest {rate} is 0."
)
PRIVILEGED_SMALL = (
    "The privileged group {group} has {size} rows, fewer than min_group_size={min_group_size}: "
    "every comparison against it is unstable."
)
PRIVILEGED_SELECTS_NONE = (
    "Disparate impact is undefined (NaN): the privileged group {group} has no predicted positives."
)
UNDEFINED_RESAMPLES = (
    "{metric} ({scope}) is undefined in {count} of {total} bootstrap resamples; its interval "
    "comes from the other {valid}."
)

#: How warnings name the groups compared: the headline's, and Fairlearn's (every group).
HEADLINE = "groups of at least {min_group_size} rows"
ALL_GROUPS = "all groups"
# The rates that disparities compare: how messages name them, and the metrics built on them.
_RATES = {
    "selection_rate": ("selection rate", "demographic parity"),
    "tpr": ("TPR", "equal opportunity, equalized odds"),
    "fpr": ("FPR", "equalized odds"),
}
# Confusion-count cells, last axis of every counts array: 2·(y = positive) + (ŷ = positive).
_TN, _FP, _FN, _TP = range(4)


@dataclass(frozen=True)
class GroupStats:
    """One group's counts and rates. ``values`` maps each feature to this group's value.

    Rates: ``selection_rate`` P(ŷ=1), ``tpr`` P(ŷ=1 | y=1), ``fpr`` P(ŷ=1 | y=0),
    ``precision`` P(y=1 | ŷ=1), ``error_rate`` P(ŷ ≠ y); NaN when the condition never occurs.
    ``small`` is ``size < min_group_size``.
    """

    group: str
    values: tuple[tuple[str, Scalar], ...]
    size: int
    actual_positives: int
    predicted_positives: int
    true_positives: int
    false_positives: int
    selection_rate: float
    tpr: float
    fpr: float
    precision: float
    error_rate: float
    small: bool

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["values"] = dict(self.values)
        return data


@dataclass(frozen=True)
class Disparity:
    """A disparity with its percentile bootstrap interval.

    ``ci_resamples`` counts the resamples in which the disparity was defined (the interval
    comes from those); ``ci_low``/``ci_high`` are NaN when there were none (or no bootstrap).
    For between-groups metrics ``high_group`` and ``low_group`` name the groups at the two
    ends of the spread (of the worse component, for equalized odds); for privileged
    comparisons ``high_group`` is the compared group and ``low_group`` the privileged one.
    """

    metric: str
    value: float
    ci_low: float
    ci_high: float
    ci_resamples: int
    high_group: str | None
    low_group: str | None

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class PrivilegedComparison:
    """One unprivileged group (or all of them pooled) against the privileged group.

    ``passes_four_fifths`` is decided in exact integer arithmetic (disparate impact ≥ 4/5);
    None when disparate impact is undefined.
    """

    group: str
    size: int
    small: bool
    disparate_impact: Disparity
    statistical_parity_difference: Disparity
    passes_four_fifths: bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "size": self.size,
            "small": self.small,
            DISPARATE_IMPACT: self.disparate_impact.to_json(),
            STATISTICAL_PARITY_DIFFERENCE: self.statistical_parity_difference.to_json(),
            "passes_four_fifths": self.passes_four_fifths,
        }


@dataclass(frozen=True)
class PrivilegedDisparities:
    """AIF360's convention. ``pooled`` (every row outside the privileged group) is the headline.

    ``by_group`` compares each other group, small ones included and flagged.
    ``four_fifths_failures`` lists the groups of ``by_group`` that are not small and fail the
    four-fifths rule.
    """

    privileged: str
    privileged_size: int
    privileged_small: bool
    pooled: PrivilegedComparison
    by_group: tuple[PrivilegedComparison, ...]
    four_fifths_failures: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "privileged": self.privileged,
            "privileged_size": self.privileged_size,
            "privileged_small": self.privileged_small,
            "pooled": self.pooled.to_json(),
            "by_group": [c.to_json() for c in self.by_group],
            "four_fifths_failures": list(self.four_fifths_failures),
        }


@dataclass(frozen=True)
class FairnessResult:
    """The fairness of one grouping: a single feature or the intersection of several.

    ``disparities`` (headline) compare the groups that are not small; ``excluded_groups``
    names the ones left out. ``all_groups_disparities`` compare every group (Fairlearn's
    computation). ``privileged`` is None unless a privileged value was declared for every
    feature of the grouping. ``warnings`` explain every NaN and every exclusion.
    """

    features: tuple[str, ...]
    pos_label: Scalar
    n_rows: int
    min_group_size: int
    groups: tuple[GroupStats, ...]
    disparities: Mapping[str, Disparity]
    all_groups_disparities: Mapping[str, Disparity]
    excluded_groups: tuple[str, ...]
    privileged: PrivilegedDisparities | None
    n_bootstrap: int
    confidence: float
    stratified: bool
    seed: int
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain dicts, lists and scalars (NaN stays float('nan'); the caller serialises)."""
        return {
            "features": list(self.features),
            "pos_label": self.pos_label,
            "n_rows": self.n_rows,
            "min_group_size": self.min_group_size,
            "groups": [g.to_json() for g in self.groups],
            "disparities": {k: d.to_json() for k, d in self.disparities.items()},
            "all_groups_disparities": {
                k: d.to_json() for k, d in self.all_groups_disparities.items()
            },
            "excluded_groups": list(self.excluded_groups),
            "privileged": None if self.privileged is None else self.privileged.to_json(),
            "n_bootstrap": self.n_bootstrap,
            "confidence": self.confidence,
            "stratified": self.stratified,
            "seed": self.seed,
            "warnings": list(self.warnings),
        }


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
    rates = _rates(counts.astype(np.float64))
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
                selection_rate=float(rates["selection_rate"][g]),
                tpr=float(rates["tpr"][g]),
                fpr=float(rates["fpr"][g]),
                precision=float(rates["precision"][g]),
                error_rate=float(rates["error_rate"][g]),
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
        boot = _resample(counts, n_bootstrap, rng, stratified)
    interval = _Interval(boot, confidence)
    scope = HEADLINE.format(min_group_size=min_group_size)
    headline = _between(counts, ~small, labels, interval, scope, notes)
    every = _between(counts, np.ones(len(labels), dtype=bool), labels, interval, ALL_GROUPS, notes)
    versus = None
    if all(name in data.privileged for name in features):
        target = tuple(data.privileged[name] for name in features)
        if target not in values:
            label = " & ".join(f"{f}={v}" for f, v in zip(features, target, strict=True))
            raise ValueError(ABSENT_PRIVILEGED_GROUP.format(group=label))
        versus = _versus(counts, small, values.index(target), labels, interval, min_group_size)
    return FairnessResult(
        features=features,
        pos_label=data.pos_label,
        n_rows=int(sizes.sum()),
        min_group_size=min_group_size,
        groups=tuple(groups),
        disparities=headline,
        all_groups_disparities=every,
        excluded_groups=excluded,
        privileged=versus,
        n_bootstrap=n_bootstrap,
        confidence=confidence,
        stratified=stratified,
        seed=seed,
        warnings=tuple(dict.fromkeys(notes + interval.notes)),
    )


def _rates(counts: FloatArray) -> dict[str, FloatArray]:
    """Rates per group from confusion counts (..., groups, 4); 0/0 gives NaN."""
    tn, fp, fn, tp = (counts[..., cell] for cell in (_TN, _FP, _FN, _TP))
    size = tn + fp + fn + tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "selection_rate": (tp + fp) / size,
            "tpr": tp / (tp + fn),
            "fpr": fp / (fp + tn),
            "precision": tp / (tp + fp),
            "error_rate": (fp + fn) / size,
        }


def _resample(
    counts: IntArray, n_bootstrap: int, rng: np.random.Generator, stratified: bool
) -> FloatArray:
    """Confusion counts of ``n_bootstrap`` row resamples, shape (n_bootstrap, groups, 4).

    Every statistic here depends on the rows only through these counts, and the counts of
    rows drawn with replacement are multinomial: drawing them directly equals resampling the
    rows (within each group when stratified) in distribution, at a cost independent of n.
    """
    groups = counts.shape[0]
    if stratified:
        sizes = counts.sum(axis=1)
        shares = counts / sizes[:, None]
        return rng.multinomial(sizes, shares, size=(n_bootstrap, groups)).astype(np.float64)
    total = int(counts.sum())
    draws = rng.multinomial(total, counts.ravel() / total, size=n_bootstrap)
    return draws.reshape(n_bootstrap, groups, 4).astype(np.float64)


class _Interval:
    """Percentile intervals from the resampled counts; notes resamples where a value is NaN."""

    def __init__(self, boot: FloatArray | None, confidence: float) -> None:
        self.boot = boot
        self.tail = (1.0 - confidence) / 2.0 * 100.0
        self.notes: list[str] = []

    def disparity(
        self,
        metric: str,
        scope: str,
        value: float,
        samples: FloatArray | None,
        groups: tuple[str | None, str | None],
    ) -> Disparity:
        low = high = math.nan
        valid = 0
        if samples is not None:
            finite = samples[~np.isnan(samples)]
            valid = int(finite.size)
            if valid:
                low, high = (float(q) for q in np.percentile(finite, [self.tail, 100 - self.tail]))
            if not math.isnan(value) and valid < samples.size:
                self.notes.append(
                    UNDEFINED_RESAMPLES.format(
                        metric=metric,
                        scope=scope,
                        count=samples.size - valid,
                        total=samples.size,
                        valid=valid,
                    )
                )
        return Disparity(metric, value, low, high, valid, groups[0], groups[1])


def _spread(rate: FloatArray, include: BoolArray) -> tuple[FloatArray, FloatArray, IntArray]:
    """(max − min, min / max, number of defined values) over the included groups (last axis).

    NaN when fewer than two included groups have a defined rate; the ratio is NaN for 0 / 0.
    """
    defined = include & ~np.isnan(rate)
    high = np.max(np.where(defined, rate, -np.inf), axis=-1)
    low = np.min(np.where(defined, rate, np.inf), axis=-1)
    count = defined.sum(axis=-1)
    enough = count >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.where(enough, high - low, np.nan)
        ratio = np.where(enough, low / high, np.nan)
    return difference, ratio, count


def _between(
    counts: IntArray,
    include: BoolArray,
    labels: list[str],
    interval: _Interval,
    scope: str,
    notes: list[str],
) -> dict[str, Disparity]:
    point = _rates(counts.astype(np.float64))
    boot = None if interval.boot is None else _rates(interval.boot)
    spreads = {k: _spread(point[k], include) for k in _RATES}
    samples = {k: _spread(boot[k], include) for k in _RATES} if boot is not None else {}
    ends: dict[str, tuple[str | None, str | None]] = {}
    for key, (_, ratio, count) in spreads.items():
        rate = np.where(include, point[key], np.nan)
        if int(count) < 2:
            rate_name, metrics = _RATES[key]
            notes.append(
                TOO_FEW_GROUPS.format(rate=rate_name, metrics=metrics, scope=scope, count=count)
            )
            ends[key] = (None, None)
            continue
        high, low = int(np.nanargmax(rate)), int(np.nanargmin(rate))
        ends[key] = (labels[high], labels[low])
        if math.isnan(float(ratio)):
            rate_name, metrics = _RATES[key]
            notes.append(ZERO_OVER_ZERO.format(rate=rate_name, metrics=metrics, scope=scope))

    def pick(key: str, which: int) -> tuple[float, FloatArray | None]:
        drawn = samples[key][which] if samples else None
        return float(spreads[key][which]), None if drawn is None else drawn.astype(np.float64)

    result: dict[str, Disparity] = {}
    for metric, key, which in (
        (DEMOGRAPHIC_PARITY_DIFFERENCE, "selection_rate", 0),
        (DEMOGRAPHIC_PARITY_RATIO, "selection_rate", 1),
        (EQUAL_OPPORTUNITY_DIFFERENCE, "tpr", 0),
        (EQUAL_OPPORTUNITY_RATIO, "tpr", 1),
    ):
        value, drawn = pick(key, which)
        result[metric] = interval.disparity(metric, scope, value, drawn, ends[key])
    for metric, which, combine in (
        (EQUALIZED_ODDS_DIFFERENCE, 0, np.maximum),
        (EQUALIZED_ODDS_RATIO, 1, np.minimum),
    ):
        (tpr, tpr_drawn), (fpr, fpr_drawn) = pick("tpr", which), pick("fpr", which)
        value = float(combine(tpr, fpr))  # NaN when either component is NaN
        drawn = None if tpr_drawn is None or fpr_drawn is None else combine(tpr_drawn, fpr_drawn)
        worse = "fpr" if not math.isnan(value) and value == fpr and value != tpr else "tpr"
        result[metric] = interval.disparity(metric, scope, value, drawn, ends[worse])
    return {metric: result[metric] for metric in BETWEEN_GROUP_METRICS}


def _versus(
    counts: IntArray,
    small: BoolArray,
    privileged: int,
    labels: list[str],
    interval: _Interval,
    min_group_size: int,
) -> PrivilegedDisparities:
    """AIF360's comparisons against group ``privileged``: each other group, and all pooled."""
    notes = interval.notes
    name = labels[privileged]
    sizes = counts.sum(axis=1)
    if small[privileged]:
        notes.append(
            PRIVILEGED_SMALL.format(
                group=name, size=int(sizes[privileged]), min_group_size=min_group_size
            )
        )
    selected = counts[:, _FP] + counts[:, _TP]
    if selected[privileged] == 0:
        notes.append(PRIVILEGED_SELECTS_NONE.format(group=name))
    point = _pooled(counts.astype(np.float64), privileged)
    boot = None if interval.boot is None else _pooled(interval.boot, privileged)
    others = [g for g in range(len(labels)) if g != privileged]

    def compare(
        column: int, group: str, size: int, is_small: bool, chosen: int
    ) -> PrivilegedComparison:
        di, spd = (float(point[k][column]) for k in (0, 1))
        drawn = (None, None) if boot is None else (boot[0][..., column], boot[1][..., column])
        scope = f"{group} vs {name}"
        passes = None
        if selected[privileged] > 0:  # DI >= 4/5 exactly: 5·sel_u·n_p >= 4·n_u·sel_p
            passes = 5 * chosen * int(sizes[privileged]) >= 4 * size * int(selected[privileged])
        return PrivilegedComparison(
            group=group,
            size=size,
            small=is_small,
            disparate_impact=interval.disparity(
                DISPARATE_IMPACT, scope, di, drawn[0], (group, name)
            ),
            statistical_parity_difference=interval.disparity(
                STATISTICAL_PARITY_DIFFERENCE, scope, spd, drawn[1], (group, name)
            ),
            passes_four_fifths=passes,
        )

    pooled_size = int(sizes.sum() - sizes[privileged])
    pooled_selected = int(selected.sum() - selected[privileged])
    pooled = compare(len(labels), POOLED, pooled_size, False, pooled_selected)
    by_group = tuple(
        compare(g, labels[g], int(sizes[g]), bool(small[g]), int(selected[g])) for g in others
    )
    failures = tuple(c.group for c in by_group if not c.small and c.passes_four_fifths is False)
    return PrivilegedDisparities(
        privileged=name,
        privileged_size=int(sizes[privileged]),
        privileged_small=bool(small[privileged]),
        pooled=pooled,
        by_group=by_group,
        four_fifths_failures=failures,
    )


def _pooled(counts: FloatArray, privileged: int) -> tuple[FloatArray, FloatArray]:
    """Disparate impact and statistical parity difference of every group and of the pool.

    Last axis: each group (the privileged one compares with itself), then all other rows
    pooled. Disparate impact is NaN when the privileged selection rate is 0.
    """
    pool = counts.sum(axis=-2) - counts[..., privileged, :]
    rate = _rates(np.concatenate([counts, pool[..., None, :]], axis=-2))["selection_rate"]
    reference = rate[..., privileged : privileged + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        impact = np.where(reference > 0, rate / reference, np.nan)
    return impact, rate - reference


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
