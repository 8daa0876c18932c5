"""assay.profiles.rows at sizes past the leading slice: labels found late, shared arrays."""

from __future__ import annotations

import numpy as np
import pytest

from assay.profiles.rows import (
    RowHashes,
    _conflicting_labels_by_lexsort,
    _few_distinct,
    all_distinct,
    conflicting_labels,
)
from assay.profiles.sketches import sorted_unique

MIX = np.uint64(0x9E3779B97F4A7C15)


@pytest.mark.parametrize("kinds", [2, 5, 40])
def test_a_label_seen_only_after_the_leading_slice_is_found(kinds: int) -> None:
    rng = np.random.default_rng(kinds)
    labels = rng.integers(0, kinds, 150_000).astype(np.uint64) * MIX
    labels[140_000] = np.uint64(7)  # one more value, far past the first 65,536 rows
    distinct, codes = _few_distinct(labels, 256)
    assert distinct is not None
    assert np.array_equal(distinct, sorted_unique(labels))
    assert np.array_equal(distinct[codes.astype(np.int64)], labels)


def test_too_many_labels_are_refused() -> None:
    values = np.arange(300, dtype=np.uint64) * MIX
    assert _few_distinct(values, 256)[0] is None
    late = np.zeros(100_000, np.uint64)
    late[70_000:70_300] = np.arange(1, 301, dtype=np.uint64)
    assert _few_distinct(late, 256)[0] is None


def test_conflicts_agree_with_the_lexsort_when_a_label_comes_late() -> None:
    rng = np.random.default_rng(1)
    features = rng.integers(0, 50_000, 120_000).astype(np.uint64) * MIX
    labels = rng.integers(0, 2, 120_000).astype(np.uint64)
    labels[-10:] = np.uint64(9)
    fast, slow = (
        conflicting_labels(features, labels),
        _conflicting_labels_by_lexsort(features, labels),
    )
    assert (fast.groups, fast.rows_in_groups) == (slow.groups, slow.rows_in_groups)


def test_one_group_is_shared_read_only_and_several_are_summed() -> None:
    a, b = np.arange(5, dtype=np.uint64), np.full(5, 10, np.uint64)
    hashes = RowHashes("d", {"features": a, "label": b}, {"x": "features", "y": "label"})
    one = hashes.over(["x"])
    assert one is not None and np.shares_memory(one, a) and not one.flags.writeable
    both = hashes.over(["x", "y"])
    assert both is not None and both.tolist() == (a + b).tolist()
    assert a.tolist() == [0, 1, 2, 3, 4]  # untouched


def test_the_largest_whole_group_inside_the_columns_is_chosen() -> None:
    f, lab, e = (np.arange(4, dtype=np.uint64) * k for k in (1, 2, 3))
    groups = {"a": "features", "b": "features", "y": "label", "p": "extra"}
    hashes = RowHashes("d", {"features": f, "label": lab, "extra": e, "id": None}, groups)
    chosen = hashes.largest_group_within(["a", "b", "y", "p"])
    assert chosen is not None and chosen[0] == "features" and chosen[1] is f
    assert hashes.largest_group_within(["a", "y"]) == ("label", lab)  # "b" missing: not whole
    assert hashes.largest_group_within(["a"]) is None


def test_all_distinct() -> None:
    assert all_distinct(np.empty(0, np.uint64)) and all_distinct(np.array([3], np.uint64))
    values = np.random.default_rng(0).permutation(100_000).astype(np.uint64) * MIX
    assert all_distinct(values)
    values[77_777] = values[3]
    assert not all_distinct(values)
