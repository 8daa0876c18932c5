"""Perturbations of a feature table: scaling, seen categories, null shares, ranges, types."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from assay.stats.perturb import (
    FeatureFacts,
    add_noise,
    beyond_range,
    feature_kind,
    fill_column,
    inject_nulls,
    null_column,
    numeric_values,
    sample_positions,
    swap_categories,
)

N = 20_000


def table() -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "a": rng.normal(0, 1, N),
            "b": rng.normal(100, 10, N),
            "k": pa.array(rng.integers(0, 50, N), pa.int32()),
            "c": rng.choice(["x", "y", "z"], N),
            "flag": rng.random(N) < 0.5,
            "when": pa.array(np.arange(N).astype("datetime64[s]")),
        }
    )


FACTS = {
    "a": FeatureFacts("a", "numeric", std=1.0, low=-4.0, high=4.0, median=0.0),
    "b": FeatureFacts("b", "numeric", std=10.0, low=60.0, high=140.0, median=100.0),
    "k": FeatureFacts("k", "numeric", std=14.0, low=0.0, high=49.0, median=25.0),
    "c": FeatureFacts("c", "categorical", categories=("x", "y", "z")),
    "flag": FeatureFacts("flag", "categorical", categories=(False, True)),
    "when": FeatureFacts("when", "other"),
}


def test_feature_kinds() -> None:
    t = table()
    kinds = {f.name: feature_kind(f.type) for f in t.schema}
    assert kinds == {
        "a": "numeric",
        "b": "numeric",
        "k": "numeric",
        "c": "categorical",
        "flag": "categorical",
        "when": "other",
    }
    assert feature_kind(pa.dictionary(pa.int8(), pa.string())) == "categorical"


def test_noise_is_scaled_by_each_features_std() -> None:
    t = table()
    noisy = add_noise(t, FACTS, 0.2, np.random.default_rng(1))
    assert noisy.schema == t.schema
    for name, std in (("a", 1.0), ("b", 10.0)):
        delta = numeric_values(noisy, name) - numeric_values(t, name)
        assert abs(delta.std() - 0.2 * std) < 0.02 * 0.2 * std * 5
        assert abs(delta.mean()) < 0.01 * std
    # Integers stay integers (rounded), categoricals and others untouched.
    k_delta = numeric_values(noisy, "k") - numeric_values(t, "k")
    assert np.all(k_delta == np.round(k_delta)) and k_delta.std() == pytest.approx(2.8, rel=0.1)
    for name in ("c", "flag", "when"):
        assert noisy.column(name).equals(t.column(name))


def test_noise_is_seeded_and_keeps_nulls() -> None:
    t = pa.table({"a": pa.array([1.0, None, 3.0, None])})
    one = add_noise(t, FACTS, 0.5, np.random.default_rng(3))
    two = add_noise(t, FACTS, 0.5, np.random.default_rng(3))
    assert one.equals(two)
    assert one.column("a").null_count == 2
    assert not one.equals(add_noise(t, FACTS, 0.5, np.random.default_rng(4)))
    zero = {"a": FeatureFacts("a", "numeric", std=0.0)}
    assert add_noise(t, zero, 0.5, np.random.default_rng(3)).equals(t)


def test_category_swaps_go_to_another_seen_category() -> None:
    t = table()
    swapped = swap_categories(t, FACTS, 0.3, np.random.default_rng(2))
    before = np.array(t.column("c").to_pylist())
    after = np.array(swapped.column("c").to_pylist())
    changed = before != after
    assert changed.sum() == round(0.3 * N)
    assert set(after) <= {"x", "y", "z"}
    flags = np.array(swapped.column("flag").to_pylist()) != np.array(t.column("flag").to_pylist())
    assert flags.sum() == round(0.3 * N)
    # Uniform over the other categories: from "x", about half to "y" and half to "z".
    from_x = after[changed & (before == "x")]
    assert abs((from_x == "y").mean() - 0.5) < 0.05
    assert swapped.column("a").equals(t.column("a"))


def test_category_swap_of_unseen_values_and_single_category_columns() -> None:
    t = pa.table({"c": ["new", "new", None, "x"], "d": ["only", "only", "only", "only"]})
    facts = {
        "c": FeatureFacts("c", "categorical", categories=("x", "y")),
        "d": FeatureFacts("d", "categorical", categories=("only",)),
    }
    out = swap_categories(t, facts, 1.0, np.random.default_rng(0))
    assert out.column("c").to_pylist()[:3] != ["new", "new", None]
    assert set(out.column("c").to_pylist()[:2]) <= {"x", "y"}
    assert out.column("c").to_pylist()[2] is None  # nulls stay null
    assert out.column("c").to_pylist()[3] == "y"
    assert out.column("d").equals(t.column("d"))


def test_dictionary_columns_keep_their_type() -> None:
    t = pa.table({"c": pa.array(["x", "y"] * 50).dictionary_encode()})
    facts = {"c": FeatureFacts("c", "categorical", categories=("x", "y"))}
    out = swap_categories(t, facts, 1.0, np.random.default_rng(0))
    assert out.schema == t.schema
    assert out.column("c").to_pylist() == ["y", "x"] * 50


@pytest.mark.parametrize("share", [0.0, 0.05, 0.5, 1.0])
def test_null_injection_shares(share: float) -> None:
    t = table()
    out = inject_nulls(t, ["a", "c", "k", "when"], share, np.random.default_rng(5))
    assert out.schema == t.schema
    for name in ("a", "c", "k", "when"):
        assert out.column(name).null_count == round(share * N)
    assert out.column("b").null_count == 0
    # Independent per column: the nulled rows differ between columns.
    if 0 < share < 1:
        a = np.asarray(out.column("a").is_null())
        c = np.asarray(out.column("c").is_null())
        assert not np.array_equal(a, c)


def test_dropout_and_fill() -> None:
    t = table()
    assert null_column(t, "c").column("c").null_count == N
    assert null_column(t, "c").schema == t.schema
    filled = fill_column(t, "b", 100.4)
    assert set(filled.column("b").to_pylist()) == {100.4}
    assert set(fill_column(t, "k", 25.4).column("k").to_pylist()) == {25}
    assert set(fill_column(t, "c", "x").column("c").to_pylist()) == {"x"}


def test_out_of_range_values_lie_beyond_the_training_range() -> None:
    t = table()
    out = beyond_range(t, FACTS, 3.0, np.random.default_rng(6))
    changed_per_row = np.zeros(N, dtype=int)
    for name in ("a", "b", "k"):
        f = FACTS[name]
        x, y = numeric_values(t, name), numeric_values(out, name)
        moved = x != y
        changed_per_row += moved
        assert f.std is not None and f.low is not None and f.high is not None
        low, high = f.low - 3 * f.std, f.high + 3 * f.std
        assert np.all(np.isclose(y[moved], low) | np.isclose(y[moved], high))
        below = np.isclose(y[moved], low).mean()
        assert 0.45 < below < 0.55
    assert (changed_per_row <= 1).all() and changed_per_row.mean() > 0.99
    assert out.schema == t.schema


def test_extreme_values_are_clipped_in_integer_columns() -> None:
    t = pa.table({"k": pa.array([1, 2, 3], pa.int8()), "a": [0.0, 1.0, 2.0]})
    facts = {
        "k": FeatureFacts("k", "numeric", std=1.0, low=0.0, high=5.0),
        "a": FeatureFacts("a", "numeric", std=1.0, low=0.0, high=5.0),
    }
    out = beyond_range(t, facts, float("inf"), np.random.default_rng(0))
    assert out.schema == t.schema
    assert set(out.column("k").to_pylist()) <= {1, 2, 3, -128, 127}
    assert set(out.column("a").to_pylist()) <= {0.0, 1.0, 2.0, float("inf"), float("-inf")}


def test_sample_positions() -> None:
    assert sample_positions(5, 10, 0).tolist() == [0, 1, 2, 3, 4]
    picked = sample_positions(1_000_000, 2000, 7)
    assert len(picked) == 2000 and len(set(picked.tolist())) == 2000
    assert np.all(np.diff(picked) > 0)
    assert np.array_equal(picked, sample_positions(1_000_000, 2000, 7))
