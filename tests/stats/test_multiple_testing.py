"""Benjamini–Hochberg adjustment equals scipy's, with absent p-values passed through."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.stats import benjamini_hochberg
from assay.stats.multiple_testing import P_VALUE_RANGE


@pytest.mark.parametrize("seed", range(5))
def test_equals_scipy_false_discovery_control(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(size=20), rng.uniform(0, 0.01, size=5), [0.0, 1.0, 0.5, 0.5]])
    rng.shuffle(p)
    expected = stats.false_discovery_control(p, method="bh")
    assert benjamini_hochberg(list(p)) == [float(v) for v in expected]


def test_none_and_nan_pass_through_and_do_not_count() -> None:
    adjusted = benjamini_hochberg([0.01, None, 0.04, float("nan"), 0.03])
    expected = stats.false_discovery_control([0.01, 0.04, 0.03], method="bh")
    assert adjusted[1] is None
    assert adjusted[3] is not None and math.isnan(adjusted[3])
    assert [adjusted[0], adjusted[2], adjusted[4]] == [float(v) for v in expected]
    assert adjusted == pytest.approx([0.03, None, 0.04, adjusted[3], 0.04], nan_ok=True)


def test_edge_cases() -> None:
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([None, None]) == [None, None]
    assert benjamini_hochberg([0.2]) == [0.2]


def test_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        benjamini_hochberg([0.1, 1.5])
    assert str(caught.value) == P_VALUE_RANGE.format(value=1.5, index=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0.0, 1.0)), max_size=40))
def test_adjusted_values_are_valid_and_never_smaller(p: list[float | None]) -> None:
    adjusted = benjamini_hochberg(p)
    assert len(adjusted) == len(p)
    for before, after in zip(p, adjusted, strict=True):
        if before is None:
            assert after is None
        else:
            assert after is not None and before <= after <= 1.0
