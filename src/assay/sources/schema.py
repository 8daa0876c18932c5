"""Column types in Assay's vocabulary, and schemas inferred from data.

Assay speaks six logical types — integer, float, string, boolean, date, timestamp — so a
schema written by hand or pinned by ``assay init`` does not depend on Arrow's physical types
(int8 and int64 are both ``integer``; a dictionary-encoded string is a ``string``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from assay.sources.datasets import Dataset
from assay.sources.sql import ColumnStats, SqlEngine
from assay.spec.models import ColumnSchema, DatasetSchema

MAX_ALLOWED_VALUES = 20
"""Columns with at most this many distinct text or boolean values get an ``allowed:`` list."""

MIN_ROWS_FOR_UNIQUE = 100
"""A column is pinned as ``unique`` only when it has at least this many rows, all distinct."""


def logical_type(dtype: pa.DataType) -> str:
    """``integer``, ``float``, ``string``, ``boolean``, ``date``, ``timestamp`` or ``other``."""
    if pa.types.is_dictionary(dtype):
        return logical_type(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "boolean"
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return "float"
    if (
        pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_string_view(dtype)
    ):
        return "string"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_null(dtype):
        return "null"
    return "other"


def type_matches(declared: str, actual: str) -> bool:
    """Whether data of logical type ``actual`` satisfies a column declared ``declared``.

    Integers satisfy ``float`` (widening loses nothing); a column with no values at all
    (Arrow's null type, e.g. an all-empty CSV column) satisfies any declared type.
    """
    return declared == actual or (declared == "float" and actual == "integer") or actual == "null"


def infer_schema(
    ds: Dataset, sql: SqlEngine, stats: dict[str, ColumnStats] | None = None
) -> DatasetSchema:
    """A schema ``ds`` satisfies as it is: types, nulls, ranges, allowed values, uniqueness."""
    stats = stats or sql.column_stats(ds)
    columns: dict[str, ColumnSchema] = {}
    for field in ds.schema:
        kind = logical_type(field.type)
        if kind in ("other", "null"):
            continue
        st = stats[field.name]
        spec: dict[str, Any] = {"type": kind, "nullable": st.missing > 0}
        if kind in ("integer", "float") and st.min is not None:
            spec["min"], spec["max"] = float(st.min), float(st.max)
        if (
            kind in ("string", "boolean")
            and st.distinct is not None
            and st.distinct <= MAX_ALLOWED_VALUES
            and st.distinct < max(st.present, 1)
        ):
            values = [
                v
                for v, _ in sql.value_counts(ds, field.name, limit=MAX_ALLOWED_VALUES + 1)
                if v is not None
            ]
            spec["allowed"] = sorted(values, key=str)
        if (
            kind in ("integer", "string")
            and st.rows >= MIN_ROWS_FOR_UNIQUE
            and st.missing == 0
            and st.distinct == st.rows
        ):
            spec["unique"] = True
        columns[field.name] = ColumnSchema.model_validate(spec)
    return DatasetSchema(columns=columns)
