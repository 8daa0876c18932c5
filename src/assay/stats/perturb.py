"""Perturbations of a feature table, for the robustness checks (docs/robustness.md).

Every function takes an Arrow table of feature columns and returns a perturbed copy with the
same schema (column types are kept: an integer column stays integer, values rounded and
clipped to its range), so the model is called exactly as on the original rows. Randomness
comes from the ``numpy.random.Generator`` passed in; the same generator state gives the same
table. What a feature is, and the training facts a perturbation is scaled by, are in a
:class:`FeatureFacts` per column:

- **numeric** — integer and float columns: Gaussian noise of ``sigma × std`` (training std),
  values beyond the training range;
- **categorical** — string, boolean and dictionary columns: swaps to another category seen in
  training;
- **other** — dates, timestamps, nested values: left as they are (except nulls and dropout).

Example::

    rng = np.random.default_rng(0)
    noisy = add_noise(table, facts, 0.1, rng)       # σ = 0.1 × each numeric feature's std
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

FeatureKind = Literal["numeric", "categorical", "other"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class FeatureFacts:
    """What a perturbation needs to know about one feature, from the training data.

    ``std`` is the population standard deviation, ``low``/``high`` the range and ``median``
    the median of a numeric feature (``None`` when unknown); ``categories`` the values seen
    in training of a categorical one.
    """

    name: str
    kind: FeatureKind
    std: float | None = None
    low: float | None = None
    high: float | None = None
    median: float | None = None
    categories: tuple[Any, ...] = ()

    @property
    def scale(self) -> float:
        """The std when it is a positive finite number, else 0 (nothing to scale by)."""
        std = self.std
        return float(std) if std is not None and np.isfinite(std) and std > 0 else 0.0


def feature_kind(dtype: pa.DataType) -> FeatureKind:
    """``numeric`` for integers and floats, ``categorical`` for strings, booleans and
    dictionaries, ``other`` for the rest."""
    if pa.types.is_dictionary(dtype):
        return "categorical"
    if pa.types.is_boolean(dtype):
        return "categorical"
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
        return "numeric"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "categorical"
    return "other"


def sample_positions(n: int, max_rows: int, seed: int) -> npt.NDArray[np.int64]:
    """Up to ``max_rows`` of ``range(n)``, drawn without replacement, in ascending order."""
    if n <= max_rows:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_rows, replace=False)).astype(np.int64)


def numeric_values(table: pa.Table, column: str) -> FloatArray:
    """Column ``column`` as float64, nulls as NaN."""
    col = table.column(column)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    out = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return np.array(out, dtype=np.float64)  # a writable copy


def with_numeric(table: pa.Table, column: str, values: FloatArray) -> pa.Table:
    """``table`` with ``column`` replaced by ``values`` in the column's own type.

    Nulls stay null; a NaN becomes null in an integer column and stays NaN in a float one;
    integers are rounded and clipped to the type's range (infinities to its bounds).
    """
    field = table.schema.field(column)
    dtype = field.type
    nulls = _null_mask(table.column(column))
    values = np.asarray(values, dtype=np.float64)
    if pa.types.is_integer(dtype):
        np_type = dtype.to_pandas_dtype()
        info = np.iinfo(np_type)
        # The largest floats inside the type's bounds: 2**63 itself would overflow int64.
        low, high = np.nextafter(float(info.min), 0.0), np.nextafter(float(info.max), 0.0)
        missing = nulls | np.isnan(values)
        clipped = np.clip(np.nan_to_num(values, nan=0.0, posinf=high, neginf=low), low, high)
        array = pa.array(np.rint(clipped).astype(np_type), mask=missing).cast(dtype)
    else:
        array = pa.array(values, type=pa.float64(), mask=nulls).cast(dtype, safe=False)
    return table.set_column(table.schema.get_field_index(column), field, array)


def add_noise(
    table: pa.Table, facts: Mapping[str, FeatureFacts], sigma: float, rng: np.random.Generator
) -> pa.Table:
    """Gaussian noise ``N(0, (sigma × std)²)`` on every numeric feature of ``facts`` in
    ``table``, independently per row and feature. Nulls stay null; a feature without a
    positive std is left as it is."""
    out = table
    for name in _columns(table, facts, "numeric"):
        scale = facts[name].scale
        draws = rng.normal(0.0, 1.0, table.num_rows)  # drawn even at scale 0: same stream
        if scale == 0 or sigma == 0:
            continue
        out = with_numeric(out, name, numeric_values(table, name) + sigma * scale * draws)
    return out


def swap_categories(
    table: pa.Table, facts: Mapping[str, FeatureFacts], share: float, rng: np.random.Generator
) -> pa.Table:
    """For every categorical feature, ``round(share × rows)`` rows (chosen at random) get
    another category of the same column seen in training, chosen uniformly. Null values
    among the chosen rows stay null; a column with fewer than two seen categories (or, for
    a value unseen in training, fewer than one) is left as it is."""
    out = table
    n = table.num_rows
    for name in _columns(table, facts, "categorical"):
        chosen = rng.permutation(n)[: round(share * n)]
        categories = list(facts[name].categories)
        picks = rng.random(len(chosen))
        if len(categories) < 2 or not len(chosen):
            continue
        col = table.column(name)
        dtype = col.type
        values = col.to_pylist()
        index = {_key(c): i for i, c in enumerate(categories)}
        for row, u in zip(chosen.tolist(), picks.tolist(), strict=True):
            current = values[row]
            if current is None:
                continue
            at = index.get(_key(current))
            if at is None:
                values[row] = categories[int(u * len(categories))]
            else:
                j = int(u * (len(categories) - 1))
                values[row] = categories[j + 1 if j >= at else j]
        array = _typed(values, dtype)
        out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), array)
    return out


def inject_nulls(
    table: pa.Table, columns: Sequence[str], share: float, rng: np.random.Generator
) -> pa.Table:
    """For every column of ``columns``, ``round(share × rows)`` rows chosen at random (per
    column, independently) become null."""
    out = table
    n = table.num_rows
    for name in columns:
        chosen = rng.permutation(n)[: round(share * n)]
        if not len(chosen):
            continue
        mask = np.zeros(n, dtype=bool)
        mask[chosen] = True
        col = out.column(name).combine_chunks()
        nulled = pc.if_else(pa.array(mask), pa.nulls(n, col.type), col)
        out = out.set_column(out.schema.get_field_index(name), out.schema.field(name), nulled)
    return out


def null_column(table: pa.Table, column: str) -> pa.Table:
    """``table`` with every value of ``column`` null (the feature is unavailable)."""
    field = table.schema.field(column)
    nulls = pa.nulls(table.num_rows, field.type)
    return table.set_column(table.schema.get_field_index(column), field, nulls)


def fill_column(table: pa.Table, column: str, value: Any) -> pa.Table:
    """``table`` with every value of ``column`` set to ``value`` (in the column's type)."""
    field = table.schema.field(column)
    if feature_kind(field.type) == "numeric":
        return with_numeric(table, column, np.full(table.num_rows, float(value)))
    array = _typed([value] * table.num_rows, field.type)
    return table.set_column(table.schema.get_field_index(column), field, array)


def beyond_range(
    table: pa.Table, facts: Mapping[str, FeatureFacts], k: float, rng: np.random.Generator
) -> pa.Table:
    """Every row gets one numeric feature (chosen at random among those with a known range)
    set beyond the training range: ``low − k × std`` or ``high + k × std``, each side with
    probability ½ (``k × |range|``, or ``k``, when the std is 0 or unknown). ``k = inf``
    gives ±infinity in float columns (the largest value of an integer one)."""
    names = [n for n in _columns(table, facts, "numeric") if _ranged(facts[n])]
    n = table.num_rows
    which = rng.integers(0, max(len(names), 1), n)
    upper = rng.random(n) < 0.5
    out = table
    for i, name in enumerate(names):
        f = facts[name]
        assert f.low is not None and f.high is not None
        rows = which == i
        if not rows.any():
            continue
        step = f.scale or abs(f.high - f.low) or 1.0
        with np.errstate(invalid="ignore", over="ignore"):
            target = np.where(upper, f.high + k * step, f.low - k * step)
        values = numeric_values(out, name)
        values[rows] = target[rows]
        out = with_numeric(out, name, values)
    return out


def ranged_features(table: pa.Table, facts: Mapping[str, FeatureFacts]) -> list[str]:
    """The numeric features of ``table`` that :func:`beyond_range` can push out of range."""
    return [n for n in _columns(table, facts, "numeric") if _ranged(facts[n])]


def _ranged(f: FeatureFacts) -> bool:
    return f.low is not None and f.high is not None and bool(np.isfinite([f.low, f.high]).all())


def _columns(table: pa.Table, facts: Mapping[str, FeatureFacts], kind: FeatureKind) -> list[str]:
    return [c for c in table.column_names if c in facts and facts[c].kind == kind]


def _null_mask(col: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    return np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False), dtype=bool)


def _key(value: Any) -> Any:
    """A category as a dict key: ``1`` and ``1.0`` and ``True`` kept apart by type."""
    return (type(value).__name__, value)


def _typed(values: list[Any], dtype: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(dtype):
        return pa.array(values, type=dtype.value_type).dictionary_encode().cast(dtype)
    return pa.array(values, type=dtype)
