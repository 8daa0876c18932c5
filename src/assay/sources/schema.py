"""Column types in Assay's vocabulary, and schemas inferred from data.

Assay speaks six logical types — integer, float, string, boolean, date, timestamp — so a
schema written by hand or pinned by ``assay init`` does not depend on Arrow's physical types
(int8 and int64 are both ``integer``; a dictionary-encoded string is a ``string``).
"""

from __future__ import annotations

import pyarrow as pa


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
