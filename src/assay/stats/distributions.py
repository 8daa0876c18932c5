"""Distribution summaries: what every drift statistic takes instead of raw tables.

A summary is either *exact* (every value, or every category with its count) or *sketched*
(a KLL quantile sketch for numbers, the most frequent categories with the rest lumped for
categories). The statistics in :mod:`assay.stats` accept both, so the same code judges a
10-row table exactly and a billion-row table within the sketch's documented error.

Example::

    import numpy as np
    from assay.stats import NumericDistribution

    ref = NumericDistribution.from_values(np.array([1.0, 2.0, np.nan, 4.0]))
    ref.n, ref.mean, ref.is_exact          # (3, 2.333..., True)
    ref.cdf(np.array([2.0]))               # array([0.666...])
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from assay.profiles.kll import items_and_weights

FloatArray = npt.NDArray[np.float64]

SKETCH_N_MISMATCH = (
    "The KLL sketch summarises {sketch_n} values but n={n} was given. Pass the count of "
    "finite values the sketch was updated with."
)
VALUES_MISMATCH = (
    "values holds {size} numbers but n={n}. Pass a one-dimensional array of exactly the "
    "finite values summarised."
)
VALUES_NOT_FINITE = (
    "values must hold only finite numbers; drop NaN and ±inf first (from_values does)."
)
NOTHING_KEPT = "A summary of n={n} values needs either the values or a KLL sketch of them."
NOT_NUMERIC = "Cannot summarise {kind} values as numbers. Summarise the column as categories."


class QuantileSketch(Protocol):
    """The part of DataSketches' ``kll_doubles_sketch`` the statistics use.

    A protocol rather than the concrete class, so this package does not import DataSketches;
    any ``datasketches.kll_doubles_sketch`` (or ``kll_floats_sketch``) satisfies it.
    """

    @property
    def n(self) -> int: ...

    def get_quantiles(self, ranks: Sequence[float], inclusive: bool = False) -> list[float]: ...

    def normalized_rank_error(self, pmf: bool) -> float: ...

    def __iter__(self) -> Iterator[tuple[float, int]]: ...


@dataclass(frozen=True, eq=False)
class StepCdf:
    """A distribution with finite support: sorted distinct points and P(X <= point) at each.

    Exact summaries put every distinct value here; sketches put their retained items, each
    weighted by how many stream values it stands for (DataSketches' "sorted view").
    """

    points: FloatArray
    weights: FloatArray
    cumulative: FloatArray  # P(X <= points[i]); the last entry is 1.0

    def at(self, x: FloatArray) -> FloatArray:
        """P(X <= x) for every x."""
        index = np.searchsorted(self.points, x, side="right")
        return np.concatenate(([0.0], self.cumulative))[index]

    def below(self, x: FloatArray) -> FloatArray:
        """P(X < x) for every x."""
        index = np.searchsorted(self.points, x, side="left")
        return np.concatenate(([0.0], self.cumulative))[index]


def _step_cdf(points: FloatArray, weights: FloatArray) -> StepCdf:
    distinct, inverse = np.unique(points, return_inverse=True)
    merged = np.bincount(inverse, weights=weights, minlength=distinct.size).astype(np.float64)
    total = float(merged.sum())
    cumulative: FloatArray = np.cumsum(merged) / total if total > 0 else np.zeros_like(merged)
    if cumulative.size:
        cumulative[-1] = 1.0
    return StepCdf(distinct.astype(np.float64), merged, cumulative)


@dataclass(frozen=True, eq=False)
class NumericDistribution:
    """A summary of the finite values of one numeric column.

    ``values`` holds every finite value (any order; ``from_values`` sorts them) when the
    summary is exact; otherwise ``kll`` holds a KLL quantile sketch of them. ``n``, ``mean``,
    ``std`` (population, ddof=0), ``min`` and ``max`` are exact in both cases: they come from
    mergeable moments. Equality is identity: summaries are not compared value by value.
    """

    n: int
    mean: float
    std: float
    min: float
    max: float
    values: FloatArray | None = field(default=None, repr=False)
    kll: QuantileSketch | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.values is not None:
            if self.values.ndim != 1 or self.values.size != self.n:
                raise ValueError(VALUES_MISMATCH.format(size=self.values.size, n=self.n))
            if not np.all(np.isfinite(self.values)):
                raise ValueError(VALUES_NOT_FINITE)
        elif self.kll is None and self.n > 0:
            raise ValueError(NOTHING_KEPT.format(n=self.n))

    @classmethod
    def from_values(cls, values: Iterable[float] | npt.ArrayLike | pa.Array) -> NumericDistribution:
        """Summarise values exactly; NaN, infinities and nulls are dropped, the rest sorted."""
        array = _as_float_array(values)
        # Sorted, so the moments (and everything else) do not depend on the row order.
        finite = np.sort(array[np.isfinite(array)])
        finite.setflags(write=False)
        if finite.size == 0:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, values=finite)
        return cls(
            n=int(finite.size),
            mean=float(np.mean(finite)),
            std=float(np.std(finite)),
            min=float(np.min(finite)),
            max=float(np.max(finite)),
            values=finite,
        )

    @classmethod
    def from_kll(
        cls, sketch: QuantileSketch, *, n: int, mean: float, std: float, min: float, max: float
    ) -> NumericDistribution:
        """Summarise by a KLL sketch plus exact moments (from a column profile)."""
        if int(sketch.n) != n:
            raise ValueError(SKETCH_N_MISMATCH.format(sketch_n=sketch.n, n=n))
        return cls(n=n, mean=mean, std=std, min=min, max=max, kll=sketch)

    @property
    def is_exact(self) -> bool:
        """True when every value is kept, so statistics are computed exactly."""
        return self.values is not None

    @property
    def rank_error(self) -> float:
        """Bound on |estimated − true| for any CDF value or quantile rank (0.0 when exact).

        DataSketches' single-sided normalised rank error, which holds with 99% confidence.
        """
        if self.values is not None or self.kll is None:
            return 0.0
        return float(self.kll.normalized_rank_error(False))

    @cached_property
    def step_cdf(self) -> StepCdf:
        """The summary as a finite weighted support (exact values, or the sketch's items)."""
        if self.values is not None:
            return _step_cdf(self.values, np.ones(self.values.size))
        if self.kll is None or self.n == 0:
            empty = np.zeros(0)
            return StepCdf(empty, empty, empty)
        return _step_cdf(*items_and_weights(self.kll))

    def cdf(self, points: npt.ArrayLike) -> FloatArray:
        """P(X <= x) at every point (for a sketch: the same as ``get_cdf(..., inclusive=True)``)."""
        return self.step_cdf.at(np.asarray(points, dtype=np.float64))

    def quantiles(self, ranks: npt.ArrayLike) -> FloatArray:
        """The inverse of the step CDF: the smallest x with P(X <= x) >= rank, per rank."""
        ranks_array = np.asarray(ranks, dtype=np.float64)
        if self.n == 0:
            return np.full(ranks_array.shape, np.nan)
        if self.values is not None:
            return np.quantile(self.values, ranks_array, method="inverted_cdf")
        assert self.kll is not None
        flat = self.kll.get_quantiles(ranks_array.ravel().tolist(), True)
        return np.asarray(flat, dtype=np.float64).reshape(ranks_array.shape)


@dataclass(frozen=True)
class CategoricalDistribution:
    """Counts of the non-missing values of one categorical (or boolean) column.

    When ``exact`` is true ``counts`` lists every value with its exact count. Otherwise it lists
    some values (typically the most frequent, with estimated counts) and the remaining
    ``unlisted`` mass, ``n - sum(counts)``, belongs to values not named.
    """

    counts: Mapping[Any, int]
    n: int
    exact: bool

    @classmethod
    def from_values(
        cls, values: Iterable[Any] | pa.Array | pa.ChunkedArray
    ) -> CategoricalDistribution:
        """Count values exactly; None, nulls and float NaN are missing and not counted."""
        if isinstance(values, pa.Array | pa.ChunkedArray):
            present = pc.drop_null(values)
            if pa.types.is_floating(present.type):
                present = pc.filter(present, pc.invert(pc.is_nan(present)))
            tally = pc.value_counts(present)
            counts = dict(
                zip(
                    tally.field("values").to_pylist(),
                    tally.field("counts").to_pylist(),
                    strict=True,
                )
            )
        else:
            counts = dict(Counter(v for v in values if not _is_missing(v)))
        return cls(counts=counts, n=int(sum(counts.values())), exact=True)

    @property
    def unlisted(self) -> int:
        """Values summarised but not listed in ``counts`` (0 when exact)."""
        return max(self.n - int(sum(self.counts.values())), 0)

    def knows(self, value: Any) -> bool:
        """True when this summary states ``value``'s count (an exact summary knows zeros too)."""
        return self.exact or value in self.counts


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_float_array(values: Iterable[float] | npt.ArrayLike | pa.Array) -> FloatArray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        if not (
            pa.types.is_integer(values.type)
            or pa.types.is_floating(values.type)
            or pa.types.is_boolean(values.type)
            or pa.types.is_decimal(values.type)
        ):
            raise TypeError(NOT_NUMERIC.format(kind=str(values.type)))
        return np.asarray(
            pc.cast(pc.drop_null(values), pa.float64()).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "biuf":
            raise TypeError(NOT_NUMERIC.format(kind=str(values.dtype)))
        return np.array(values, dtype=np.float64).ravel()
    if isinstance(values, Sequence):
        return np.array(values, dtype=np.float64)
    return np.array(list(cast(Iterable[float], values)), dtype=np.float64)
