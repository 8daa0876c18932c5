"""The records :mod:`assay.stats.fairness` returns, and the names of its metrics.

Every record is frozen and has ``to_json()`` (plain dicts, lists and scalars; NaN stays
``float("nan")``, the caller decides how to serialise it). Metric names are stable.
"""

from __future__ import annotations

from collections.abc import Mapping
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
