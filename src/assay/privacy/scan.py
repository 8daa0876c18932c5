"""Scanning and masking whole Arrow columns: a vectorised prefilter, then the validators.

One regular expression (:data:`PREFILTER`, RE2 through ``pyarrow.compute``) runs over the
whole column in C++ and keeps the rows that could hold an entity: an ``@``, six or more
digits and separators, ``::``/``:x:``, a 20-character token, a month name before a number,
an IBAN-like start, a private-key header or a ``password=`` assignment. Every detector's
match implies a prefilter match (the tests check it), so skipping the other rows loses
nothing; only candidate rows reach the Python validators. Ordinary text passes the
prefilter at millions of rows per second (bench/RESULTS.md).

Every row is read — there is no sampling — and a column's result is exact.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from assay.privacy.detectors import KINDS, Match, scan_text
from assay.privacy.mask import MaskMethod, apply_masks, as_key, partial

PREFILTER = (
    r"@"
    r"|\d[\d \-./()]{4,}\d"
    r"|:[0-9A-Fa-f]{0,4}:"
    r"|[A-Za-z0-9_+/=\-]{20,}"
    r"|[A-Z]{2}\d{2} ?[A-Z0-9]"
    r"|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-zA-Z]*\.?,?[\s-]+\d"
    r"|PRIVATE KEY"
    r"|(?i:passw|pwd|secret|token|api.?key|access.?key)[\w-]*['\"]?\s*[:=]"
)
"""Rows that do not match cannot hold an entity; see the module doc."""

COLUMN_CONTEXT = (
    (re.compile(r"(?i)birth|\bdob\b|^dob|dob$|bday"), "date_of_birth"),
    (re.compile(r"(?i)phone|mobile|\btel\b|^tel|fax|msisdn"), "phone"),
    (re.compile(r"(?i)ssn|social.?security"), "us_ssn"),
)
"""Column names that say what the column holds (see ``context`` of :func:`scan_text`)."""

MAX_EXAMPLES = 3


def column_context(name: str) -> frozenset[str]:
    """The kinds a column is known to hold from its name: ``date_of_birth`` → birth dates."""
    return frozenset(kind for pattern, kind in COLUMN_CONTEXT if pattern.search(name))


def is_text(type_: pa.DataType) -> bool:
    """Whether a column of this type holds text (dictionary-encoded text included)."""
    if pa.types.is_dictionary(type_):
        return is_text(type_.value_type)
    return bool(
        pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or getattr(pa.types, "is_string_view", lambda t: False)(type_)
    )


def _plain(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array (dictionaries decoded, chunks joined)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def candidates(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Indices (int64) of the rows the prefilter keeps; nulls are never candidates."""
    array = _plain(array)
    return pc.indices_nonzero(pc.match_substring_regex(array, PREFILTER))  # nulls: skipped


def scan_array(
    array: pa.Array | pa.ChunkedArray,
    *,
    kinds: Collection[str] | None = None,
    context: Collection[str] = (),
) -> Iterator[tuple[int, list[Match]]]:
    """``(row, matches)`` for every row of a string array with at least one entity."""
    for row, _, found in _scan_rows(_plain(array), kinds, context):
        yield row, found


def _scan_rows(
    array: pa.Array, kinds: Collection[str] | None, context: Collection[str]
) -> Iterator[tuple[int, str, list[Match]]]:
    rows = candidates(array)
    if len(rows) == 0:
        return
    texts = array.take(rows).to_pylist()
    for row, text in zip(rows.to_pylist(), texts, strict=True):
        found = scan_text(text, kinds=kinds, context=context)
        if found:
            yield row, text, found


def mask_array(
    array: pa.Array | pa.ChunkedArray,
    method: MaskMethod,
    key: bytes | str | None = None,
    *,
    kinds: Collection[str] | None = None,
    context: Collection[str] = (),
) -> tuple[pa.Array, Counter[str]]:
    """The array with every entity masked, and how many entities of each kind were masked.

    Rows without an entity (and nulls) are kept as they are, and so is the array's type.
    """
    array = _plain(array)
    raw_key = as_key(key) if method == "hash" else None
    rows: list[int] = []
    texts: list[str] = []
    counts: Counter[str] = Counter()
    for row, text, found in _scan_rows(array, kinds, context):
        rows.append(row)
        texts.append(apply_masks(text, found, method, raw_key))
        counts.update(m.kind for m in found)
    if not rows:
        return array, counts
    flags = [False] * len(array)
    for row in rows:
        flags[row] = True
    masked = pc.replace_with_mask(array, pa.array(flags), pa.array(texts, array.type))
    return masked, counts


@dataclass(frozen=True)
class ColumnReport:
    """What a scan found in one column: counts, kinds and a few masked examples.

    ``examples`` hold ``partial`` masks only, never raw values, with the row each came from.
    """

    column: str
    n_rows: int
    n_values: int
    hit_count: int
    kinds: Mapping[str, int]
    examples: Mapping[str, tuple[tuple[int, str], ...]]
    context: frozenset[str] = frozenset()

    @property
    def hit_rate(self) -> float | None:
        """Share of present values with at least one entity; ``None`` without values."""
        return self.hit_count / self.n_values if self.n_values else None

    @property
    def match_count(self) -> int:
        return sum(self.kinds.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "n_rows": self.n_rows,
            "n_values": self.n_values,
            "hit_count": self.hit_count,
            "hit_rate": self.hit_rate,
            "match_count": self.match_count,
            "kinds": dict(sorted(self.kinds.items())),
            "context": sorted(self.context),
            "examples": {
                kind: [{"row": row, "masked": text} for row, text in shown]
                for kind, shown in sorted(self.examples.items())
            },
        }


@dataclass
class ColumnScan:
    """A streaming scan of one column: :meth:`update` with each batch's array, then
    :meth:`result`."""

    column: str
    kinds: Collection[str] | None = None
    context: frozenset[str] = frozenset()
    max_examples: int = MAX_EXAMPLES
    n_rows: int = 0
    n_values: int = 0
    hit_count: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        offset = self.n_rows
        self.n_rows += len(array)
        self.n_values += len(array) - array.null_count
        for row, found in scan_array(array, kinds=self.kinds, context=self.context):
            self.hit_count += 1
            for m in found:
                self.counts[m.kind] += 1
                shown = self.examples.setdefault(m.kind, [])
                if len(shown) < self.max_examples:
                    shown.append((offset + row, partial(m.kind, m.value)))

    def result(self) -> ColumnReport:
        return ColumnReport(
            column=self.column,
            n_rows=self.n_rows,
            n_values=self.n_values,
            hit_count=self.hit_count,
            kinds={k: self.counts[k] for k in KINDS if self.counts[k]},
            examples={k: tuple(v) for k, v in self.examples.items()},
            context=self.context,
        )


def scan_batches(
    batches: Iterable[pa.RecordBatch],
    columns: Collection[str] | None = None,
    *,
    kinds: Collection[str] | None = None,
    max_examples: int = MAX_EXAMPLES,
) -> dict[str, ColumnReport]:
    """Scan every row of the text columns (or ``columns``) of a stream of record batches.

    Each column's name gives it its context (:func:`column_context`).
    """
    scans: dict[str, ColumnScan] | None = None
    for batch in batches:
        if scans is None:
            names = [
                f.name
                for f in batch.schema
                if (columns is None or f.name in columns) and is_text(f.type)
            ]
            scans = {
                n: ColumnScan(n, kinds, column_context(n), max_examples=max_examples) for n in names
            }
        for name, scan in scans.items():
            scan.update(batch.column(name))
    return {name: scan.result() for name, scan in (scans or {}).items()}
