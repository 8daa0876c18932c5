"""assay.profiles.kll: a sorted batch compacted by slicing, written in DataSketches' format."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from datasketches import kll_doubles_sketch

from assay.profiles.kll import add_sorted, batch_sketch, capacity, items_and_weights, mix


def _levels(sketch: kll_doubles_sketch) -> tuple[int, int]:
    """(number of levels, first item offset) from DataSketches' own serialisation."""
    image = sketch.serialize()
    return image[18], struct.unpack_from("<I", image, 20)[0]


@pytest.mark.parametrize("k", [8, 200, 800])
def test_capacity_matches_datasketches(k: int) -> None:
    rng = np.random.default_rng(k)
    seen = set()
    for n in [3 * k, 10 * k, 100 * k, 1000 * k, 5000 * k]:
        sketch = kll_doubles_sketch(k)
        sketch.update(rng.normal(size=n))
        count, first = _levels(sketch)
        assert first + sketch.num_retained == capacity(k, count)
        seen.add(count)
    assert len(seen) >= 4  # several level counts were compared


def _ranks(sketch: kll_doubles_sketch, ordered: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Sketch ranks (items ≤ point, weighted) against exact ones, in items."""
    weighted = sorted((float(v), int(w)) for v, w in sketch)
    values = np.array([v for v, _ in weighted])
    cum = np.cumsum([w for _, w in weighted])
    found = np.searchsorted(values, points, side="right")
    estimate = np.where(found > 0, cum[np.maximum(found - 1, 0)], 0)
    exact = np.searchsorted(ordered, points, side="right")
    return np.asarray(estimate - exact)


@pytest.mark.parametrize("n", [801, 1_000, 65_536, 100_003])
def test_batch_sketch_is_a_valid_kll_sketch_within_its_bound(n: int) -> None:
    ordered = np.sort(np.random.default_rng(n).standard_t(3, size=n))
    sketch = batch_sketch(ordered, 800, mix(n))
    assert sketch.n == n and not sketch.is_empty()
    assert sketch.get_min_value() == ordered[0] and sketch.get_max_value() == ordered[-1]
    assert sum(int(w) for _, w in sketch) == n  # every value's weight is accounted for
    halvings = _levels(sketch)[0] - 1
    assert sketch.num_retained <= 800 + halvings
    errors = _ranks(sketch, ordered, ordered[:: max(1, n // 997)])
    assert np.abs(errors).max() <= 2**halvings - 1
    # It behaves as any sketch: serialise, merge, update.
    again = kll_doubles_sketch.deserialize(sketch.serialize())
    again.merge(sketch)
    again.update(0.0)
    assert again.n == 2 * n + 1


def test_batch_sketch_is_deterministic_and_its_bits_choose_the_positions() -> None:
    ordered = np.sort(np.random.default_rng(3).normal(size=65_536))
    same = {bytes(batch_sketch(ordered, 800, 12345).serialize()) for _ in range(3)}
    assert len(same) == 1
    kept = {tuple(sorted(float(v) for v, _ in batch_sketch(ordered, 800, b))) for b in range(8)}
    assert len(kept) == 8


def test_add_sorted_matches_exact_quantiles_within_kll_error() -> None:
    rng = np.random.default_rng(11)
    sketch = kll_doubles_sketch(800)
    batches = [rng.lognormal(size=size) for size in [65_536] * 15 + [16_960, 500]]
    for i, batch in enumerate(batches):
        add_sorted(sketch, np.sort(batch), seed=i)
    values = np.sort(np.concatenate(batches))
    assert sketch.n == values.size == items_and_weights(sketch)[1].sum()
    assert sketch.get_min_value() == values[0] and sketch.get_max_value() == values[-1]
    ranks = np.linspace(0.01, 0.99, 99)
    estimates = np.array(sketch.get_quantiles(list(ranks)))
    true_ranks = np.searchsorted(values, estimates, side="right") / values.size
    assert np.abs(true_ranks - ranks).max() <= sketch.normalized_rank_error(False)


def test_add_sorted_leaves_small_batches_to_update() -> None:
    ordered = np.sort(np.random.default_rng(5).normal(size=800))
    plain, ours = kll_doubles_sketch(800), kll_doubles_sketch(800)
    plain.update(ordered)
    add_sorted(ours, ordered, seed=1)
    assert bytes(ours.serialize()) == bytes(plain.serialize())


@pytest.mark.parametrize("n", [0, 1, 2, 800, 801, 70_000])
def test_items_and_weights_are_the_sketch_iterators_pairs(n: int) -> None:
    rng = np.random.default_rng(n)
    plain, ours = kll_doubles_sketch(800), kll_doubles_sketch(800)
    if n:
        plain.update(rng.normal(size=n))
        for i in range(3):
            add_sorted(ours, np.sort(rng.normal(size=n)), seed=i)
    for sketch in (plain, ours):
        items, weights = items_and_weights(sketch)
        pairs = list(sketch)
        assert items.tolist() == [float(v) for v, _ in pairs]
        assert weights.tolist() == [float(w) for _, w in pairs]
        assert weights.sum() == sketch.n
