"""Feeding a batch to a DataSketches KLL sketch in one merge instead of value by value.

``kll_doubles_sketch.update(array)`` inserts the values one at a time (about 7 ns each here,
the largest single cost of the profile pass: 40 million numbers at 1M rows × 20 columns × 2
tables). KLL's own work on a batch is compaction: a full level is sorted and every other item
(odd or even positions, a random choice) moves one level up with twice the weight, and an odd
item out stays behind. Applied to a whole *sorted* batch, those compactions are slicing:
:func:`batch_sketch` halves the batch level by level until at most ``k`` items remain (the
top level's capacity), leaving the smallest item behind at each level where the count is
odd, exactly as KLL's compaction does (level 0 keeps the two smallest when its count is even,
so that it is never empty). It writes the result in DataSketches' own compact
serial format (preamble 5, serial version 1, family 15; levels, min, max, items — the format
every DataSketches language reads) and :func:`add_sorted` merges it into the column's sketch.

Error: each halving moves any rank by at most the weight of the items it halves and by zero
on average, so one batch's summary is within ``2^h − 1`` ranks of the batch (``h`` halvings:
7 for a 65,536-value batch at ``k = 800``, so 127 ranks, 0.2 % of the batch) — the same error
KLL's own compactions of those levels allow, and independent between batches. The sketch's
count, minimum and maximum stay exact. A merged sketch keeps DataSketches' error bound for
``k``; the benchmark's property tests compare quantiles with the exact ones.

**The sampler** (large datasets). Sorting every batch is the sketch's remaining cost. KLL's
paper (Karnin, Lang, Liberty 2016) replaces the lowest compactors of a long stream by a
*sampler*: of every ``s`` consecutive values one, chosen uniformly at random, is kept with
weight ``s``. :func:`add_sampled` does that to a batch (in pieces of at most 65,536 values,
each of at least ``4k``; smaller ones are sorted whole) and sorts only the sample, which
enters the batch's sketch at level ``log2 s`` and is halved from there as above (each
halving of weight-``s`` items: ``s · (2^h − 1)`` ranks at most, 120 at ``s = 8``); the
first ``2 + (size − 2) mod s`` values stay at level 0 with weight 1, so the weights sum to
the batch's size, and its exact minimum and maximum go in the header. ``s`` comes from the
dataset's row count (:func:`sampling_stride`: the largest power of two at most
``rows / 625,000``, so 1 — no sampling, the path above — below 1.25 million rows, 8 at 5
million) and is lowered for a batch in which the column has fewer finite values than rows
(:func:`batch_stride`).

The sampler's error: at any value ``y`` a block whose ``c`` values are ≤ ``y`` contributes
``s`` to the rank with probability ``p = c / s`` — exactly ``c`` on average, with variance
``s² · p(1 − p) ≤ s²/4``. The blocks' choices are independent, so over ``n / s`` blocks the
rank's variance is at most ``n · s / 4`` and the normalised rank error's standard deviation
at most ``√(s / 4n)``. With ``s ≤ rows / 625,000`` and a column with a finite value in every
row (``n = rows``) that is at most ``√(1 / 2,500,000) ≈ 0.063 %``, so ``0.163 %`` at 99 %
(2.576 σ; the sum of many independent blocks is close to normal). It is independent of
KLL's own error (0.35 % at 99 % for ``k = 800``): in quadrature the two give ``0.39 %``
instead of ``0.35 %``. The bound holds for columns with nulls spread over the rows (the
per-batch stride follows the column's density); a column with finite values in only a
fraction ``φ`` of the rows, all in a few batches, has its sampler term multiplied by up to
``1/√φ``. Count, minimum, maximum and the profile's moments stay exact.

Randomness: the choices come from the batch itself (its size, its first and last values —
its smallest and largest when sorted — and, for the sampler, where it starts: the first
row of the task's slice plus the values the profile took before it, so that equal batches
anywhere in a dataset draw differently), mixed with a
per-column seed by SplitMix64, so a profile is reproducible for the same data; DataSketches'
own compactions during merges draw from its internal generator.

Block ``j`` keeps the value at offset ``byte_j mod s``, ``byte_j`` the ``j``-th byte of a
SplitMix64 stream seeded with the batch's 64 bits and computed with NumPy (a few µs per
batch; no per-batch random generator object, tens of µs each, is made): every block's
choice is uniform and independent of the others' as far as SplitMix64's output is. (Cheaper
schemes tried fell short: a fixed table of random offsets read from a per-batch start gives
each batch a variance set by the one table drawn — 0.4× the bound in one trial, and nothing
keeps it below — and a pairwise-independent multiply-shift hash has the bound's variance but
heavy tails: most batches nearly exact, rare ones far off.)
"""

from __future__ import annotations

import functools
import struct

import numpy as np
from datasketches import kll_doubles_sketch

MIN_WIDTH = 8
"""DataSketches' ``m``: the smallest capacity of a level."""

SAMPLER_ROWS = 625_000
"""Rows per unit of sampling stride: a dataset of ``rows`` rows samples 1 value in
``sampling_stride(rows)``, which keeps the sampler's normalised rank error's standard
deviation at most ``√(1 / (4 · 625,000)) ≈ 0.063 %`` (see the module doc)."""

MAX_STRIDE = 256
"""The largest stride used (from 160 million rows on): the sample then costs little beside
the batch's minimum and maximum, and a smaller stride only lowers the error."""

SAMPLE_FROM = 4
"""A batch is sampled only from ``SAMPLE_FROM · k`` finite values on; smaller ones are
sorted whole."""

_CHUNK = 1 << 16
"""The sampler takes batches in pieces of at most this many values."""

_HEADER = struct.Struct("<BBBBHBBQHBB")
_PREAMBLE_INTS, _SERIAL_VERSION, _FAMILY, _SORTED_LEVEL_ZERO = 5, 1, 15, 2
_MASK = (1 << 64) - 1
_EMPTY = np.empty(0, np.float64)
_GOLDEN = 0x9E3779B97F4A7C15
_WEYL = np.arange(_CHUNK // 8, dtype=np.uint64) * np.uint64(_GOLDEN)  # wraps modulo 2^64
"""``i · γ``: SplitMix64's states, offset by a seed, for the sampler's random bytes."""


@functools.cache
def capacity(k: int, num_levels: int) -> int:
    """Items a KLL sketch of ``num_levels`` levels holds (DataSketches' total capacity)."""
    return sum(max(MIN_WIDTH, _level_capacity(k, num_levels - h - 1)) for h in range(num_levels))


def _level_capacity(k: int, depth: int) -> int:
    """``k · (2/3)^depth`` rounded as DataSketches rounds it (integer arithmetic)."""
    if depth > 30:
        half = depth // 2
        return _level_capacity(_level_capacity(k, half), depth - half)
    power: int = 3**depth
    return (((2 * k) << depth) // power + 1) >> 1


def mix(seed: int) -> int:
    """SplitMix64's finaliser: 64 well-mixed bits from any integer."""
    z = (seed + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def sampling_stride(rows: int) -> int:
    """The sampler's stride for a dataset of ``rows`` rows: the largest power of two at most
    ``rows / SAMPLER_ROWS`` (at least 1, at most :data:`MAX_STRIDE`).

    Bound (module doc): a block of ``s`` values represented by one uniformly chosen value of
    weight ``s`` adds a rank error of mean 0 and variance ≤ ``s²/4``; ``n / s`` independent
    blocks give variance ≤ ``n·s/4`` ranks², a normalised standard deviation ≤ ``√(s/4n)``.
    ``s ≤ n / 625,000`` makes that ≤ ``√(1/2,500,000) ≈ 0.0632 %``: ≤ 0.163 % at 99 %
    (2.576 σ), and with KLL's 0.35 % for ``k = 800`` in quadrature ≤ 0.39 %.
    """
    units = rows // SAMPLER_ROWS
    return 1 if units < 2 else min(MAX_STRIDE, 1 << (units.bit_length() - 1))


def batch_stride(stride: int, values: int, rows: int) -> int:
    """The stride for a batch of ``rows`` rows in which a column has ``values`` finite
    numbers: the largest power of two at most ``stride · values / rows`` (at least 1), so
    that a column with nulls (or NaN) spread over its rows keeps a full column's bound."""
    chosen = stride
    while chosen > 1 and chosen * rows > stride * values:
        chosen //= 2
    return chosen


def batch_sketch(
    ordered: np.ndarray,
    k: int,
    bits: int,
    *,
    level: int = 0,
    low: np.ndarray | None = None,
    bounds: tuple[float, float] | None = None,
) -> kll_doubles_sketch:
    """A KLL sketch of the sorted float64 batch ``ordered`` (more than ``k`` values, no NaN),
    compacted as KLL would; bit ``i`` of ``bits`` picks the positions kept at halving ``i``.

    A sample (:func:`add_sampled`) enters at ``level`` ≥ 1, each item standing for
    ``2^level`` values, above ``low``: the sorted values kept at level 0 with weight 1 (at
    least one, for DataSketches' iterator: see the comment below), and ``bounds`` are the
    whole batch's exact minimum and maximum; the levels between are empty. The sketch's
    count is then ``low.size + ordered.size · 2^level``. With the defaults the batch is
    ``ordered`` alone, as before the sampler.
    """
    levels: list[np.ndarray] = []
    n = ordered.size
    if level:
        if low is None or low.size == 0:
            raise ValueError("a sampled batch needs values at level 0")
        levels = [low, *([_EMPTY] * (level - 1))]
        n = low.size + (ordered.size << level)
    items = ordered
    while items.size > k:
        # An odd item out stays at its level (the smallest, as in KLL). Level 0 keeps two
        # when the count is even: DataSketches' iterator misweighs a sketch whose level 0
        # is empty (its items then read as weight 1), though ranks and merges do not.
        stay = items.size % 2 or (2 if not levels else 0)
        levels.append(items[:stay])
        items = items[stay + (bits & 1) :: 2]
        bits >>= 1
    levels.append(items)
    retained = np.concatenate(levels)
    count = len(levels)
    start = capacity(k, count) - retained.size
    offsets = np.cumsum([start, *(level.size for level in levels[:-1])], dtype=np.uint32)
    header = _HEADER.pack(
        _PREAMBLE_INTS,
        _SERIAL_VERSION,
        _FAMILY,
        _SORTED_LEVEL_ZERO,
        k,
        MIN_WIDTH,
        0,
        n,
        k,
        count,
        0,
    )
    smallest, largest = bounds if bounds is not None else (ordered[0], ordered[-1])
    bounds_image = struct.pack("<dd", smallest, largest)
    image = (
        header + offsets.astype("<u4").tobytes() + bounds_image + retained.astype("<f8").tobytes()
    )
    return kll_doubles_sketch.deserialize(image)


def _ends(values: np.ndarray) -> int:
    """64 bits from a batch's first and last values (its smallest and largest if sorted)."""
    first, last = np.asarray(values[[0, -1]], dtype="<f8").view("<u8")
    return int(first) ^ (int(last) << 1 & _MASK)


def add_sorted(sketch: kll_doubles_sketch, ordered: np.ndarray, seed: int) -> None:
    """Add the sorted, finite float64 batch ``ordered`` to ``sketch`` (see the module doc)."""
    if ordered.size <= sketch.k:
        sketch.update(ordered)
        return
    bits = mix(seed ^ ordered.size ^ _ends(ordered))
    sketch.merge(batch_sketch(ordered, sketch.k, bits))


def random_bytes(key: int, count: int) -> np.ndarray:
    """``count`` (at most 65,536) pseudo-random bytes: the little-endian bytes of
    ``mix(key + i·γ)`` for ``i = 0, 1, …`` — SplitMix64's stream seeded with ``key``,
    computed with NumPy's wrapping uint64 arithmetic (a few µs for 8,192 bytes; no
    generator object), so the same bytes on every platform and NumPy version."""
    z = _WEYL[: -(-count // 8)] + np.uint64((key + _GOLDEN) & _MASK)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z.astype("<u8", copy=False).view(np.uint8)[:count]


def sample_positions(size: int, stride: int, key: int) -> tuple[int, np.ndarray, int]:
    """The sampler's choices in a piece of ``size`` values (at most 65,536) for 64 random
    bits ``key``: ``(n0, positions, bits)``. The first ``n0 = 2 + (size − 2) mod stride``
    values stay at level 0; block ``j`` is values ``n0 + j·stride`` to ``n0 + (j+1)·stride −
    1`` and ``positions[j]`` the one it keeps, at offset ``byte_j mod stride`` for the
    ``j``-th byte of :func:`random_bytes` — uniform, and independent between blocks, as
    far as SplitMix64's output is; ``bits`` choose the halvings' positions."""
    if not 2 <= stride <= MAX_STRIDE or stride & (stride - 1):
        raise ValueError(f"the sampling stride must be a power of two in 2..{MAX_STRIDE}")
    if size > _CHUNK:
        raise ValueError(f"a sampled piece holds at most {_CHUNK} values")
    n0 = 2 + (size - 2) % stride
    offsets = random_bytes(key, (size - n0) // stride) & np.uint8(stride - 1)
    return n0, np.arange(n0, size, stride) + offsets, mix(key)


def add_sampled(
    sketch: kll_doubles_sketch, values: np.ndarray, stride: int, seed: int, position: int = 0
) -> tuple[float, float]:
    """Add the finite float64 batch ``values`` (in arrival order, unsorted) to ``sketch``
    through the sampler with ``stride`` (a power of two, 2 to 256; see the module doc), and
    return its exact minimum and maximum. ``position`` is how many of the column's values
    came before it, so that equal batches at different places draw different samples.
    Pieces of fewer than ``SAMPLE_FROM · k`` values are sorted whole instead."""
    smallest, largest = np.inf, -np.inf
    for start in range(0, values.size, _CHUNK):
        piece = values[start : start + _CHUNK]
        key = mix(seed ^ mix(position + start) ^ piece.size ^ _ends(piece))
        if piece.size < SAMPLE_FROM * sketch.k:
            ordered = np.sort(piece)
            low, high = float(ordered[0]), float(ordered[-1])
            add_sorted(sketch, ordered, key)
        else:
            low, high = float(piece.min()), float(piece.max())
            n0, positions, bits = sample_positions(piece.size, stride, key)
            sample = piece[positions]
            sample.sort()
            level = stride.bit_length() - 1
            kept = np.sort(piece[:n0])
            sketch.merge(
                batch_sketch(sample, sketch.k, bits, level=level, low=kept, bounds=(low, high))
            )
        smallest, largest = min(smallest, low), max(largest, high)
    return float(smallest), float(largest)


def items_and_weights(sketch: kll_doubles_sketch) -> tuple[np.ndarray, np.ndarray]:
    """The retained items of ``sketch`` and their weights (``2^level``), read from its serial
    image with NumPy, ~30× faster than iterating the sketch for k = 800 — and right where the
    iterator is not: DataSketches' iterator misweighs a merged sketch whose level 0 is empty."""
    if sketch.is_empty():
        return np.zeros(0), np.zeros(0)
    if sketch.n == 1:  # DataSketches' short single-item format
        return np.array([sketch.get_min_value()]), np.ones(1)
    image = bytes(sketch.serialize())
    count = image[18]
    offsets = np.frombuffer(image, "<u4", count, _HEADER.size).astype(np.int64)
    items = np.frombuffer(image, "<f8", sketch.num_retained, _HEADER.size + 4 * count + 16)
    sizes = np.diff(np.r_[offsets, offsets[0] + items.size])
    weights = np.repeat(np.ldexp(1.0, np.arange(count)), sizes)
    return items.astype(np.float64), weights
