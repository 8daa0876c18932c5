"""Schemas inferred from data: what ``assay init`` pins and ``schema: {infer: NAME}`` means."""

from __future__ import annotations

from typing import Any

from assay.profiles.facts import TableFacts
from assay.sources.datasets import Dataset
from assay.sources.schema import logical_type
from assay.spec.models import ColumnSchema, DatasetSchema

MAX_ALLOWED_VALUES = 20
"""Columns with at most this many distinct text or boolean values get an ``allowed:`` list."""

MIN_ROWS_FOR_UNIQUE = 100
"""A column is pinned as ``unique`` only when it has at least this many rows, all distinct."""


def infer_schema(ds: Dataset, facts: TableFacts) -> DatasetSchema:
    """A schema ``ds`` satisfies as it is: types, nulls, ranges, allowed values, uniqueness."""
    stats = facts.column_stats(ds)
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
                for v, _ in facts.value_counts(ds, field.name, limit=MAX_ALLOWED_VALUES + 1)
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
