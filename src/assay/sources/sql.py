"""Exact table facts computed by DuckDB over the datasets' Arrow batches.

Checks never import DuckDB: they ask the audit context, which asks this module. DuckDB scans
the Arrow dataset with projection push-down, runs on both cores and spills to disk past its
memory limit, so counts that need the whole table at once — duplicate rows, train/test
overlap, conflicting labels — stay exact without loading the table into Python.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from assay.sources.datasets import Dataset

EXAMPLES = 5


def quote(name: str) -> str:
    """A DuckDB identifier for column ``name``, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class ColumnStats:
    """Exact facts about one column."""

    name: str
    arrow_type: str
    rows: int
    nulls: int
    nans: int
    distinct: int | None
    min: Any
    max: Any

    @property
    def missing(self) -> int:
        """Nulls plus NaNs: values that are not there."""
        return self.nulls + self.nans

    @property
    def present(self) -> int:
        return self.rows - self.missing


@dataclass(frozen=True)
class GroupFacts:
    """Rows in groups of equal values: how many rows repeat, and a few examples."""

    rows: int
    extra_rows: int  # rows beyond the first of each group: what deduplication would drop
    groups: int  # groups with more than one row
    rows_in_groups: int
    examples: list[dict[str, Any]]


class SqlEngine:
    """One DuckDB connection shared by an audit; tables are the datasets' Arrow scans."""

    def __init__(self, *, threads: int | None = None, memory_limit: str | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="assay-duckdb-")
        config: dict[str, Any] = {"temp_directory": self._tmp.name}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._con = duckdb.connect(":memory:", config=config)
        self._views: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        self._con.close()
        self._tmp.cleanup()

    def __enter__(self) -> SqlEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _table(self, ds: Dataset) -> str:
        key = (ds.name, ds.sha256)
        if key not in self._views:
            view = f"ds_{len(self._views)}"
            self._con.register(view, ds.arrow)
            self._views[key] = view
        return self._views[key]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        rows = self._con.execute(sql, list(params)).fetchall()  # fetchall closes the result
        return tuple(rows[0])

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._con.execute(sql, list(params)).fetchall()]

    # Column facts -------------------------------------------------------------------------

    def column_stats(self, ds: Dataset) -> dict[str, ColumnStats]:
        """Count, nulls, NaNs, exact distinct count, min and max of every column, in one scan."""
        table = self._table(ds)
        exprs = ["count(*)"]
        plan: list[tuple[pa.Field, bool, bool]] = []
        for field in ds.schema:
            col = quote(field.name)
            orderable = _orderable(field.type)
            floating = pa.types.is_floating(field.type)
            exprs.append(f"count({col})")
            exprs.append(f"count(*) FILTER (WHERE isnan({col}))" if floating else "0")
            if orderable:
                exprs += [f"count(DISTINCT {col})", f"min({col})", f"max({col})"]
            plan.append((field, orderable, floating))
        row = self._one(f"SELECT {', '.join(exprs)} FROM {table}")
        rows = int(row[0])
        stats: dict[str, ColumnStats] = {}
        i = 1
        for field, orderable, floating in plan:
            present, nans = int(row[i]), int(row[i + 1])
            i += 2
            distinct = lo = hi = None
            if orderable:
                distinct, lo, hi = row[i], row[i + 1], row[i + 2]
                i += 3
                if floating:  # DuckDB orders NaN above every number; report the finite range
                    lo, hi = _finite_range(self, table, field.name, lo, hi)
                    distinct = None if distinct is None else int(distinct) - (1 if nans else 0)
            stats[field.name] = ColumnStats(
                field.name, str(field.type), rows, rows - present, nans, distinct, lo, hi
            )
        return stats

    def out_of_range(
        self, ds: Dataset, column: str, low: float | None, high: float | None
    ) -> tuple[int, list[Any]]:
        """Rows whose ``column`` lies outside [low, high] (missing values are not counted)."""
        col = quote(column)
        conditions = []
        params: list[Any] = []
        if low is not None:
            conditions.append(f"{col} < ?")
            params.append(low)
        if high is not None:
            conditions.append(f"{col} > ?")
            params.append(high)
        if not conditions:
            return 0, []
        where = " OR ".join(conditions)
        if pa.types.is_floating(ds.schema.field(column).type):
            where = f"({where}) AND NOT isnan({col})"  # NaN is missing, not out of range
        table = self._table(ds)
        (count,) = self._one(f"SELECT count(*) FROM {table} WHERE {where}", params)
        examples = []
        if count:
            examples = [
                r[0]
                for r in self._all(
                    f"SELECT DISTINCT {col} FROM {table} WHERE {where} ORDER BY 1 LIMIT {EXAMPLES}",
                    params,
                )
            ]
        return int(count), examples

    def unexpected_values(
        self, ds: Dataset, column: str, allowed: Sequence[Any]
    ) -> tuple[int, list[tuple[Any, int]]]:
        """Rows whose ``column`` holds a value not in ``allowed``, and the commonest such values."""
        col = quote(column)
        table = self._table(ds)
        texts = [str(v).lower() if isinstance(v, bool) else str(v) for v in allowed]
        where = f"{col} IS NOT NULL AND NOT list_contains(?::VARCHAR[], CAST({col} AS VARCHAR))"
        if pa.types.is_floating(ds.schema.field(column).type):
            where += f" AND NOT isnan({col})"  # NaN is missing, not an unexpected value
        (count,) = self._one(f"SELECT count(*) FROM {table} WHERE {where}", [texts])
        top = self._all(
            f"SELECT {col}, count(*) AS n FROM {table} WHERE {where} "
            f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {EXAMPLES}",
            [texts],
        )
        return int(count), [(v, int(n)) for v, n in top]

    def value_counts(self, ds: Dataset, column: str, *, limit: int = 50) -> list[tuple[Any, int]]:
        """The commonest values of ``column`` with their counts (nulls included as ``None``)."""
        col = quote(column)
        rows = self._all(
            f"SELECT {col}, count(*) AS n FROM {self._table(ds)} GROUP BY 1 "
            f"ORDER BY n DESC, 1 NULLS LAST LIMIT {int(limit)}"
        )
        return [(v, int(n)) for v, n in rows]

    # Row facts ----------------------------------------------------------------------------

    def duplicates(
        self, ds: Dataset, columns: Sequence[str], *, show_values: bool = False
    ) -> GroupFacts:
        """Rows that repeat on ``columns`` (all columns for duplicate rows; the id for keys).

        Examples give each group's size and first row numbers (0-based); the values
        themselves only with ``show_values`` (for ids — row values may be personal data).
        """
        cols = ", ".join(quote(c) for c in columns)
        table = self._table(ds)
        total, extra, groups, in_groups = self._one(
            f"SELECT (SELECT count(*) FROM {table}), coalesce(sum(n - 1), 0), count(*), "
            f"coalesce(sum(n), 0) "
            f"FROM (SELECT count(*) AS n FROM {table} GROUP BY {cols} HAVING n > 1)"
        )
        examples: list[dict[str, Any]] = []
        if groups:
            numbered = f"(SELECT *, row_number() OVER () - 1 AS rn FROM {table})"
            query = (
                f"SELECT {cols}, count(*) AS n, list(rn ORDER BY rn)[1:3] AS first_rows "
                f"FROM {numbered} GROUP BY {cols} HAVING n > 1 "
                f"ORDER BY n DESC, min(rn) LIMIT {EXAMPLES}"
            )
            for row in self._all(query):
                example: dict[str, Any] = {"count": int(row[-2]), "rows": [int(r) for r in row[-1]]}
                if show_values:
                    values = (_plain(v) for v in row[: len(columns)])
                    example["values"] = dict(zip(columns, values, strict=True))
                examples.append(example)
        return GroupFacts(int(total), int(extra), int(groups), int(in_groups), examples)

    def conflicts(self, ds: Dataset, features: Sequence[str], target: str) -> GroupFacts:
        """Rows whose feature values are identical but whose labels differ."""
        cols = ", ".join(quote(c) for c in features)
        table = self._table(ds)
        conflicting = (
            f"SELECT {cols}, count(*) AS n, count(DISTINCT {quote(target)}) AS labels "
            f"FROM {table} GROUP BY ALL HAVING count(DISTINCT {quote(target)}) > 1"
        )
        total, groups, in_groups = self._one(
            f"SELECT (SELECT count(*) FROM {table}), count(*), coalesce(sum(n), 0) "
            f"FROM ({conflicting})"
        )
        examples = [
            {"count": int(r[-2]), "labels": int(r[-1])}
            for r in self._all(f"{conflicting} ORDER BY n DESC, {cols} LIMIT {EXAMPLES}")
        ]
        return GroupFacts(int(total), 0, int(groups), int(in_groups), examples)

    def overlap(self, left: Dataset, right: Dataset, columns: Sequence[str]) -> int:
        """Rows of ``right`` whose values on ``columns`` also appear as a row of ``left``."""
        cols = ", ".join(quote(c) for c in columns)
        on = " AND ".join(f"r.{quote(c)} IS NOT DISTINCT FROM l.{quote(c)}" for c in columns)
        (count,) = self._one(
            f"SELECT count(*) FROM {self._table(right)} r "
            f"SEMI JOIN (SELECT DISTINCT {cols} FROM {self._table(left)}) l ON {on}"
        )
        return int(count)


def _orderable(dtype: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_decimal(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or pa.types.is_temporal(dtype)
        or pa.types.is_dictionary(dtype)
    )


def _finite_range(engine: SqlEngine, table: str, column: str, lo: Any, hi: Any) -> tuple[Any, Any]:
    if (lo is None or math.isfinite(lo)) and (hi is None or math.isfinite(hi)):
        return lo, hi
    col = quote(column)
    row = engine._one(f"SELECT min({col}), max({col}) FROM {table} WHERE NOT isnan({col})")
    return row[0], row[1]


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
