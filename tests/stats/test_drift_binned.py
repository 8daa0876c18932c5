"""PSI and Jensen–Shannon follow Evidently 0.7's published definitions (exact mode)."""

from __future__ import annotations

from typing import Any

import _evidently_formulas as evidently
import numpy as np
import pandas as pd
import pytest
from _stats_support import exact, numeric_pairs
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats import (
    OTHER,
    CategoricalDistribution,
    jensenshannon,
    psi,
    shared_bins,
    smooth_zero_shares,
)
from assay.stats.binned import sturges_edges

PAIRS = numeric_pairs()
IDS = [name for name, _, _ in PAIRS]


@pytest.mark.parametrize(("name", "a", "b"), PAIRS, ids=IDS)
def test_numeric_psi_and_jensenshannon_equal_evidentlys(name: str, a: Any, b: Any) -> None:
    ref, cur = pd.Series(a, dtype=float), pd.Series(b, dtype=float)
    assert psi(exact(a), exact(b)).statistic == pytest.approx(
        evidently.psi(ref, cur, numerical=True), rel=1e-12, abs=1e-15
    )
    assert jensenshannon(exact(a), exact(b)).statistic == pytest.approx(
        evidently.jensenshannon(ref, cur, numerical=True), rel=1e-12, abs=1e-15
    )


def _categorical_pairs() -> list[tuple[list[Any], list[Any]]]:
    rng = np.random.default_rng(11)
    letters = list("abcdef")
    return [
        (list(rng.choice(letters, 400)), list(rng.choice(letters, 300))),
        # categories on one side only: PSI smooths the empty cells with 0.0001
        (["a"] * 50 + ["b"] * 30 + ["x"] * 3, ["a"] * 40 + ["b"] * 35 + ["y"] * 9),
        # a share at most 0.0001 exists, so the fill is that share / 10**6
        (["a"] * 20_000 + ["b"], ["a"] * 900 + ["c"] * 100),
        ([True] * 70 + [False] * 30, [True] * 100),
    ]


@pytest.mark.parametrize(
    ("a", "b"), _categorical_pairs(), ids=["random", "one_side", "tiny", "bool"]
)
def test_categorical_psi_and_jensenshannon_equal_evidentlys(a: list[Any], b: list[Any]) -> None:
    ref, cur = CategoricalDistribution.from_values(a), CategoricalDistribution.from_values(b)
    expected_psi = evidently.psi(pd.Series(a), pd.Series(b), numerical=False)
    expected_js = evidently.jensenshannon(pd.Series(a), pd.Series(b), numerical=False)
    assert psi(ref, cur).statistic == pytest.approx(expected_psi, rel=1e-12)
    assert jensenshannon(ref, cur).statistic == pytest.approx(expected_js, rel=1e-12)


def test_numeric_columns_with_at_most_20_reference_values_are_binned_per_value() -> None:
    a = np.repeat(np.arange(20.0), 10)
    b = np.concatenate([a, [100.5, 7.25]])
    bins = shared_bins(exact(a), exact(b))
    assert bins.edges is None and bins.labels is not None
    assert len(bins.labels) == 22
    assert psi(exact(a), exact(b)).details["histogram"] == 0.0
    assert psi(exact(a), exact(b)).statistic == pytest.approx(
        evidently.psi(pd.Series(a), pd.Series(b), numerical=True), rel=1e-12
    )
    many = np.arange(21.0)
    assert shared_bins(exact(many), exact(a)).edges is not None


def test_smoothing_fills_zeros_like_evidently() -> None:
    assert smooth_zero_shares(np.array([0.5, 0.5, 0.0])).tolist() == [0.5, 0.5, 0.0001]
    tiny = smooth_zero_shares(np.array([0.99995, 0.00005, 0.0]))
    assert tiny[2] == pytest.approx(0.00005 / 10**6)


def test_jensenshannon_is_the_distance_in_natural_log_units() -> None:
    disjoint = jensenshannon(
        CategoricalDistribution.from_values(["a"]), CategoricalDistribution.from_values(["b"])
    )
    assert disjoint.statistic == pytest.approx(np.sqrt(np.log(2)))


def test_category_table_lumps_what_a_non_exact_side_cannot_count() -> None:
    ref = CategoricalDistribution(counts={"a": 60, "b": 30, "c": 10}, n=100, exact=True)
    cur = CategoricalDistribution(counts={"a": 500, "d": 300}, n=1000, exact=False)
    bins = shared_bins(ref, cur)
    # "a": both count it; "d": the exact reference knows it is 0; "b", "c" and cur's 200
    # unlisted values go to OTHER.
    assert bins.labels == ("a", "d", OTHER)
    assert bins.ref.tolist() == [0.6, 0.0, 0.4]
    assert bins.cur.tolist() == [0.5, 0.3, 0.2]
    assert psi(ref, cur).statistic_error is None and not psi(ref, cur).exact


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=200),
    repeat=st.integers(1, 300),
)
def test_sturges_edges_match_numpy(values: list[float], repeat: int) -> None:
    data = np.tile(np.array(values), repeat)
    edges = sturges_edges(data.min(), data.max(), data.size)
    try:
        expected = np.histogram_bin_edges(data, bins="sturges")
    except ValueError:  # "Too many bins for data range": a range of a few float64 steps
        assert edges.tolist() == [data.min(), data.max()]
        return
    assert np.array_equal(edges, expected)


def test_a_range_too_narrow_for_sturges_bins_gets_one_bin() -> None:
    data = np.array([1e9, 999999999.9999999])
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram_bin_edges(data, bins="sturges")
    assert sturges_edges(data.min(), data.max(), data.size).tolist() == [data.min(), data.max()]
