"""Which drift test a column gets, every test by name, and its default threshold.

The rule (:func:`choose_test`): a p-value test while both summaries are exact and neither side
has more than ``exact_max_n`` values; an effect size judged against a threshold beyond that.

* numeric: ``ks`` (small, exact) else ``wasserstein_normed``;
* categorical and boolean: ``chi_squared`` (small, exact) else ``jensenshannon``.

Why: a p-value answers "is there *any* difference?", and with millions of rows the answer is
always yes — whylogs flags 23 of 27 columns at 1M rows when 7 were shifted. An effect size
answers "how large is the difference?", which does not grow with n. At 5,000 rows per side
KS already detects a gap of 0.027 between the CDFs at alpha 0.05, so past that point the
p-value mostly measures n. Any test can be chosen by name instead (``DRIFT_TESTS``).

Example::

    from assay.stats import choose_test, get_test

    name = choose_test("numeric", ref, cur)      # "ks" or "wasserstein_normed"
    test = get_test(name)
    result = test.compute(ref, cur)
    test.drifted(test.value(result))             # p-values: correct them across columns first
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from types import MappingProxyType
from typing import Any, Final, Literal

from assay.stats.binned import jensenshannon, psi
from assay.stats.categorical import chi_squared
from assay.stats.distributions import CategoricalDistribution, NumericDistribution
from assay.stats.drift import ks, wasserstein, wasserstein_normed
from assay.stats.results import DriftResult

ColumnKind = Literal["numeric", "categorical", "boolean"]
COLUMN_KINDS: Final = ("numeric", "categorical", "boolean")

#: Both sides at most this many values (and exact) → a p-value test.
DEFAULT_EXACT_MAX_N: Final = 5000
#: Significance level for p-value tests, applied after Benjamini–Hochberg correction.
DEFAULT_ALPHA: Final = 0.05

UNKNOWN_TEST = "Unknown drift test {name!r}. {hint}Known tests: {known}."
UNKNOWN_KIND = "Unknown column kind {kind!r}. Known kinds: {known}."
WRONG_KIND = "Drift test {name!r} applies to {kinds} columns, not {kind}. Tests for {kind}: {fits}."
NO_THRESHOLD = (
    "Drift test {name!r} has no default threshold (its value is in the column's units). "
    "Give one in the spec."
)


@dataclass(frozen=True)
class DriftTest:
    """A drift test in the registry.

    ``direction`` follows :class:`assay.Threshold`: ``"min"`` for p-values (drift when
    the corrected p-value is below ``threshold``), ``"max"`` for effect sizes (drift when the
    statistic is above ``threshold``). ``threshold`` is None when no unit-free default exists.
    """

    name: str
    compute: Callable[[Any, Any], DriftResult]
    kinds: frozenset[str]
    direction: Literal["min", "max"]
    threshold: float | None
    warn_threshold: float | None
    description: str

    @property
    def uses_p_value(self) -> bool:
        """True for hypothesis tests, whose p-values are corrected across columns."""
        return self.direction == "min"

    def value(self, result: DriftResult) -> float | None:
        """The number the threshold applies to: the p-value or the statistic."""
        return result.p_value if self.uses_p_value else result.statistic

    def drifted(self, value: float, threshold: float | None = None) -> bool:
        """True when ``value`` is past ``threshold`` (default: this test's)."""
        level = self.threshold if threshold is None else threshold
        if level is None:
            raise ValueError(NO_THRESHOLD.format(name=self.name))
        return value < level if self.direction == "min" else value > level


def _test(
    name: str,
    compute: Callable[[Any, Any], DriftResult],
    kinds: tuple[str, ...],
    direction: Literal["min", "max"],
    threshold: float | None,
    warn: float | None,
    description: str,
) -> DriftTest:
    return DriftTest(name, compute, frozenset(kinds), direction, threshold, warn, description)


#: Every drift test by name; the names are stable (they are stored in findings).
DRIFT_TESTS: Final[Mapping[str, DriftTest]] = MappingProxyType(
    {
        "chi_squared": _test(
            "chi_squared",
            chi_squared,
            ("categorical", "boolean"),
            "min",
            DEFAULT_ALPHA,
            None,
            "Pearson chi-squared test of homogeneity on the 2×k table of counts.",
        ),
        "jensenshannon": _test(
            "jensenshannon",
            jensenshannon,
            COLUMN_KINDS,
            "max",
            0.1,
            None,
            "Jensen–Shannon distance (natural log) over Evidently's bins.",
        ),
        "ks": _test(
            "ks",
            ks,
            ("numeric",),
            "min",
            DEFAULT_ALPHA,
            None,
            "Two-sample two-sided Kolmogorov–Smirnov test.",
        ),
        "psi": _test(
            "psi",
            psi,
            COLUMN_KINDS,
            "max",
            0.2,
            0.1,
            "Population stability index over Evidently's bins, empty bins smoothed.",
        ),
        "wasserstein": _test(
            "wasserstein",
            wasserstein,
            ("numeric",),
            "max",
            None,
            None,
            "Wasserstein-1 distance in the column's units.",
        ),
        "wasserstein_normed": _test(
            "wasserstein_normed",
            wasserstein_normed,
            ("numeric",),
            "max",
            0.1,
            None,
            "Wasserstein-1 distance divided by the reference standard deviation.",
        ),
    }
)


def get_test(name: str) -> DriftTest:
    """The registered test called ``name``; a KeyError naming the known tests otherwise."""
    try:
        return DRIFT_TESTS[name]
    except KeyError:
        close = get_close_matches(name, DRIFT_TESTS, n=1)
        hint = f"Did you mean {close[0]!r}? " if close else ""
        known = ", ".join(sorted(DRIFT_TESTS))
        raise KeyError(UNKNOWN_TEST.format(name=name, hint=hint, known=known)) from None


def applicable_tests(kind: str) -> list[str]:
    """Names of the tests that apply to a column kind, sorted."""
    _check_kind(kind)
    return sorted(name for name, test in DRIFT_TESTS.items() if kind in test.kinds)


def run_test(
    name: str,
    kind: str,
    ref: NumericDistribution | CategoricalDistribution,
    cur: NumericDistribution | CategoricalDistribution,
) -> DriftResult:
    """Run the test called ``name`` on a column of ``kind``, refusing tests that do not apply."""
    test = get_test(name)
    if kind not in test.kinds:
        _check_kind(kind)
        raise ValueError(
            WRONG_KIND.format(
                name=name,
                kinds="/".join(sorted(test.kinds)),
                kind=kind,
                fits=", ".join(applicable_tests(kind)),
            )
        )
    return test.compute(ref, cur)


def choose_test(
    kind: str,
    ref: NumericDistribution | CategoricalDistribution,
    cur: NumericDistribution | CategoricalDistribution,
    *,
    exact_max_n: int = DEFAULT_EXACT_MAX_N,
) -> str:
    """The default test for one column (the rule in this module's docstring)."""
    _check_kind(kind)
    small = max(ref.n, cur.n) <= exact_max_n and _exact(ref) and _exact(cur)
    if kind == "numeric":
        return "ks" if small else "wasserstein_normed"
    return "chi_squared" if small else "jensenshannon"


def _exact(dist: NumericDistribution | CategoricalDistribution) -> bool:
    return dist.is_exact if isinstance(dist, NumericDistribution) else dist.exact


def _check_kind(kind: str) -> None:
    if kind not in COLUMN_KINDS:
        raise ValueError(UNKNOWN_KIND.format(kind=kind, known=", ".join(COLUMN_KINDS)))
