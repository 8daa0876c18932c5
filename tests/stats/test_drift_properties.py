"""Properties every drift statistic must have, checked with hypothesis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from _stats_support import exact
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import (
    CategoricalDistribution,
    DriftResult,
    chi_squared,
    jensenshannon,
    ks,
    psi,
    wasserstein,
    wasserstein_normed,
)

# Small integers give ties and per-value bins; wide floats give histogram bins.
numbers = st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=60),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=80),
)
categories = st.lists(st.sampled_from(["a", "b", "c", "d", True, 3, None]), min_size=1, max_size=80)

NUMERIC_TESTS: list[Callable[[Any, Any], DriftResult]] = [
    ks,
    wasserstein,
    wasserstein_normed,
    psi,
    jensenshannon,
]
CATEGORICAL_TESTS: list[Callable[[Any, Any], DriftResult]] = [chi_squared, psi, jensenshannon]


def _categorical(values: list[Any]) -> CategoricalDistribution:
    return CategoricalDistribution.from_values(values)


@settings(max_examples=60, deadline=None)
@given(numbers)
def test_a_numeric_sample_has_not_drifted_from_itself(values: list[float]) -> None:
    dist = exact(values)
    for test in NUMERIC_TESTS:
        result = test(dist, dist)
        assert result.statistic == 0.0, test.__name__
    assert ks(dist, dist).p_value == 1.0


@settings(max_examples=60, deadline=None)
@given(categories.filter(lambda v: any(x is not None for x in v)))
def test_a_categorical_sample_has_not_drifted_from_itself(values: list[Any]) -> None:
    dist = _categorical(values)
    for test in CATEGORICAL_TESTS:
        assert test(dist, dist).statistic == 0.0, test.__name__
    assert chi_squared(dist, dist).p_value == 1.0


@settings(max_examples=60, deadline=None)
@given(numbers, numbers)
def test_symmetric_statistics_are_symmetric(a: list[float], b: list[float]) -> None:
    ref, cur = exact(a), exact(b)
    for test in (ks, wasserstein):
        assert np.isclose(test(ref, cur).statistic, test(cur, ref).statistic, rtol=1e-12, atol=0)
    assert np.isclose(ks(ref, cur).p_value or 0.0, ks(cur, ref).p_value or 0.0, rtol=1e-12)
    # PSI and JS are symmetric in the shares; the binning looks at the reference's distinct
    # count, so they are symmetric when both sides fall on the same side of 20 values.
    if (np.unique(a).size > 20) == (np.unique(b).size > 20):
        for test in (psi, jensenshannon):
            forward, backward = test(ref, cur).statistic, test(cur, ref).statistic
            assert np.isclose(forward, backward, rtol=1e-9, atol=1e-12), test.__name__


@settings(max_examples=60, deadline=None)
@given(categories, categories)
def test_categorical_statistics_are_symmetric(a: list[Any], b: list[Any]) -> None:
    ref, cur = _categorical(a), _categorical(b)
    if ref.n == 0 or cur.n == 0:
        return
    for test in CATEGORICAL_TESTS:
        forward, backward = test(ref, cur), test(cur, ref)
        assert np.isclose(forward.statistic, backward.statistic, rtol=1e-9, atol=1e-12)
    p_forward, p_backward = chi_squared(ref, cur).p_value, chi_squared(cur, ref).p_value
    assert p_forward is not None and p_backward is not None
    assert np.isclose(p_forward, p_backward, rtol=1e-9, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(numbers, numbers, st.randoms(use_true_random=False))
def test_numeric_statistics_ignore_row_order(a: list[float], b: list[float], rnd: Any) -> None:
    shuffled_a, shuffled_b = list(a), list(b)
    rnd.shuffle(shuffled_a)
    rnd.shuffle(shuffled_b)
    for test in NUMERIC_TESTS:
        before, after = test(exact(a), exact(b)), test(exact(shuffled_a), exact(shuffled_b))
        assert before == after, test.__name__


@settings(max_examples=60, deadline=None)
@given(categories, categories, st.randoms(use_true_random=False))
def test_categorical_statistics_ignore_row_order(a: list[Any], b: list[Any], rnd: Any) -> None:
    if _categorical(a).n == 0 or _categorical(b).n == 0:
        return
    shuffled_a, shuffled_b = list(a), list(b)
    rnd.shuffle(shuffled_a)
    rnd.shuffle(shuffled_b)
    for test in CATEGORICAL_TESTS:
        before = test(_categorical(a), _categorical(b))
        after = test(_categorical(shuffled_a), _categorical(shuffled_b))
        assert before == after, test.__name__
