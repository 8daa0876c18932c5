"""Disparities and their bootstrap intervals, from per-group confusion counts.

Every statistic of :mod:`assay.stats.fairness` depends on the rows only through the counts
(TN, FP, FN, TP) of each group, so the bootstrap draws resampled counts directly
(multinomial) and computes every disparity of every resample at once. Definitions and the
choices behind them are in docs/fairness.md.
"""

from __future__ import annotations

import math

import numpy as np

from assay.stats.fairness_results import (
    BETWEEN_GROUP_METRICS,
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    DISPARATE_IMPACT,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_RATIO,
    EQUALIZED_ODDS_DIFFERENCE,
    EQUALIZED_ODDS_RATIO,
    POOLED,
    STATISTICAL_PARITY_DIFFERENCE,
    BoolArray,
    Disparity,
    FloatArray,
    IntArray,
    PrivilegedComparison,
    PrivilegedDisparities,
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


def rates(counts: FloatArray) -> dict[str, FloatArray]:
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


def resample(
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


class Interval:
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


def between(
    counts: IntArray,
    include: BoolArray,
    labels: list[str],
    interval: Interval,
    scope: str,
    notes: list[str],
) -> dict[str, Disparity]:
    point = rates(counts.astype(np.float64))
    boot = None if interval.boot is None else rates(interval.boot)
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


def versus(
    counts: IntArray,
    small: BoolArray,
    privileged: int,
    labels: list[str],
    interval: Interval,
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
    rate = rates(np.concatenate([counts, pool[..., None, :]], axis=-2))["selection_rate"]
    reference = rate[..., privileged : privileged + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        impact = np.where(reference > 0, rate / reference, np.nan)
    return impact, rate - reference
