"""Exact mode: Assay's statistics equal scipy's on the raw values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _stats_support import exact, numeric_pairs
from scipy import stats

from assay.stats import (
    CategoricalDistribution,
    NumericDistribution,
    chi_squared,
    ks,
    wasserstein,
    wasserstein_normed,
)
from assay.stats.results import EMPTY_SIDE

PAIRS = numeric_pairs()
IDS = [name for name, _, _ in PAIRS]


@pytest.mark.parametrize(("name", "a", "b"), PAIRS, ids=IDS)
@pytest.mark.parametrize("method", ["auto", "exact", "asymp"])
def test_ks_equals_scipy_ks_2samp(name: str, a: Any, b: Any, method: Any) -> None:
    expected = stats.ks_2samp(a, b, method=method)
    result = ks(exact(a), exact(b), method=method)
    assert result.test == "ks"
    assert result.statistic == float(expected.statistic)
    assert result.p_value == float(expected.pvalue)
    assert result.details["location"] == float(expected.statistic_location)
    assert result.details["sign"] == float(expected.statistic_sign)
    assert (result.n_ref, result.n_cur, result.exact) == (len(a), len(b), True)
    assert result.statistic_error == 0.0


@pytest.mark.parametrize(("name", "a", "b"), PAIRS, ids=IDS)
def test_wasserstein_equals_scipy(name: str, a: Any, b: Any) -> None:
    expected = stats.wasserstein_distance(a, b)
    result = wasserstein(exact(a), exact(b))
    assert result.statistic == pytest.approx(expected, abs=1e-9, rel=0)
    assert result.p_value is None
    assert result.exact


@pytest.mark.parametrize(("name", "a", "b"), PAIRS, ids=IDS)
def test_wasserstein_normed_divides_by_the_reference_population_std(
    name: str, a: Any, b: Any
) -> None:
    norm = max(float(np.std(a)), 0.001)
    result = wasserstein_normed(exact(a), exact(b))
    assert result.statistic == pytest.approx(stats.wasserstein_distance(a, b) / norm, abs=1e-9)
    assert result.details["norm"] == pytest.approx(norm, rel=1e-12)


def test_wasserstein_normed_floors_a_constant_reference_at_0_001() -> None:
    result = wasserstein_normed(exact([3.0] * 10), exact([3.0] * 9 + [4.0]))
    assert result.details["norm"] == 0.001
    assert result.statistic == pytest.approx(0.1 / 0.001)


def _categorical_cases() -> list[tuple[str, list[Any], list[Any]]]:
    rng = np.random.default_rng(7)
    letters = list("abcdefg")
    return [
        ("same", list(rng.choice(letters, 500)), list(rng.choice(letters, 300))),
        (
            "reordered_popularity",
            list(rng.choice(letters, 600, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.05, 0.05])),
            list(rng.choice(letters, 600, p=[0.05, 0.05, 0.1, 0.1, 0.1, 0.2, 0.4])),
        ),
        ("one_side_only", ["a"] * 50 + ["b"] * 30 + ["x"] * 3, ["a"] * 40 + ["b"] * 35 + ["y"] * 9),
        ("booleans", [True] * 70 + [False] * 30, [True] * 55 + [False] * 45),
        ("integers", list(rng.integers(0, 5, 400)), list(rng.integers(0, 6, 350))),
    ]


@pytest.mark.parametrize(("name", "a", "b"), _categorical_cases(), ids=lambda c: str(c)[:20])
def test_chi_squared_equals_chi2_contingency_without_correction(
    name: str, a: list[Any], b: list[Any]
) -> None:
    keys = sorted(set(a) | set(b), key=repr)
    table = np.array([[a.count(k) for k in keys], [b.count(k) for k in keys]])
    expected = stats.chi2_contingency(table, correction=False)
    result = chi_squared(
        CategoricalDistribution.from_values(a), CategoricalDistribution.from_values(b)
    )
    assert result.statistic == pytest.approx(float(expected.statistic), rel=1e-12, abs=1e-12)
    assert result.p_value == pytest.approx(float(expected.pvalue), rel=1e-12, abs=1e-300)
    assert result.details["dof"] == expected.dof
    assert result.exact and result.statistic_error == 0.0


def test_chi_squared_on_two_categories_is_the_two_proportion_z_test() -> None:
    a, b = [1] * 70 + [0] * 30, [1] * 55 + [0] * 45
    p1, p2, pooled = 0.70, 0.55, 125 / 200
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 100 + 1 / 100))
    result = chi_squared(
        CategoricalDistribution.from_values(a), CategoricalDistribution.from_values(b)
    )
    assert result.statistic == pytest.approx(z**2, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_chi_squared_with_one_category_has_nothing_to_compare() -> None:
    result = chi_squared(
        CategoricalDistribution.from_values(["a"] * 5), CategoricalDistribution.from_values(["a"])
    )
    assert (result.statistic, result.p_value, result.details["dof"]) == (0.0, 1.0, 0.0)


def test_an_empty_side_is_refused_with_the_documented_message() -> None:
    with pytest.raises(ValueError) as caught:
        ks(exact([]), exact([1.0]))
    assert str(caught.value) == EMPTY_SIDE.format(test="ks", n_ref=0, n_cur=1)
    with pytest.raises(ValueError, match="chi_squared needs at least one value"):
        chi_squared(
            CategoricalDistribution.from_values([None]), CategoricalDistribution.from_values(["a"])
        )


def test_numeric_summary_drops_nan_inf_and_nulls() -> None:
    dist = NumericDistribution.from_values(pa.array([1.0, None, float("nan"), float("inf"), 3.0]))
    assert dist.n == 2 and dist.mean == 2.0 and dist.std == 1.0
    assert (dist.min, dist.max, dist.is_exact, dist.rank_error) == (1.0, 3.0, True, 0.0)
    assert NumericDistribution.from_values([1, None, 3]).n == 2
    assert NumericDistribution.from_values(iter([1.0, 2.0])).n == 2
    assert NumericDistribution.from_values(np.array([True, False])).mean == 0.5
    empty = NumericDistribution.from_values([])
    assert empty.n == 0 and np.isnan(empty.mean)


def test_numeric_summary_refuses_strings() -> None:
    with pytest.raises(TypeError, match="as categories"):
        NumericDistribution.from_values(pa.array(["a"]))
    with pytest.raises(TypeError, match="as categories"):
        NumericDistribution.from_values(np.array(["a"]))


def test_exact_cdf_and_quantiles_follow_the_step_function() -> None:
    values = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    dist = exact(values)
    assert dist.cdf(np.array([0.0, 1.0, 2.0, 2.5, 5.0, 9.0])).tolist() == [0, 0.2, 0.6, 0.6, 1, 1]
    ranks = np.array([0.0, 0.2, 0.21, 0.6, 0.61, 1.0])
    assert dist.quantiles(ranks).tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 5.0]
    assert (
        dist.quantiles(ranks).tolist() == np.quantile(values, ranks, method="inverted_cdf").tolist()
    )


def test_categorical_summary_from_arrow_equals_from_python() -> None:
    values = ["a", None, "b", "a", "c", None]
    from_arrow = CategoricalDistribution.from_values(pa.chunked_array([values[:3], values[3:]]))
    from_python = CategoricalDistribution.from_values(values)
    assert dict(from_arrow.counts) == dict(from_python.counts) == {"a": 2, "b": 1, "c": 1}
    assert from_arrow.n == from_python.n == 4
    assert from_arrow.exact and from_arrow.unlisted == 0
    floats = CategoricalDistribution.from_values(pa.array([1.0, float("nan"), None, 1.0]))
    assert dict(floats.counts) == {1.0: 2} and floats.n == 2
    assert CategoricalDistribution.from_values([1.0, float("nan")]).n == 1


def test_scipy_falling_back_to_asymptotic_is_reported_not_warned() -> None:
    a, b = [0.0] * 5, [0.0, 0.0, 0.0, 0.0, 1.0]
    with pytest.warns(RuntimeWarning, match="Switching to method=asymp"):
        expected = stats.ks_2samp(a, b)
    result = ks(exact(a), exact(b))  # the suite turns warnings into errors
    assert result.p_value == float(expected.pvalue)
    assert result.details["exact_p_value"] == 0.0
    assert ks(exact([1.0, 2.0]), exact([3.0])).details["exact_p_value"] == 1.0
    assert ks(exact(a), exact(b), method="asymp").details["exact_p_value"] == 0.0


def test_a_hand_built_summary_is_checked() -> None:
    from assay.stats.distributions import NOTHING_KEPT, VALUES_MISMATCH, VALUES_NOT_FINITE

    with pytest.raises(ValueError) as mismatch:
        NumericDistribution(n=3, mean=0.0, std=0.0, min=0.0, max=0.0, values=np.zeros(2))
    assert str(mismatch.value) == VALUES_MISMATCH.format(size=2, n=3)
    with pytest.raises(ValueError) as not_finite:
        NumericDistribution(n=1, mean=0.0, std=0.0, min=0.0, max=0.0, values=np.array([np.nan]))
    assert str(not_finite.value) == VALUES_NOT_FINITE
    with pytest.raises(ValueError) as nothing:
        NumericDistribution(n=1, mean=0.0, std=0.0, min=0.0, max=0.0)
    assert str(nothing.value) == NOTHING_KEPT.format(n=1)
    unsorted = NumericDistribution(
        n=3, mean=2.0, std=0.8, min=1.0, max=3.0, values=np.array([3.0, 1.0, 2.0])
    )
    assert ks(unsorted, exact([1.0, 2.0, 3.0])).statistic == 0.0
