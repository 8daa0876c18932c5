"""Columns binned against the baseline, once per batch, for every detector to share.

A :class:`Plan` holds one coder per watched column. Coding a batch gives, per column, the
bin of every event (one ``searchsorted`` into the baseline's edges, or one dictionary look-up
per categorical value), the value itself (for per-bin sums), whether it is out of the
reference's range, and — for numbers — the value in reference standard deviations. All
columns' bins share one numbering (each column's bins, then its null slot, at the column's
offset), so a window adds a whole batch with a single ``np.bincount``.

:class:`BatchView` computes each of these arrays the first time a detector asks for it, so a
batch is binned once however many windows watch it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from assay.monitor.detectors.events import EventBatch, to_float
from assay.privacy import scan_array
from assay.profiles.baseline import CategoricalSummary, ColumnSummary, NumericSummary
from assay.stats.binned import smooth_zero_shares
from assay.stats.drift import NORM_FLOOR

OOD_MARGIN = 0.1
"""A number is out of distribution beyond the reference's [min, max] widened by this share
of the range on each side."""


def as_float(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 values, and (for object input) which values were present but not numbers."""
    if values.dtype == np.float64:
        return values, None
    if values.dtype.kind in "biuf":
        return values.astype(np.float64), None
    x = np.array([to_float(v) for v in values], dtype=np.float64)
    present = [not (v is None or (isinstance(v, float) and v != v)) for v in values]
    return x, np.isnan(x) & np.array(present, dtype=bool)


class NumericCoder:
    """Bins of a numeric column: ``(-inf, e0), [e0, e1), …, [e_last, inf)``, then null."""

    kind = "numeric"

    def __init__(self, name: str, summary: NumericSummary) -> None:
        self.name = name
        self.summary = summary
        self.edges = np.asarray(summary.edges, dtype=np.float64)
        self.bins = summary.bins
        self.slots = self.bins + 1
        self.ref_raw = np.asarray(summary.shares, dtype=np.float64)
        self.ref = smooth_zero_shares(self.ref_raw)
        self.ref_means = np.asarray(summary.means, dtype=np.float64)
        span = summary.max - summary.min
        margin = OOD_MARGIN * (span if span > 0 else max(abs(summary.max), 1.0))
        self.low, self.high = summary.min - margin, summary.max + margin
        # Infinities are binned at the ends; their value (for the bin means) is one range out.
        reach = max(span, margin)
        self.clamp = (summary.min - reach, summary.max + reach)
        self.mean = summary.mean
        self.norm = max(summary.std, NORM_FLOOR)

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bin per value, value for the sums, out-of-distribution flag)."""
        x, bad = as_float(values)
        missing = np.isnan(x)
        codes = np.searchsorted(self.edges, x, side="right")
        codes[missing] = self.bins
        vals = np.where(missing, 0.0, x)
        if not np.isfinite(vals).all():
            vals = np.clip(vals, *self.clamp)
        ood = (x < self.low) | (x > self.high)
        if bad is not None:
            ood |= bad
        return codes, vals, ood

    def standardise(self, vals: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Values in reference standard deviations from the reference mean; NaN if missing."""
        z = (vals - self.mean) / self.norm
        z[codes == self.bins] = np.nan
        return z


class CategoricalCoder:
    """One bin per listed category, then ``other``, then null."""

    kind = "categorical"

    def __init__(self, name: str, summary: CategoricalSummary) -> None:
        self.name = name
        self.summary = summary
        self.other = len(summary.categories)
        self.bins = self.other + 1
        self.slots = self.bins + 1
        self.ref_raw = np.asarray([*summary.shares, summary.other], dtype=np.float64)
        self.ref = smooth_zero_shares(self.ref_raw)
        self.ref_means = np.zeros(self.bins)
        self.numeric = summary.numeric_keys
        self.index: dict[Any, int] = {c: i for i, c in enumerate(summary.categories)}
        self.index[None] = self.bins  # the null slot
        keys = np.asarray(
            [float(c) for c in summary.categories] if self.numeric else [], dtype=np.float64
        )
        order = np.argsort(keys)
        self.keys, self.key_index = keys[order], order.astype(np.int64)
        self.flags_unseen = summary.complete

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = values.shape[0]
        if self.numeric:
            x, bad = as_float(values)
            codes = self._numbers(x)
            if bad is not None:  # text where the reference had numbers: not a known category
                codes[bad] = self.other
        elif values.dtype == object:
            get, other = self.index.get, self.other
            try:
                codes = np.fromiter((get(v, other) for v in values), dtype=np.int64, count=n)
            except TypeError:  # an unhashable value (a list…): look each up as its text
                codes = np.fromiter((self._one(v) for v in values), dtype=np.int64, count=n)
            for i in np.flatnonzero(codes == other):  # NaN is null; a number, its text
                if not isinstance(values[i], str):
                    codes[i] = self._one(values[i])
        else:
            codes = np.fromiter((self._one(v) for v in values.tolist()), np.int64, count=n)
        ood = codes == self.other if self.flags_unseen else np.zeros(n, dtype=bool)
        return codes, np.zeros(n), ood

    def _numbers(self, x: np.ndarray) -> np.ndarray:
        if self.keys.size == 0:
            return np.where(np.isnan(x), self.bins, self.other)
        pos = np.minimum(np.searchsorted(self.keys, x), self.keys.size - 1)
        codes = np.where(self.keys[pos] == x, self.key_index[pos], self.other)
        codes[np.isnan(x)] = self.bins
        return codes

    def _one(self, value: Any) -> int:
        if isinstance(value, str):
            return self.index.get(value, self.other)
        if value is None or (isinstance(value, float) and value != value):
            return self.bins
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, int | float) and float(value).is_integer():
            value = str(int(value))
        return self.index.get(str(value), self.other)


Coder = NumericCoder | CategoricalCoder


def coder(name: str, summary: ColumnSummary) -> Coder:
    if isinstance(summary, NumericSummary):
        return NumericCoder(name, summary)
    return CategoricalCoder(name, summary)


@dataclass(frozen=True)
class Encoded:
    """A batch's columns coded by a :class:`Plan` (columns × events)."""

    codes: np.ndarray
    """Bin of every value, offset into the plan's shared numbering (int64, F × n)."""
    vals: np.ndarray
    """The value (numbers; 0 for categories and missing values), F × n."""
    ood: np.ndarray
    """Events with any column out of distribution (n)."""
    z: np.ndarray
    """Numeric columns in reference standard deviations, NaN when missing (F_numeric × n)."""


class Plan:
    """Coders of the watched columns and their shared bin numbering."""

    def __init__(self, coders: Sequence[Coder]) -> None:
        self.coders = list(coders)
        sizes = [c.slots for c in self.coders]
        self.offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.total = int(sum(sizes))
        self.numeric = [i for i, c in enumerate(self.coders) if isinstance(c, NumericCoder)]

    def encode(self, columns: Mapping[str, np.ndarray], n: int) -> Encoded:
        f = len(self.coders)
        codes = np.empty((f, n), dtype=np.int64)
        vals = np.zeros((f, n))
        ood = np.zeros(n, dtype=bool)
        z = np.empty((len(self.numeric), n))
        row = 0
        for i, c in enumerate(self.coders):
            column = columns.get(c.name)
            if column is None:  # absent from every event of the batch: all missing
                codes[i] = c.bins
                if isinstance(c, NumericCoder):
                    z[row] = np.nan
                    row += 1
            else:
                codes[i], vals[i], flags = c.encode(column)
                ood |= flags
                if isinstance(c, NumericCoder):
                    z[row] = c.standardise(vals[i], codes[i])
                    row += 1
        codes += self.offsets[:, None]
        return Encoded(codes, vals, ood, z)


@dataclass(frozen=True)
class Context:
    """What the batch views need besides the batch: the plans and the output settings."""

    inputs: Plan | None
    output: Plan | None
    output_field: str
    """``score`` or ``prediction``: which event field :attr:`output` codes."""
    prediction_range: tuple[float, float] | None
    prediction_expected: bool
    """The reference has a prediction column: an event without a prediction is invalid."""


class BatchView:
    """One batch and the arrays derived from it, each computed on first use."""

    def __init__(self, batch: EventBatch, context: Context) -> None:
        self.batch = batch
        self.context = context
        self.size = len(batch.ids)

    @cached_property
    def ids(self) -> np.ndarray:
        out = np.empty(self.size, dtype=object)
        out[:] = self.batch.ids
        return out

    @cached_property
    def inputs(self) -> Encoded:
        assert self.context.inputs is not None
        return self.context.inputs.encode(self.batch.features, self.size)

    @cached_property
    def output(self) -> Encoded:
        plan = self.context.output
        assert plan is not None
        column = getattr(self.batch, self.context.output_field)
        return plan.encode({plan.coders[0].name: column}, self.size)

    @cached_property
    def ood(self) -> np.ndarray:
        if self.context.inputs is None:
            return np.zeros(self.size, dtype=bool)
        return self.inputs.ood

    @cached_property
    def texts(self) -> np.ndarray:
        """Events with an output text."""
        return np.fromiter((t is not None for t in self.batch.output_text), bool, self.size)

    @cached_property
    def pii(self) -> np.ndarray:
        """Events whose output text holds personal data or a secret (privacy scanner)."""
        flags = np.zeros(self.size, dtype=bool)
        if self.texts.any():
            rows = [row for row, _ in scan_array(pa.array(self.batch.output_text, pa.string()))]
            flags[rows] = True
        return flags

    @cached_property
    def invalid(self) -> np.ndarray:
        """NaN (when the model should predict), infinite, or out-of-range predictions."""
        p = self.batch.prediction
        bad: np.ndarray = np.isinf(p)
        if self.context.prediction_expected:
            bad |= np.isnan(p)
        if self.context.prediction_range is not None:
            low, high = self.context.prediction_range
            bad |= (p < low) | (p > high)
        return bad

    @cached_property
    def keys(self) -> tuple[np.ndarray, list[str]]:
        """Each event's API key as an index into the batch's key list (-1: no key)."""
        names: dict[str, int] = {}
        codes = np.fromiter(
            (-1 if k is None else names.setdefault(k, len(names)) for k in self.batch.key_id),
            dtype=np.int64,
            count=self.size,
        )
        return codes, list(names)
