"""assay.profiles.kll's sampler: one random value of each block of ``stride``, within its bound.

The accuracy tests build, besides the merged sketch, the sampler's own summary of the data
(every batch sketch's items and weights, before KLL merges them), so that they measure the
sampler's error against its own bound — ``2.576 · √(s / 4n)`` at one rank, ``3.26 ·`` that
standard deviation at all ranks at once (the Kolmogorov distribution's 99 % point over its
largest standard deviation, ½) — and not only within KLL's larger one. Periodic data and
data sorted within each block are the cases a fixed or shared offset gets wrong (tested to
fail with those: 40–90 % rank errors); sorted arrival order is the easy case for a
stratified sampler (error ≤ ``s`` ranks per batch) and is kept as an edge.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import struct

import numpy as np
import pyarrow as pa
import pytest
from datasketches import kll_doubles_sketch

from assay.profiles.column import ColumnProfile
from assay.profiles.kll import (
    MAX_STRIDE,
    SAMPLER_ROWS,
    add_sampled,
    add_sorted,
    batch_stride,
    items_and_weights,
    mix,
    random_bytes,
    sample_positions,
    sampling_stride,
)
from assay.profiles.sketches import column_seed
from assay.profiles.table import TableProfile

BATCH = 65_536
Z99 = 2.576  # two-sided 99 % of a normal distribution: one rank
SUP99 = 3.26  # 99 % of the largest |error| over all ranks (Kolmogorov: 1.63 / 0.5)


@pytest.mark.parametrize(
    ("rows", "stride"),
    [
        (0, 1),
        (1_000_000, 1),
        (1_249_999, 1),
        (1_250_000, 2),
        (2_499_999, 2),
        (2_500_000, 4),
        (4_999_999, 4),
        (5_000_000, 8),
        (9_999_999, 8),
        (10_000_000, 16),
        (SAMPLER_ROWS * MAX_STRIDE, MAX_STRIDE),
        (10**12, MAX_STRIDE),
    ],
)
def test_the_stride_is_the_largest_power_of_two_within_rows_over_625k(
    rows: int, stride: int
) -> None:
    assert sampling_stride(rows) == stride


def test_the_documented_bound_holds_for_every_stride() -> None:
    kll = kll_doubles_sketch(800).normalized_rank_error(False)
    for rows in [1_250_000, 5_000_000, 7_777_777, 10**8]:
        stride = sampling_stride(rows)
        sampler = Z99 * math.sqrt(stride / (4 * rows))
        assert sampler <= 0.00163 and math.hypot(kll, sampler) <= 0.0039


@pytest.mark.parametrize(
    ("stride", "values", "rows", "chosen"),
    [
        (8, BATCH, BATCH, 8),
        (8, BATCH // 2, BATCH, 4),
        (8, BATCH // 2 - 1, BATCH, 2),
        (8, BATCH // 8 - 1, BATCH, 1),
        (1, BATCH, BATCH, 1),
    ],
)
def test_a_batch_with_nulls_samples_with_a_smaller_stride(
    stride: int, values: int, rows: int, chosen: int
) -> None:
    assert batch_stride(stride, values, rows) == chosen


def test_the_random_bytes_are_splitmix64s_stream() -> None:
    expected = b"".join(
        struct.pack("<Q", mix((12_345 + i * 0x9E3779B97F4A7C15) & (2**64 - 1))) for i in range(3)
    )
    assert bytes(random_bytes(12_345, 20)) == expected[:20]
    assert bytes(random_bytes(12_346, 20)) != expected[:20]


@pytest.mark.parametrize("size", [3_200, 65_535, BATCH])
@pytest.mark.parametrize("stride", [2, 8, 64, 256])
def test_each_block_keeps_one_of_its_own_values(size: int, stride: int) -> None:
    n0, positions, _ = sample_positions(size, stride, mix(size * stride))
    assert n0 == 2 + (size - 2) % stride and (size - n0) % stride == 0
    assert positions.size == (size - n0) // stride
    block = (positions - n0) // stride
    assert np.array_equal(block, np.arange(positions.size))  # one per block, inside it
    assert positions.min() >= n0 and positions.max() < size
    offsets = np.unique((positions - n0) % stride)  # not one shared offset
    assert offsets.size == stride if positions.size >= 16 * stride else offsets.size > 1


def test_every_blocks_choice_is_uniform_over_batches() -> None:
    """Over many batches (keys), each block's offset takes each of its ``s`` values equally
    often, and neighbouring blocks choose independently."""
    stride, batches = 8, 4_096
    counts = np.zeros((8_191, stride))
    for key in range(batches):
        n0, positions, _ = sample_positions(BATCH, stride, mix(key))
        counts[np.arange(positions.size), (positions - n0) % stride] += 1
    expected = batches / stride
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=1)  # 7 degrees of freedom per block
    assert abs(chi2.mean() - (stride - 1)) < 0.2  # E = 7, sd of the mean ≈ 0.04
    assert chi2.max() < 40  # P(χ²₇ > 40) ≈ 1e-6 per block
    # Within one batch, neighbouring blocks' choices are independent: all s² pairs appear.
    _, positions, _ = sample_positions(BATCH, stride, mix(1))
    offsets = positions % stride
    pairs = np.bincount(offsets[:-1] * stride + offsets[1:], minlength=stride * stride)
    assert pairs.min() > 0.7 * positions.size / stride**2


def _data(kind: str, n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "heavy-tailed":
        return rng.standard_t(1.5, size=n)
    if kind == "sorted":
        return np.sort(rng.lognormal(size=n))
    if kind == "period 8":  # the stride: a fixed offset sees one value only
        return np.tile(np.arange(8.0), n // 8)
    if kind == "period 16":
        return np.tile(np.arange(16.0), n // 16)
    assert kind == "sorted blocks"  # each run of 8 ascending: a fixed offset is biased
    return np.sort(rng.normal(size=(n // 8, 8)), axis=1).ravel()


def _summary_ranks(
    parts: list[tuple[np.ndarray, np.ndarray]], points: np.ndarray, n: int
) -> np.ndarray:
    """Normalised ranks (≤ point) in the weighted items of the batch sketches."""
    items = np.concatenate([p[0] for p in parts])
    weights = np.concatenate([p[1] for p in parts])
    order = np.argsort(items, kind="stable")
    items, cumulative = items[order], np.cumsum(weights[order])
    found = np.searchsorted(items, points, side="right")
    return np.where(found > 0, cumulative[np.maximum(found - 1, 0)], 0) / n


@pytest.mark.parametrize(
    "kind", ["normal", "heavy-tailed", "sorted", "period 8", "period 16", "sorted blocks"]
)
def test_sampled_sketch_ranks_are_within_the_kll_plus_sampler_bound(kind: str) -> None:
    stride, n = 8, 64 * BATCH  # 4.2 M values
    x = _data(kind, n)
    sketch, parts = kll_doubles_sketch(800), []
    for start in range(0, n, BATCH):
        batch = kll_doubles_sketch(800)
        low, high = add_sampled(batch, x[start : start + BATCH], stride, 99, position=start)
        piece = x[start : start + BATCH]
        assert (low, high) == (piece.min(), piece.max())
        assert batch.n == BATCH and batch.get_min_value() == low and batch.get_max_value() == high
        items, weights = items_and_weights(batch)
        assert weights.sum() == BATCH and weights.max() >= stride  # the sample weighs `stride`
        assert [(float(v), int(w)) for v, w in batch] == list(zip(items, weights, strict=True))
        parts.append((items, weights))
        sketch.merge(kll_doubles_sketch.deserialize(batch.serialize()))  # DataSketches reads it
    ordered = np.sort(x)
    # (DataSketches' iterator misweighs a merged sketch whose level 0 is empty, with or
    # without the sampler; items_and_weights reads the levels themselves.)
    assert sketch.n == n and items_and_weights(sketch)[1].sum() == n
    assert sketch.get_min_value() == ordered[0] and sketch.get_max_value() == ordered[-1]

    points = np.unique(ordered[np.linspace(0, n - 1, 199).astype(np.int64)])
    exact = np.searchsorted(ordered, points, side="right") / n
    sd = math.sqrt(stride / (4 * n))  # the sampler's bound: 0.069 %; 0.178 % at 99 %
    sampler_bound = Z99 * sd
    # The sampler's own summary (each batch: sample and halvings, before any merge): at
    # the median, and at all 199 points at once.
    summary = _summary_ranks(parts, points, n) - exact
    assert abs(summary[np.abs(exact - 0.5).argmin()]) <= sampler_bound
    assert np.abs(summary).max() <= SUP99 * sd
    # The merged sketch: KLL's bound plus the sampler's, by rank and by quantile.
    bound = sketch.normalized_rank_error(False) + sampler_bound
    ranks = np.array([sketch.get_rank(p, inclusive=True) for p in points])
    assert np.abs(ranks - exact).max() <= bound
    wanted = np.linspace(0.01, 0.99, 99)
    quantiles = np.array(sketch.get_quantiles(list(wanted)))
    below = np.searchsorted(ordered, quantiles, side="left") / n
    upto = np.searchsorted(ordered, quantiles, side="right") / n
    assert np.maximum(below - wanted, wanted - upto).max() <= bound  # outside the value's span


@pytest.mark.parametrize("kind", ["period 8", "sorted blocks"])
def test_the_rank_error_at_the_median_averages_to_zero(kind: str) -> None:
    """Equal batches at different positions draw different samples, and each block's draw is
    random: over 256 batches the error at the median averages to ~0 and varies from batch to
    batch as the bound's variance says (a fixed or repeated choice is off in every batch)."""
    stride, batches = 8, 256
    piece = _data(kind, BATCH)
    median = np.median(piece)
    exact = np.count_nonzero(piece <= median) / BATCH
    errors = []
    for b in range(batches):
        sketch = kll_doubles_sketch(800)
        add_sampled(sketch, piece, stride, 5, position=b * BATCH)
        items, weights = items_and_weights(sketch)
        errors.append(weights[items <= median].sum() / BATCH - exact)
    sd = math.sqrt(stride / (4 * BATCH))  # per batch, 0.55 % (period 8: p = ½ in every block)
    mean = float(np.mean(errors))
    assert abs(mean) < 4 * sd / math.sqrt(batches)
    assert 0.8 * sd < float(np.std(errors)) < 1.2 * sd  # the bound is also the variance


def test_a_long_batch_is_sampled_in_pieces_and_a_short_tail_sorted() -> None:
    x = np.random.default_rng(2).normal(size=2 * BATCH + 1_000)
    sketch = kll_doubles_sketch(800)
    assert add_sampled(sketch, x, 4, 1) == (x.min(), x.max())
    assert sketch.n == x.size == items_and_weights(sketch)[1].sum()
    with pytest.raises(ValueError, match="power of two"):
        add_sampled(kll_doubles_sketch(800), x, 6, 1)


def test_the_sampler_is_reproducible_for_the_same_data_and_position() -> None:
    x = np.random.default_rng(4).normal(size=BATCH)
    images = set()
    for _ in range(3):
        sketch = kll_doubles_sketch(800)
        add_sampled(sketch, x, 8, 3, position=BATCH)
        images.add(bytes(sketch.serialize()))
    assert len(images) == 1
    other = kll_doubles_sketch(800)
    add_sampled(other, x, 8, 3, position=2 * BATCH)
    assert bytes(other.serialize()) not in images


def _column(values: np.ndarray, stride: int) -> ColumnProfile:
    profile = ColumnProfile.empty("x", pa.float64(), exact_limit=0, kll_stride=stride)
    for start in range(0, values.size, BATCH):
        profile.update(pa.array(values[start : start + BATCH]))
    return profile


def test_a_sampled_column_profile_keeps_its_exact_parts() -> None:
    rng = np.random.default_rng(9)
    x = rng.gamma(2.0, size=32 * BATCH)
    x[rng.random(x.size) < 0.01] = np.nan
    sampled, plain = _column(x, 8), _column(x, 1)
    for part in ("count", "nulls", "nans", "n_finite", "min", "max"):
        assert getattr(sampled, part) == getattr(plain, part), part
    assert sampled.mean == pytest.approx(plain.mean, rel=1e-12)
    assert sampled.m2 == pytest.approx(plain.m2, rel=1e-12)
    assert sampled.kll is not None and sampled.kll.n == plain.n_finite
    finite = np.sort(x[~np.isnan(x)])
    ranks = np.linspace(0.01, 0.99, 99)
    found = np.searchsorted(finite, sampled.quantiles(ranks), side="right") / finite.size
    bound = sampled.kll.normalized_rank_error(False) + Z99 * math.sqrt(8 / (4 * finite.size))
    assert np.abs(found - ranks).max() <= bound


def test_a_column_with_nulls_samples_by_its_density(monkeypatch: pytest.MonkeyPatch) -> None:
    strides: list[int] = []

    def spy(
        sketch: kll_doubles_sketch, x: np.ndarray, stride: int, *args: int, **kw: int
    ) -> object:
        strides.append(stride)
        return add_sampled(sketch, x, stride, *args, **kw)

    monkeypatch.setattr("assay.profiles.column.add_sampled", spy)
    x = np.random.default_rng(1).normal(size=BATCH)
    profile = ColumnProfile.empty("x", pa.float64(), exact_limit=0, kll_stride=8)
    profile.update(pa.array(x))
    profile.update(pa.array(x, mask=np.arange(BATCH) % 2 == 0))  # half null: stride 4
    profile.update(pa.array(x, mask=np.arange(BATCH) % 16 != 0))  # 1/16 present: sorted
    assert strides == [8, 4]
    assert profile.kll is not None and profile.kll.n == BATCH + BATCH // 2 + BATCH // 16


def test_the_stride_survives_pickling_and_merging_but_not_the_file() -> None:
    x = np.random.default_rng(3).normal(size=4 * BATCH)
    sampled, plain = _column(x, 8), _column(x[:1000], 1)
    assert pickle.loads(pickle.dumps(sampled)).kll_stride == 8
    assert sampled.merge(plain).kll_stride == plain.merge(sampled).kll_stride == 8
    table = TableProfile({"x": sampled}, x.size)
    assert "kll_stride" not in str(table.to_json())  # the file format is unchanged
    loaded = TableProfile.from_bytes(table.to_bytes())["x"]
    assert loaded.kll_stride == 1 and loaded.kll is not None and loaded.kll.n == x.size
    merged = loaded.merge(plain)
    assert merged.kll is not None and merged.kll.n == x.size + 1000


def test_plan_tasks_sets_the_stride_from_the_datasets_rows() -> None:
    from assay.profiles.engine import ScanOptions, plan_tasks, run_task
    from assay.sources import open_dataset
    from assay.spec import spec_from_mapping

    table = pa.table({"x": np.random.default_rng(0).normal(size=5 * BATCH)})
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "t"}, "datasets": {"d": {"data": table}}}
    )
    small = open_dataset(spec, "d")
    options = ScanOptions(row_hashes=False)
    for rows, stride in [(small.rows, 1), (1_249_999, 1), (1_250_000, 2), (5_000_000, 8)]:
        ds = dataclasses.replace(small, rows=rows)
        tasks = plan_tasks({"d": ds}, options, 2)
        assert tasks and {t.kll_stride for t in tasks} == {stride}
    # run_task hands the stride to the column profiles it builds.
    (task,) = plan_tasks({"d": small}, options, 1)
    result = run_task(dataclasses.replace(task, kll_stride=4))
    profile = result.profiles["x"]
    assert profile.kll_stride == 4 and profile.kll is not None and profile.kll.n == 5 * BATCH
    plain = run_task(task).profiles["x"]
    assert plain.kll_stride == 1 and (profile.min, profile.max) == (plain.min, plain.max)


def test_without_a_stride_a_column_sketch_is_the_sorted_batches_one() -> None:
    x = np.random.default_rng(6).normal(size=3 * BATCH)
    profile = _column(x, 1)
    expected = kll_doubles_sketch(800)
    seed = column_seed("x")
    for start in range(0, x.size, BATCH):
        add_sorted(expected, np.sort(x[start : start + BATCH]), seed)
    assert profile.kll is not None
    assert bytes(profile.kll.serialize()) == bytes(expected.serialize())
