"""Small mergeable sketches that stay vectorised: distinct values and frequent items.

DataSketches' HLL and frequent-items bindings take one value per Python call (about 2 M
values/s here), too slow for every value of every column, so Assay keeps two sketches of its
own, both built from whole Arrow/NumPy arrays:

* :class:`DistinctSketch` — a K-minimum-values (KMV) sketch over 64-bit hashes. It keeps the
  ``k`` smallest distinct hashes seen; while a column has fewer than ``k`` distinct values it
  holds all of them and the count is exact (up to a 64-bit hash collision, probability about
  n²/2⁶⁵), beyond that the estimate ``(k − 1) / h_k`` (``h_k`` the k-th smallest hash scaled to
  [0, 1)) has a relative standard error of about ``1/√(k − 2)`` — 1.6 % for ``k = 4096``.
  Merge is the union of the kept hashes, so it is associative and order-free.
* :class:`FrequentItems` — value counts, exact while a column has at most ``cap`` distinct
  values; past the cap a weighted Misra–Gries summary: every count is an under-estimate by at
  most ``error`` (the sum of what was cut), which the summary carries.

Per-value hashes come from Polars (``Series.hash``), which hashes any Arrow type vectorised,
nulls included, stably for a given seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from assay._arrow import int64_array, integer_array, integers_or

DISTINCT_K = 4096
"""Hashes a distinct-count sketch keeps: exact below this many distinct values."""

COUNTS_CAP = 1000
"""Distinct values whose counts a column keeps exactly before it switches to a summary."""

_U64 = float(2**64)


def column_seed(name: str) -> int:
    """A per-column hash seed, so equal values in different columns hash differently."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 1


def hash_array(values: pa.Array | pa.ChunkedArray, seed: int = 0) -> np.ndarray:
    """64-bit hashes of every value (nulls hash to one fixed value), as a uint64 array.

    A dictionary-encoded array hashes like its decoded values: its dictionary is hashed once
    and the hashes are gathered by index, so the profile pass can read text columns
    dictionary-encoded (much cheaper than decoding) and get the same row hashes and sketches.
    """
    if pa.types.is_dictionary(values.type):
        chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
        parts = [_hash_dictionary(chunk, seed) for chunk in chunks]
        return np.concatenate(parts) if parts else np.empty(0, np.uint64)
    series = pl.from_arrow(values)
    assert isinstance(series, pl.Series)
    hashed: np.ndarray = series.hash(seed=seed).to_numpy()
    return hashed


def _hash_dictionary(array: pa.DictionaryArray, seed: int) -> np.ndarray:
    # The dictionary and one null after it: the hash a null value gets, at index len(dictionary).
    table = hash_array(
        pa.concat_arrays([array.dictionary, pa.nulls(1, array.type.value_type)]), seed
    )
    gathered: np.ndarray = table[integers_or(array.indices, len(array.dictionary))]
    return gathered


def dictionary_counts(values: pa.DictionaryArray) -> tuple[pa.Array, pa.Array]:
    """The distinct values of a dictionary array without nulls and their counts (int64): the
    counts of the indices, not a hash of every value."""
    counts = np.bincount(np.from_dlpack(values.indices), minlength=len(values.dictionary))
    used = np.flatnonzero(counts)
    items = values.dictionary.take(int64_array(used))
    return items, int64_array(counts[used])


def _small_integers(values: pa.Array) -> bool:
    return (
        pa.types.is_integer(values.type) and values.type.bit_width <= 16 and not values.null_count
    )


def small_integer_counts(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The distinct values of an 8- or 16-bit integer array without nulls and their counts,
    by counting each bit pattern (``np.bincount``), half the cost of a hash table."""
    width = values.type.bit_width
    patterns = np.from_dlpack(values).view(np.uint8 if width == 8 else np.uint16)
    counts = np.bincount(patterns, minlength=1 << width)
    used = np.flatnonzero(counts)
    numbers = used.astype(np.int64)
    if pa.types.is_signed_integer(values.type):  # two's complement: high patterns are negative
        numbers[numbers >= 1 << (width - 1)] -= 1 << width
    order = np.argsort(numbers, kind="stable")  # as value_counts would not, but in value order
    return integer_array(numbers[order], values.type), int64_array(counts[used][order])


@dataclass
class DistinctSketch:
    """K-minimum-values sketch of distinct 64-bit hashes (see the module docstring).

    ``below``, when set, is a bound known from elsewhere — the k-th smallest hash of other rows
    of the same column, whose sketch will be merged with this one — and hashes at or above it
    are skipped at once: they cannot be among the k smallest of the union. The merged sketch
    is the same as without it; only this partial sketch no longer counts exactly.
    """

    k: int = DISTINCT_K
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    below: int | None = None

    def update(self, hashes: np.ndarray) -> None:
        """Add a batch of value hashes (duplicates and any order allowed)."""
        limit = self.below
        if self.hashes.size >= self.k:
            kth = int(self.hashes[self.k - 1])
            limit = kth if limit is None else min(limit, kth)
        if limit is not None and hashes.size:
            # Only hashes below the k-th smallest can enter, usually few.
            hashes = hashes[hashes < np.uint64(limit)]
        if hashes.size == 0:
            return
        self.hashes = _union_smallest(self.hashes, _smallest_distinct(hashes, self.k), self.k)

    def merge(self, other: DistinctSketch) -> DistinctSketch:
        k = min(self.k, other.k)
        hashes = _union_smallest(self.hashes[:k], other.hashes[:k], k)
        bounds = [b for b in (self.below, other.below) if b is not None]
        return DistinctSketch(k, hashes, min(bounds) if bounds and hashes.size < k else None)

    @property
    def exact(self) -> bool:
        """True while every distinct hash is kept, so :meth:`estimate` is a count."""
        return self.hashes.size < self.k and self.below is None

    def estimate(self) -> float:
        if self.hashes.size < self.k:
            return float(self.hashes.size)
        kth = float(self.hashes[self.k - 1]) / _U64
        return (self.k - 1) / kth

    def relative_error(self) -> float:
        """One standard error of the estimate, relative (0 when exact)."""
        return 0.0 if self.exact else 1.0 / float(np.sqrt(self.k - 2))


def _smallest_distinct(hashes: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest distinct values of ``hashes`` (all of them if fewer)."""
    if hashes.size > 4 * k:
        # Fast path for high-cardinality columns: if the k+1 smallest values are distinct,
        # they are the k+1 smallest distinct values. A sort of 65 k hashes would cost ~3 ms.
        candidates = sorted_unique(np.partition(hashes, k)[: k + 1])
        if candidates.size == k + 1:
            return candidates[:k]
    return sorted_unique(hashes)[:k]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` for integer hashes, by sorting: NumPy 2's hash-based ``unique`` takes
    about 0.5 s on a million distinct uint64 values, a sort about 5 ms."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    result: np.ndarray = ordered[keep]
    return result


def _union_smallest(kept: np.ndarray, new: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest of two sorted arrays of distinct hashes, without repeats (one
    vectorised sort of at most 2k values: cheaper than a membership test and a merge)."""
    if new.size == 0:
        return kept
    if kept.size == 0:
        return new[:k]
    return sorted_unique(np.concatenate([kept, new]))[:k]


@dataclass
class FrequentItems:
    """Value counts: exact up to ``cap`` distinct values, then a Misra–Gries summary.

    With ``summarise=False`` (numeric columns, where a value beyond the first thousand
    distinct ones is rarely worth counting) the counts are dropped instead once the cap is
    passed, and :attr:`dropped` says so.
    """

    cap: int = COUNTS_CAP
    summarise: bool = True
    counts: dict[Any, int] = field(default_factory=dict)
    error: int = 0  # every listed count may be low by at most this much
    exact: bool = True
    dropped: bool = False

    def update(self, values: pa.Array | pa.ChunkedArray) -> dict[Any, int] | None:
        """Count a batch of values (nulls are not counted: the profile counts them).

        Returns the batch's own value counts when they are complete (no value was cut), so a
        caller can take the batch's min and max from its few distinct values.
        """
        if self.dropped:
            return None
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if len(values) == 0:
            return {}
        if pa.types.is_dictionary(values.type) and not values.dictionary.null_count:
            items, counts = dictionary_counts(pc.drop_null(values))
        elif _small_integers(values):
            items, counts = small_integer_counts(values)
        else:
            if pa.types.is_dictionary(values.type):
                values = values.dictionary_decode()
            counted = pc.value_counts(pc.drop_null(values))
            items, counts = counted.field("values"), counted.field("counts")
        cut = 0
        if len(items) > self.cap:
            if not self.summarise:
                self.drop()
                return None
            # Keep the batch's commonest `cap` values; the next count bounds what is cut.
            order = pc.select_k_unstable(
                counts, k=self.cap + 1, sort_keys=[("dummy", "descending")]
            )
            cut = int(counts[order[self.cap].as_py()].as_py())
            order = order[: self.cap]
            items, counts = items.take(order), pc.subtract(counts.take(order), cut)
        batch = dict(zip(items.to_pylist(), counts.to_pylist(), strict=True))
        self._absorb(batch, cut, exact=cut == 0)
        return batch if cut == 0 else None

    def merge(self, other: FrequentItems) -> FrequentItems:
        merged = FrequentItems(
            min(self.cap, other.cap),
            self.summarise and other.summarise,
            dict(self.counts),
            self.error,
            self.exact,
            self.dropped,
        )
        if other.dropped:
            merged.drop()
        if not merged.dropped:
            merged._absorb(other.counts, other.error, exact=other.exact)
        return merged

    def drop(self) -> None:
        """Give up counting (numeric columns past the cap)."""
        self.counts, self.exact, self.dropped = {}, False, True

    def _absorb(self, counts: Mapping[Any, int], error: int, *, exact: bool) -> None:
        for value, count in counts.items():
            if count > 0:
                self.counts[value] = self.counts.get(value, 0) + count
        self.error += error
        self.exact = self.exact and exact
        if len(self.counts) > self.cap:
            if not self.summarise:
                self.drop()
                return
            # Weighted Misra–Gries: subtract the (cap+1)-th largest count from every count
            # and drop what falls to zero; each remaining count is low by at most the cut.
            ordered = sorted(self.counts.values(), reverse=True)
            cut = ordered[self.cap]
            self.counts = {v: c - cut for v, c in self.counts.items() if c > cut}
            self.error += cut
            self.exact = False

    def top(self, n: int) -> list[tuple[Any, int]]:
        """The ``n`` commonest values, by count then value text."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], str(item[0])))[:n]
