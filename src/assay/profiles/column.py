"""One column's mergeable profile: counts, moments, quantiles, distinct values, frequent items.

A :class:`ColumnProfile` is built batch by batch with :meth:`ColumnProfile.update` and
combined with :meth:`ColumnProfile.merge`. Exact parts — counts, nulls, NaN and infinities,
min, max, exact value counts, exact values — are identical however the rows were split;
moments agree to floating-point rounding (Chan's parallel update); quantiles (DataSketches
KLL, sampled first on large datasets: :mod:`assay.profiles.kll`) and distinct counts past
the cap are within their sketches' documented error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datasketches import kll_doubles_sketch

from assay._arrow import bool_array, bools, floats
from assay.profiles.kll import SAMPLE_FROM, add_sampled, add_sorted, batch_stride
from assay.profiles.sketches import (
    DistinctSketch,
    FrequentItems,
    column_seed,
    hash_array,
    sorted_unique,
)
from assay.sources.schema import logical_type

KLL_K = 800
"""KLL accuracy parameter: normalised rank error about 0.35 % (DataSketches' figure for k=800)."""

EXACT_LIMIT = 100_000
"""A column keeps its exact values (numbers) while it has at most this many finite values."""

NUMERIC = ("integer", "float", "date", "timestamp")


@dataclass
class ColumnProfile:
    """A mergeable summary of one column over any number of rows."""

    name: str
    arrow_type: str
    logical: str
    count: int = 0
    nulls: int = 0
    nans: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    n_finite: int = 0
    mean: float = 0.0
    m2: float = 0.0
    min: Any = None
    max: Any = None
    kll: kll_doubles_sketch | None = None
    values: np.ndarray | None = None
    exact_limit: int = EXACT_LIMIT
    distinct: DistinctSketch = field(default_factory=DistinctSketch)
    items: FrequentItems = field(default_factory=FrequentItems)
    kll_stride: int = 1
    """Build-time only (not in the profile file): the KLL sampler's stride for this column's
    batches, from the dataset's row count (:func:`assay.profiles.kll.sampling_stride`); 1
    sorts every batch whole."""
    kll_offset: int = 0
    """Build-time only: the row at which this profile's rows start in the dataset (a task's
    slice), mixed into the sampler's random choices with the values seen so far, so that
    equal batches at the same place in two slices do not draw the same sample."""

    @classmethod
    def empty(
        cls,
        name: str,
        dtype: pa.DataType,
        *,
        exact_limit: int = EXACT_LIMIT,
        kll_stride: int = 1,
        kll_offset: int = 0,
    ) -> ColumnProfile:
        logical = logical_type(dtype)
        numeric = logical in NUMERIC
        return cls(
            name=name,
            arrow_type=str(dtype),
            logical=logical,
            kll=kll_doubles_sketch(KLL_K) if numeric else None,
            values=np.empty(0, np.float64) if numeric and exact_limit > 0 else None,
            exact_limit=exact_limit,
            items=FrequentItems(summarise=not numeric),
            kll_stride=kll_stride,
            kll_offset=kll_offset,
        )

    def __getstate__(self) -> dict[str, Any]:
        # DataSketches objects do not pickle; their own binary form does (worker processes).
        state = dict(self.__dict__)
        state["kll"] = self.kll.serialize() if self.kll is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        raw = state["kll"]
        state["kll"] = kll_doubles_sketch.deserialize(raw) if raw is not None else None
        self.__dict__.update(state)

    # Building ------------------------------------------------------------------------------

    def update(self, array: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Add a batch of this column's values; returns their 64-bit hashes (nulls included)."""
        n = len(array)
        nulls = array.null_count
        self.count += n
        self.nulls += nulls
        hashes = hash_array(array, column_seed(self.name))
        if self.logical == "other" or nulls == n:  # nested values are counted, not summarised
            return hashes
        present = pc.drop_null(array) if nulls else array
        valid = _validity(array) if nulls else None
        kind = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
        if self.logical in NUMERIC:
            x = _as_float(present)
            nan = np.isnan(x)
            has_nan = bool(nan.any())
            counted = hashes if valid is None else hashes[valid]
            if has_nan:  # NaN is counted in `nans`: neither an item nor a distinct value
                counted = counted[~nan]
                present = pc.filter(present, bool_array(~nan))
            self._count_items(present, counted, kind)
            self._update_numeric(x, nan if has_nan else None, n)
        else:
            counted = hashes if valid is None else hashes[valid]
            batch = self._count_items(present, counted, kind)
            if batch:  # the batch's own distinct values: min and max without a string scan
                keys = list(batch)
                self.min, self.max = _least(self.min, min(keys)), _greatest(self.max, max(keys))
            else:
                if kind != array.type:
                    present = present.dictionary_decode()
                bounds = pc.min_max(present)
                self.min = _least(self.min, bounds["min"].as_py())
                self.max = _greatest(self.max, bounds["max"].as_py())
        if not self.items.exact:  # exact counts know the distinct values; else the sketch
            self.distinct.update(counted)
        return hashes

    def _count_items(
        self, present: Any, counted: np.ndarray, dtype: pa.DataType
    ) -> dict[Any, int] | None:
        """Count values while that stays exact or useful; hand over to the distinct sketch."""
        if self.items.dropped:
            return None
        before = list(self.items.counts) if self.items.exact else None
        batch = None
        if not self.items.summarise and _more_distinct_than(counted, self.items.cap):
            self.items.drop()  # a continuous column: counting its values is wasted work
        else:
            batch = self.items.update(present)
        if before is not None and not self.items.exact:
            self._seed_distinct(before, dtype)
        return batch

    def _seed_distinct(self, values: list[Any], dtype: pa.DataType | None) -> None:
        """Give the distinct sketch the values the exact counts held until now."""
        if values:
            keys = pa.array(values, type=dtype) if dtype is not None else pa.array(values)
            self.distinct.update(hash_array(keys, column_seed(self.name)))

    def _update_numeric(self, x: np.ndarray, nan: np.ndarray | None, rows: int) -> None:
        """Moments, range, quantiles and exact values of a batch of present numbers (of a
        batch of ``rows`` rows)."""
        if nan is not None:
            self.nans += int(nan.sum())
        finite = np.isfinite(x)
        if not finite.all():
            self.pos_inf += int(np.isposinf(x).sum())
            self.neg_inf += int(np.isneginf(x).sum())
            x = x[finite]
        if x.size == 0:
            return
        n_b, before = x.size, self.n_finite
        mean_b = float(x.mean())
        deviation = x - mean_b
        # A dot product instead of (d * d).sum(): no 8-byte-per-value temporary. The command
        # line and the workers run OpenBLAS single-threaded (assay._entry, pool.WORKER_ENV).
        m2_b = float(np.dot(deviation, deviation))
        self._combine_moments(n_b, mean_b, m2_b)
        assert self.kll is not None
        seed = column_seed(self.name)
        stride = batch_stride(self.kll_stride, n_b, rows)
        if stride > 1 and n_b >= SAMPLE_FROM * self.kll.k:
            # A large dataset: one value of each block of `stride` is sorted and weighs
            # `stride` (KLL's sampler; the error it adds is in assay.profiles.kll's doc).
            low, high = add_sampled(self.kll, x, stride, seed, position=self.kll_offset + before)
        else:
            # Sorted with NumPy's vectorised sort, a batch is compacted as KLL would compact
            # it by slicing and merged in one step (assay.profiles.kll), ~17× cheaper than
            # update().
            ordered = np.sort(x)
            low, high = float(ordered[0]), float(ordered[-1])
            add_sorted(self.kll, ordered, seed)
        self.min = _least(self.min, low)
        self.max = _greatest(self.max, high)
        if self.values is not None:
            self.values = (
                np.concatenate([self.values, x]) if self.n_finite <= self.exact_limit else None
            )

    def _combine_moments(self, n_b: int, mean_b: float, m2_b: float) -> None:
        n_a = self.n_finite
        total = n_a + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta * delta * n_a * n_b / total
        self.n_finite = total

    # Merging -------------------------------------------------------------------------------

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """The profile of both profiles' rows together (neither input changes)."""
        if (self.name, self.logical) != (other.name, other.logical):
            raise ValueError(
                f"cannot merge profiles of {self.name!r} ({self.logical}) "
                f"and {other.name!r} ({other.logical})"
            )
        merged = replace(
            self,
            count=self.count + other.count,
            nulls=self.nulls + other.nulls,
            nans=self.nans + other.nans,
            pos_inf=self.pos_inf + other.pos_inf,
            neg_inf=self.neg_inf + other.neg_inf,
            min=_least(self.min, other.min),
            max=_greatest(self.max, other.max),
            distinct=DistinctSketch(self.distinct.k),
            items=self.items.merge(other.items),
            kll=None,
            kll_stride=max(self.kll_stride, other.kll_stride),  # for later updates only
            values=None,
        )
        if not merged.items.exact:  # exact counts stand in for the sketch while they last
            merged.distinct = self._sketch().merge(other._sketch())
        merged.n_finite, merged.mean, merged.m2 = self.n_finite, self.mean, self.m2
        if other.n_finite:
            merged._combine_moments(other.n_finite, other.mean, other.m2)
        if self.kll is not None and other.kll is not None:
            merged.kll = kll_doubles_sketch.deserialize(self.kll.serialize())
            merged.kll.merge(other.kll)
        if (
            self.values is not None
            and other.values is not None
            and merged.n_finite <= merged.exact_limit
        ):
            merged.values = np.concatenate([self.values, other.values])
        return merged

    def _sketch(self) -> DistinctSketch:
        """The distinct sketch, filled from the exact counts if those stood in for it."""
        if not self.items.exact:
            return self.distinct
        sketch = DistinctSketch(self.distinct.k)
        if self.items.counts:
            sketch.update(hash_array(pa.array(list(self.items.counts)), column_seed(self.name)))
        return sketch

    # Reading -------------------------------------------------------------------------------

    @property
    def missing(self) -> int:
        """Nulls plus NaNs: values that are not there."""
        return self.nulls + self.nans

    @property
    def present(self) -> int:
        return self.count - self.missing

    @property
    def variance(self) -> float | None:
        """Population variance of the finite values (``None`` without any)."""
        return self.m2 / self.n_finite if self.n_finite else None

    @property
    def std(self) -> float | None:
        v = self.variance
        return None if v is None else math.sqrt(max(v, 0.0))

    @property
    def distinct_count(self) -> float:
        """Distinct values (nulls and NaN aside): exact while the value counts are, or while
        the distinct sketch holds every hash; an estimate beyond."""
        if self.items.exact:
            return float(len(self.items.counts))
        return self.distinct.estimate()

    @property
    def distinct_exact(self) -> bool:
        return self.items.exact or self.distinct.exact

    @property
    def kind(self) -> str:
        """``numeric``, ``categorical``, ``boolean``, ``text``, ``datetime`` or ``other``."""
        if self.logical == "boolean":
            return "boolean"
        if self.logical in ("date", "timestamp"):
            return "datetime"
        if self.logical in ("integer", "float"):
            few = self.distinct.exact and self.distinct_count <= 20 and self.logical == "integer"
            return "categorical" if few else "numeric"
        if self.logical == "string":
            distinct = self.distinct_count
            if self.items.exact or distinct <= max(50.0, 0.05 * max(self.present, 1)):
                return "categorical"
            return "text"
        return "other"

    def quantiles(self, ranks: list[float] | np.ndarray) -> list[float] | None:
        """Values at the given normalised ranks (exact when exact values are kept)."""
        if self.values is not None and self.values.size:
            return [float(q) for q in np.quantile(self.values, ranks, method="inverted_cdf")]
        if self.kll is None or self.kll.is_empty():
            return None
        return [float(q) for q in self.kll.get_quantiles(list(ranks))]

    @property
    def quantiles_exact(self) -> bool:
        return self.values is not None


def _more_distinct_than(hashes: np.ndarray, cap: int) -> bool:
    """Cheaply: does this batch alone hold more than ``cap`` distinct values?"""
    return hashes.size > cap and sorted_unique(hashes[: 4 * cap]).size > cap


def _validity(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are not null, as a NumPy bool array."""
    return bools(pc.is_valid(array))


def _as_float(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Numbers as float64 (dates as days, timestamps in their unit since the epoch)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
        array = array.cast(pa.int64())
    if pa.types.is_decimal(array.type):
        array = array.cast(pa.float64())
    return floats(array, copy=False)  # read-only where Arrow holds float64: only read here


def _least(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b < a else a


def _greatest(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return b if b > a else a
