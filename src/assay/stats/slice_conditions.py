"""The slice condition language: which rows a ``where`` mapping selects.

A ``where`` maps a column to what its value must be; a row is in the slice when every
condition holds:

- a scalar — equality (``region: north``, ``n_children: 2``, ``member: true``);
- ``null`` — the value is missing (null or NaN);
- a list — membership (``region: [north, east]``);
- a mapping with any of ``min`` (≥), ``max`` (≤), ``gt`` (>), ``lt`` (<) — numeric columns
  only — and ``in``, ``not_in`` (lists) or ``missing`` (true/false).

A missing value satisfies only ``null``, a list holding ``null``, and ``missing: true``.
Nothing is evaluated as code. Column values are NumPy arrays: numeric columns as floats (NaN
for missing), others as objects (``None`` for missing).

Example::

    from assay.stats.slice_conditions import describe, where_mask

    where = {"age": {"min": 18, "lt": 25}, "region": ["north", "east"]}
    mask = where_mask({"age": age, "region": region}, where)
    describe(where)   # 'age in [18, 25) and region in {north, east}'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

RANGE_KEYS = ("min", "max", "gt", "lt")
CONDITION_KEYS = (*RANGE_KEYS, "in", "not_in", "missing")

UNKNOWN_COLUMN = "column {column!r} is not in the data; columns: {known}."
BAD_KEYS = "the condition on {column!r} has unknown keys {keys}; use {allowed}."
NOT_NUMERIC = "{key!r} on {column!r} needs a numeric column; {column!r} holds {kind} values."
NOT_A_NUMBER = "{key!r} on {column!r} must be a number; got {value!r}."
NOT_A_LIST = "{key!r} on {column!r} must be a list of values; got {value!r}."
BAD_MISSING = "'missing' on {column!r} must be true or false; got {value!r}."
BAD_VALUE = "the condition on {column!r} cannot be {value!r}: use a value, a list or a mapping."
EMPTY_WHERE = "a slice needs at least one condition in `where`."


def is_numeric(values: np.ndarray) -> bool:
    """Numeric columns are float arrays (NaN for missing); others are object arrays."""
    return values.dtype.kind in "fiu"


def missing_mask(values: np.ndarray) -> npt.NDArray[np.bool_]:
    if is_numeric(values):
        return np.isnan(values.astype(np.float64, copy=False))
    return np.fromiter(
        (v is None or (isinstance(v, float) and math.isnan(v)) for v in values),
        dtype=bool,
        count=values.size,
    )


def condition_mask(values: np.ndarray, condition: Any, *, column: str) -> npt.NDArray[np.bool_]:
    """Rows of ``values`` satisfying one column's ``condition`` (see the module docstring)."""
    if condition is None:
        return missing_mask(values)
    if isinstance(condition, list | tuple):
        return _member(values, list(condition), column=column, key="in")
    if isinstance(condition, Mapping):
        return _mapping_mask(values, condition, column=column)
    if isinstance(condition, str | bool | int | float):
        return _member(values, [condition], column=column, key="value")
    raise ValueError(BAD_VALUE.format(column=column, value=condition))


def where_mask(columns: Mapping[str, np.ndarray], where: Mapping[str, Any]) -> np.ndarray:
    """Rows satisfying every condition of ``where`` (column → condition)."""
    if not where:
        raise ValueError(EMPTY_WHERE)
    mask: np.ndarray | None = None
    for column, condition in where.items():
        if column not in columns:
            raise ValueError(UNKNOWN_COLUMN.format(column=column, known=", ".join(columns)))
        part = condition_mask(columns[column], condition, column=column)
        mask = part if mask is None else mask & part
    assert mask is not None
    return mask


def describe(where: Mapping[str, Any]) -> str:
    """A readable form of ``where``: ``x1 in (0.5, 1.2] and region = north``."""
    return " and ".join(_describe_one(column, c) for column, c in where.items())


def _describe_one(column: str, condition: Any) -> str:
    if condition is None:
        return f"{column} is missing"
    if isinstance(condition, list | tuple):
        return f"{column} in {{{', '.join(_show(v) for v in condition)}}}"
    if not isinstance(condition, Mapping):
        return f"{column} = {_show(condition)}"
    low = "[" + _show(condition["min"]) if "min" in condition else None
    low = "(" + _show(condition["gt"]) if "gt" in condition else low
    high = _show(condition["max"]) + "]" if "max" in condition else None
    high = _show(condition["lt"]) + ")" if "lt" in condition else high
    parts = []
    if low is not None and high is not None:
        parts.append(f"{column} in {low}, {high}")
    elif low is not None:
        parts.append(f"{column} {'≥' if low[0] == '[' else '>'} {low[1:]}")
    elif high is not None:
        parts.append(f"{column} {'≤' if high[-1] == ']' else '<'} {high[:-1]}")
    if "in" in condition:
        parts.append(_describe_one(column, list(condition["in"])))
    if "not_in" in condition:
        shown = _shorten([_show(v) for v in condition["not_in"]])
        parts.append(f"{column} not in {{{shown}}}")
    if "missing" in condition:
        parts.append(f"{column} is {'' if condition['missing'] else 'not '}missing")
    return " and ".join(parts)


def _shorten(items: list[str], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", … {len(items) - limit} more"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _mapping_mask(
    values: np.ndarray, condition: Mapping[str, Any], *, column: str
) -> npt.NDArray[np.bool_]:
    unknown = sorted(set(condition) - set(CONDITION_KEYS))
    if unknown:
        raise ValueError(
            BAD_KEYS.format(column=column, keys=unknown, allowed=", ".join(CONDITION_KEYS))
        )
    mask = np.ones(values.size, dtype=bool)
    missing = missing_mask(values)
    for key in RANGE_KEYS:
        if key not in condition:
            continue
        bound = condition[key]
        if not is_numeric(values):
            raise ValueError(NOT_NUMERIC.format(key=key, column=column, kind="non-numeric"))
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise ValueError(NOT_A_NUMBER.format(key=key, column=column, value=bound))
        x = values.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            hold = {"min": x >= bound, "max": x <= bound, "gt": x > bound, "lt": x < bound}[key]
        mask &= hold & ~missing
    for key in ("in", "not_in"):
        if key in condition:
            listed = condition[key]
            if not isinstance(listed, list | tuple):
                raise ValueError(NOT_A_LIST.format(key=key, column=column, value=listed))
            member = _member(values, list(listed), column=column, key=key)
            mask &= member if key == "in" else ~member & ~missing
    if "missing" in condition:
        flag = condition["missing"]
        if not isinstance(flag, bool):
            raise ValueError(BAD_MISSING.format(column=column, value=flag))
        mask &= missing if flag else ~missing
    return mask


def _member(
    values: np.ndarray, listed: list[Any], *, column: str, key: str
) -> npt.NDArray[np.bool_]:
    """Rows equal to one of ``listed`` (``None`` in the list matches missing values)."""
    mask = missing_mask(values) if any(v is None for v in listed) else np.zeros(values.size, bool)
    present = [v for v in listed if v is not None]
    if not present:
        return mask
    if is_numeric(values):
        numbers = []
        for v in present:
            if isinstance(v, bool | int | float):
                numbers.append(float(v))
            else:
                raise ValueError(NOT_A_NUMBER.format(key=key, column=column, value=v))
        return np.asarray(
            mask | np.isin(values.astype(np.float64, copy=False), numbers), dtype=bool
        )
    wanted = set(present) | {str(v) for v in present if not isinstance(v, bool)}
    if any(isinstance(v, bool) for v in present):
        wanted |= {_show(v) for v in present if isinstance(v, bool)}
    hits = np.fromiter(
        (v is not None and (v in wanted or str(v) in wanted) for v in values),
        dtype=bool,
        count=values.size,
    )
    return np.asarray(mask | hits, dtype=bool)
