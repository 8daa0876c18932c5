"""The test-selection rule, the registry of drift tests and how each is judged."""

from __future__ import annotations

import numpy as np
import pytest
from _stats_support import exact, sketched

from assay.stats import (
    DEFAULT_ALPHA,
    DEFAULT_EXACT_MAX_N,
    DRIFT_TESTS,
    CategoricalDistribution,
    applicable_tests,
    choose_test,
    get_test,
    run_test,
)
from assay.stats.selection import NO_THRESHOLD, UNKNOWN_KIND, UNKNOWN_TEST, WRONG_KIND


def _categories(n: int, *, exact_counts: bool = True) -> CategoricalDistribution:
    return CategoricalDistribution(counts={"a": n // 2, "b": n - n // 2}, n=n, exact=exact_counts)


def test_small_exact_samples_get_p_value_tests() -> None:
    small = exact(np.arange(DEFAULT_EXACT_MAX_N, dtype=float))
    assert choose_test("numeric", small, small) == "ks"
    assert choose_test("categorical", _categories(100), _categories(5000)) == "chi_squared"
    assert choose_test("boolean", _categories(10), _categories(10)) == "chi_squared"


def test_large_or_sketched_samples_get_effect_sizes() -> None:
    small = exact(np.arange(10.0))
    large = exact(np.arange(DEFAULT_EXACT_MAX_N + 1, dtype=float))
    assert choose_test("numeric", small, large) == "wasserstein_normed"
    assert choose_test("numeric", sketched(np.arange(10.0)), small) == "wasserstein_normed"
    assert choose_test("categorical", _categories(10), _categories(5001)) == "jensenshannon"
    assert choose_test("boolean", _categories(10, exact_counts=False), _categories(10)) == (
        "jensenshannon"
    )
    assert choose_test("numeric", small, large, exact_max_n=10**6) == "ks"


def test_registry_defaults_and_directions() -> None:
    table = {
        name: (test.direction, test.threshold, test.warn_threshold)
        for name, test in DRIFT_TESTS.items()
    }
    assert table == {
        "chi_squared": ("min", DEFAULT_ALPHA, None),
        "jensenshannon": ("max", 0.1, None),
        "ks": ("min", 0.05, None),
        "psi": ("max", 0.2, 0.1),
        "wasserstein": ("max", None, None),
        "wasserstein_normed": ("max", 0.1, None),
    }
    assert all(name == test.name for name, test in DRIFT_TESTS.items())
    assert applicable_tests("numeric") == [
        "jensenshannon",
        "ks",
        "psi",
        "wasserstein",
        "wasserstein_normed",
    ]
    assert applicable_tests("boolean") == ["chi_squared", "jensenshannon", "psi"]


def test_p_values_drift_below_alpha_effect_sizes_above_the_threshold() -> None:
    ks_test, psi_test = get_test("ks"), get_test("psi")
    assert ks_test.uses_p_value and not psi_test.uses_p_value
    assert ks_test.drifted(0.049) and not ks_test.drifted(0.05)
    assert psi_test.drifted(0.21) and not psi_test.drifted(0.2)
    assert psi_test.drifted(0.15, threshold=0.1)
    with pytest.raises(ValueError) as caught:
        get_test("wasserstein").drifted(3.0)
    assert str(caught.value) == NO_THRESHOLD.format(name="wasserstein")


def test_value_picks_the_p_value_or_the_statistic() -> None:
    ref, cur = exact([1.0, 2.0, 3.0]), exact([2.0, 3.0, 4.0, 5.0])
    ks_result = run_test("ks", "numeric", ref, cur)
    assert get_test("ks").value(ks_result) == ks_result.p_value
    w_result = run_test("wasserstein_normed", "numeric", ref, cur)
    assert get_test("wasserstein_normed").value(w_result) == w_result.statistic


def test_unknown_names_and_kinds_are_explained() -> None:
    with pytest.raises(KeyError) as caught:
        get_test("wasserstien")
    assert caught.value.args[0] == UNKNOWN_TEST.format(
        name="wasserstien",
        hint="Did you mean 'wasserstein'? ",
        known="chi_squared, jensenshannon, ks, psi, wasserstein, wasserstein_normed",
    )
    with pytest.raises(ValueError) as kind_error:
        choose_test("text", exact([1.0]), exact([1.0]))
    assert str(kind_error.value) == UNKNOWN_KIND.format(
        kind="text", known="numeric, categorical, boolean"
    )
    with pytest.raises(ValueError) as wrong:
        run_test("ks", "categorical", _categories(4), _categories(4))
    assert str(wrong.value) == WRONG_KIND.format(
        name="ks", kinds="numeric", kind="categorical", fits="chi_squared, jensenshannon, psi"
    )
