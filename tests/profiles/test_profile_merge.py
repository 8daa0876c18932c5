"""Profiles merge associatively: merge(profile(a), profile(b)) is profile(a ∪ b)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _profile_support import exact_parts
from assay.profiles.column import ColumnProfile
from assay.profiles.sketches import DistinctSketch, FrequentItems


def profile_of(array: pa.Array, *, exact_limit: int = 100_000) -> ColumnProfile:
    p = ColumnProfile.empty("x", array.type, exact_limit=exact_limit)
    p.update(array)
    return p


floats = st.lists(
    st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
        st.none(),
        st.just(float("nan")),
        st.just(float("inf")),
    ),
    max_size=60,
)


@settings(max_examples=80, deadline=None)
@given(floats, floats, floats)
def test_merge_is_profile_of_the_union_for_numbers(a: list, b: list, c: list) -> None:  # type: ignore[type-arg]
    arrays = [pa.array(x, pa.float64()) for x in (a, b, c)]
    whole = profile_of(pa.concat_arrays(arrays))
    left = profile_of(arrays[0]).merge(profile_of(arrays[1])).merge(profile_of(arrays[2]))
    right = profile_of(arrays[0]).merge(profile_of(arrays[1]).merge(profile_of(arrays[2])))
    for merged in (left, right):
        assert exact_parts(merged) == exact_parts(whole)
        if whole.n_finite:
            assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-6)
            assert merged.m2 == pytest.approx(whole.m2, rel=1e-7, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(["a", "b", "c", "dd", "é"]), st.none()), max_size=50),
    st.lists(st.one_of(st.sampled_from(["a", "zz", "c"]), st.none()), max_size=50),
)
def test_merge_is_profile_of_the_union_for_text(a: list, b: list) -> None:  # type: ignore[type-arg]
    x, y = pa.array(a, pa.string()), pa.array(b, pa.string())
    assert exact_parts(profile_of(x).merge(profile_of(y))) == exact_parts(
        profile_of(pa.concat_arrays([x, y]))
    )


def test_quantiles_of_a_merged_sketch_stay_within_the_kll_error() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(i, 1 + i, 150_000) for i in range(4)]
    merged = profile_of(pa.array(parts[0]), exact_limit=0)
    for part in parts[1:]:
        merged = merged.merge(profile_of(pa.array(part), exact_limit=0))
    everything = np.concatenate(parts)
    assert merged.values is None and merged.kll is not None
    error = merged.kll.normalized_rank_error(False)
    ranks = np.linspace(0.01, 0.99, 25)
    for rank, q in zip(ranks, merged.quantiles(ranks) or [], strict=True):
        true_rank = float((everything <= q).mean())
        assert abs(true_rank - rank) <= 2 * error, (rank, true_rank)


def test_exact_values_are_kept_up_to_the_limit_and_then_dropped() -> None:
    small = profile_of(pa.array(np.arange(10.0)), exact_limit=15)
    assert small.values is not None and small.quantiles_exact
    assert small.merge(profile_of(pa.array(np.arange(5.0)), exact_limit=15)).values is not None
    assert small.merge(profile_of(pa.array(np.arange(6.0)), exact_limit=15)).values is None


def test_distinct_sketch_is_exact_below_k_and_close_above() -> None:
    sketch = DistinctSketch(k=256)
    sketch.update(np.arange(200, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    assert sketch.exact and sketch.estimate() == 200
    big = DistinctSketch(k=4096)
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, 200_000, dtype=np.uint64) * np.uint64(2)
    for chunk in np.array_split(hashes, 7):
        big.update(chunk)
    assert not big.exact
    assert abs(big.estimate() / np.unique(hashes).size - 1) < 4 * big.relative_error()


def test_frequent_items_keep_heavy_hitters_within_their_error() -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate([np.repeat(["hot"], 5000), rng.integers(0, 50_000, 45_000).astype(str)])
    rng.shuffle(values)
    items = FrequentItems(cap=100)
    for chunk in np.array_split(values, 9):
        items.update(pa.array(chunk))
    assert not items.exact
    hot = items.counts["hot"]
    assert 5000 - items.error <= hot <= 5000


def test_nan_and_infinities_are_counted_apart_from_values() -> None:
    p = profile_of(
        pa.array([1.0, float("nan"), None, float("inf"), -float("inf"), 2.0, float("nan")])
    )
    assert (p.count, p.nulls, p.nans, p.pos_inf, p.neg_inf, p.n_finite) == (7, 1, 2, 1, 1, 2)
    assert (p.min, p.max, p.missing, p.present) == (1.0, 2.0, 3, 4)
    assert p.items.counts == {1.0: 1, 2.0: 1, float("inf"): 1, -float("inf"): 1}
    assert p.distinct_count == 4


def test_moments_match_numpy() -> None:
    x = np.random.default_rng(3).normal(5, 2, 10_000)
    p = profile_of(pa.array(x))
    assert p.mean == pytest.approx(x.mean())
    assert p.variance == pytest.approx(x.var())
    assert math.isclose(p.std or 0, x.std(), rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3)), min_size=1, max_size=200),
)
def test_label_conflicts_by_sorting_agree_with_a_lexsort(rows: list) -> None:  # type: ignore[type-arg]
    from assay.profiles.rows import _conflicting_labels_by_lexsort, conflicting_labels

    mix = np.uint64(0x9E3779B97F4A7C15)
    features = np.array([f for f, _ in rows], dtype=np.uint64) * mix + np.uint64(12345)
    labels = np.array([lab for _, lab in rows], dtype=np.uint64) * mix
    fast, slow = (
        conflicting_labels(features, labels),
        _conflicting_labels_by_lexsort(features, labels),
    )
    assert (fast.rows, fast.groups, fast.rows_in_groups) == (
        slow.rows,
        slow.groups,
        slow.rows_in_groups,
    )
    assert sorted(e["count"] for e in fast.examples) == sorted(e["count"] for e in slow.examples)


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        (pa.int8(), -128, 128),
        (pa.uint8(), 0, 256),
        (pa.int16(), -300, 300),
        (pa.uint16(), 0, 1 << 16),
    ],
)
def test_small_integer_counts_equal_arrow_value_counts(
    kind: pa.DataType, low: int, high: int
) -> None:
    from assay.profiles.sketches import small_integer_counts

    values = pa.array(np.random.default_rng(high).integers(low, high, 50_000), type=kind).slice(7)
    items, counts = small_integer_counts(values)
    expected = pa.compute.value_counts(values)
    assert items.type == kind
    assert dict(zip(items.to_pylist(), counts.to_pylist(), strict=True)) == dict(
        zip(expected.field("values").to_pylist(), expected.field("counts").to_pylist(), strict=True)
    )


def test_a_bound_from_elsewhere_skips_hashes_but_not_the_merged_result() -> None:
    rng = np.random.default_rng(4)
    first, second = (rng.integers(0, 2**63, 20_000).astype(np.uint64) for _ in range(2))
    seen = DistinctSketch()
    seen.update(first)
    plain, bounded = DistinctSketch(), DistinctSketch(below=int(seen.hashes[seen.k - 1]))
    plain.update(second)
    bounded.update(second)
    assert bounded.hashes.size < plain.hashes.size and not bounded.exact
    assert np.array_equal(seen.merge(bounded).hashes, seen.merge(plain).hashes)
