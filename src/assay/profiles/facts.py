"""Exact table facts for the checks, from one profile pass instead of repeated scans.

:class:`TableFacts` answers what the integrity checks ask — column statistics, values outside
a range or an allowed list, duplicate groups, overlaps, conflicting labels — from the
profiles and row hashes the pass collected. Where a profile cannot answer exactly (a range
that the column's min and max cross, an allowed list checked against a column with more
distinct values than the counts keep), it reads only that column again, in batches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assay.profiles.column import ColumnProfile
from assay.profiles.engine import ScanResult
from assay.profiles.rows import (
    EXAMPLES,
    GroupFacts,
    all_distinct,
    conflicting_labels,
    duplicate_groups,
    overlap,
)
from assay.profiles.sketches import column_seed, hash_array
from assay.profiles.table import TableProfile
from assay.sources.datasets import Dataset


@dataclass(frozen=True)
class ColumnStats:
    """Exact facts about one column (``distinct`` is ``None`` past the exact cap)."""

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

    @classmethod
    def of(cls, p: ColumnProfile) -> ColumnStats:
        distinct = int(p.distinct_count) if p.distinct_exact and p.logical != "other" else None
        return cls(p.name, p.arrow_type, p.count, p.nulls, p.nans, distinct, p.min, p.max)


class TableFacts:
    """Facts about the datasets of one audit, answered from their scan results."""

    def __init__(self, datasets: Mapping[str, Dataset], scans: Mapping[str, ScanResult]) -> None:
        self._datasets = dict(datasets)
        self._scans = dict(scans)
        self._distinct: dict[tuple[str, str], bool] = {}  # (dataset, hash group) -> all differ

    def _scan(self, ds: Dataset) -> ScanResult:
        return self._scans[ds.name]

    def profile(self, ds: Dataset) -> TableProfile:
        return self._scan(ds).profile

    def column_stats(self, ds: Dataset) -> dict[str, ColumnStats]:
        return {c.name: ColumnStats.of(c) for c in self.profile(ds)}

    # Values ------------------------------------------------------------------------------

    def out_of_range(
        self, ds: Dataset, column: str, low: float | None, high: float | None
    ) -> tuple[int, list[Any]]:
        """Rows whose ``column`` lies outside [low, high] (missing values are not counted)."""
        p = self.profile(ds)[column]
        inside_low = low is None or p.min is None or p.min >= low
        inside_high = high is None or p.max is None or p.max <= high
        if inside_low and inside_high:
            return 0, []
        count, examples = 0, np.empty(0)
        for batch in ds.batches([column]):
            x = _numbers(batch.column(0))
            x = x[np.isfinite(x)]
            outside = np.zeros(x.size, bool)
            if low is not None:
                outside |= x < low
            if high is not None:
                outside |= x > high
            count += int(outside.sum())
            examples = np.unique(np.concatenate([examples, x[outside]]))[:EXAMPLES]
        return count, [_plain(v, p) for v in examples]

    def unexpected_values(
        self, ds: Dataset, column: str, allowed: Sequence[Any]
    ) -> tuple[int, list[tuple[Any, int]]]:
        """Rows whose ``column`` holds a value not in ``allowed`` (compared as text)."""
        texts = {_text(v) for v in allowed}
        p = self.profile(ds)[column]
        counts = (
            list(p.items.counts.items())
            if p.items.exact
            else self.value_counts(ds, column, limit=None)
        )
        bad = [
            (v, n) for v, n in counts if v is not None and not _is_nan(v) and _text(v) not in texts
        ]
        bad.sort(key=lambda item: (-item[1], str(item[0])))
        return sum(n for _, n in bad), bad[:EXAMPLES]

    def value_counts(
        self, ds: Dataset, column: str, *, limit: int | None = 50
    ) -> list[tuple[Any, int]]:
        """The commonest values of ``column`` with their counts (nulls as ``None``)."""
        p = self.profile(ds)[column]
        if p.items.exact:
            counted = dict(p.items.counts)
        else:
            counted = {}
            for batch in ds.batches([column]):
                vc = pc.value_counts(pc.drop_null(batch.column(0)))
                for v, n in zip(
                    vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True
                ):
                    counted[v] = counted.get(v, 0) + n
        rows = sorted(counted.items(), key=lambda item: (-item[1], str(item[0])))
        if p.nulls:
            rows.append((None, p.nulls))
            rows.sort(key=lambda item: (-item[1], item[0] is None, str(item[0])))
        return rows if limit is None else rows[:limit]

    # Rows ----------------------------------------------------------------------------------

    def row_hashes(self, ds: Dataset, columns: Sequence[str]) -> np.ndarray:
        """Each row's hash over ``columns`` (from the pass when it can, else one more read)."""
        scanned = self._scan(ds).hashes
        hashes = scanned.over(columns) if scanned is not None else None
        if hashes is not None:
            return hashes
        total = np.zeros(ds.rows, np.uint64)
        offset = 0
        for batch in ds.batches(list(columns)):
            n = batch.num_rows
            for name in columns:
                part = total[offset : offset + n]
                np.add(part, hash_array(batch.column(name), column_seed(name)), out=part)
            offset += n
        return total

    def duplicates(
        self, ds: Dataset, columns: Sequence[str], *, show_values: bool = False
    ) -> GroupFacts:
        """Rows that repeat on ``columns``; examples give group sizes and first row numbers,
        and the values only with ``show_values`` (for ids: row values may be personal data)."""
        if self._known_distinct(ds, columns):
            return GroupFacts(ds.rows, 0, 0, 0, [])
        facts = duplicate_groups(self.row_hashes(ds, columns))
        if show_values and facts.examples:
            rows = [e["rows"][0] for e in facts.examples]
            table = _take(ds, columns, rows)
            for example, i in zip(facts.examples, range(len(rows)), strict=True):
                example["values"] = {c: _plain(table.column(c)[i].as_py(), None) for c in columns}
        return facts

    def conflicts(self, ds: Dataset, features: Sequence[str], target: str) -> GroupFacts:
        """Rows whose feature values are identical but whose labels differ."""
        if self._known_distinct(ds, features):  # no two rows share features: nothing conflicts
            return GroupFacts(ds.rows, 0, 0, 0, [])
        return conflicting_labels(self.row_hashes(ds, features), self.row_hashes(ds, [target]))

    def _known_distinct(self, ds: Dataset, columns: Sequence[str]) -> bool:
        """True when the pass's hashes show every row differs over ``columns``: tested once per
        dataset and hash group (a sort), shared by the duplicate and label-conflict checks."""
        scanned = self._scan(ds).hashes
        found = scanned.largest_group_within(columns) if scanned is not None else None
        if found is None:
            return False
        group, array = found
        key = (ds.name, group)
        if key not in self._distinct:
            self._distinct[key] = all_distinct(array)
        return self._distinct[key]

    def overlap(self, left: Dataset, right: Dataset, columns: Sequence[str]) -> int:
        """Rows of ``right`` whose values on ``columns`` also appear as a row of ``left``."""
        return overlap(self.row_hashes(left, columns), self.row_hashes(right, columns))


def _take(ds: Dataset, columns: Sequence[str], rows: Sequence[int]) -> pa.Table:
    """The given rows (0-based, in file order) of ``columns``, in that order."""
    wanted = np.asarray(rows, np.int64)
    found: dict[int, dict[str, Any]] = {}
    offset = 0
    for batch in ds.batches(list(columns)):
        inside = wanted[(wanted >= offset) & (wanted < offset + batch.num_rows)]
        for r in inside:
            found[int(r)] = {c: batch.column(c)[int(r) - offset] for c in columns}
        offset += batch.num_rows
    return pa.table(
        {
            c: pa.array([found[int(r)][c].as_py() for r in wanted], type=ds.schema.field(c).type)
            for c in columns
        }
    )


def _numbers(array: pa.Array) -> np.ndarray:
    if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
        array = array.cast(pa.int64())
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _plain(value: Any, profile: ColumnProfile | None) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if (
        profile is not None
        and profile.logical == "integer"
        and isinstance(value, float)
        and value.is_integer()
    ):
        return int(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _text(value: Any) -> str:
    """How a value compares with an ``allowed:`` entry: as text, booleans in lower case."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
