"""A table's profile: one mergeable :class:`ColumnProfile` per column, and its file format.

A profile file (``.assayprofile``) is gzip-compressed JSON of type ``assay.profile/1``:
counts and moments as numbers, sketches as base64 of their own binary forms (DataSketches'
KLL serialisation; KMV hashes as little-endian uint64), exact values as little-endian
float64. A file of a version this Assay cannot read is refused with the versions it can.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from datasketches import kll_doubles_sketch

from assay._files import atomic_write
from assay.errors import InputError
from assay.profiles.column import ColumnProfile
from assay.profiles.sketches import DistinctSketch, FrequentItems

PROFILE_SCHEMA = "assay.profile/1"
READABLE = (PROFILE_SCHEMA,)
SUFFIX = ".assayprofile"


@dataclass
class TableProfile:
    """Column profiles of one table, and where the table came from."""

    columns: dict[str, ColumnProfile]
    rows: int
    source: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnProfile:
        return self.columns[name]

    def __iter__(self) -> Iterator[ColumnProfile]:
        return iter(self.columns.values())

    def merge(self, other: TableProfile) -> TableProfile:
        """The profile of both tables' rows together; columns must match by name."""
        if list(self.columns) != list(other.columns):
            raise ValueError(f"column sets differ: {list(self.columns)} vs {list(other.columns)}")
        return TableProfile(
            {n: c.merge(other.columns[n]) for n, c in self.columns.items()},
            self.rows + other.rows,
            dict(self.source),
        )

    # File format -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": PROFILE_SCHEMA,
            "rows": self.rows,
            "source": dict(self.source),
            "columns": [_column_json(c) for c in self.columns.values()],
        }

    def to_bytes(self) -> bytes:
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), default=str)
        return gzip.compress(text.encode(), compresslevel=6, mtime=0)

    def save(self, path: Path) -> None:
        atomic_write(path, self.to_bytes())

    @classmethod
    def from_bytes(cls, raw: bytes, *, where: str = "profile") -> TableProfile:
        try:
            data = json.loads(gzip.decompress(raw))
        except (OSError, EOFError, ValueError) as exc:
            raise InputError(
                f"{where}: not an Assay profile file ({exc}). "
                "Write one with `assay profile DATA -o FILE`."
            ) from None
        schema = data.get("schema") if isinstance(data, dict) else None
        if schema not in READABLE:
            raise InputError(
                f"{where}: profile format {schema!r} is not one this Assay reads "
                f"({', '.join(READABLE)}). Re-create it with this version's `assay profile`."
            )
        try:
            columns = {c["name"]: _column_from_json(c) for c in data["columns"]}
            return cls(columns, int(data["rows"]), dict(data.get("source", {})))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{where}: the profile file is damaged ({exc!r}). Re-create it."
            ) from None

    @classmethod
    def load(cls, path: Path) -> TableProfile:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read the profile ({exc.strerror}).") from None
        return cls.from_bytes(raw, where=str(path))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _column_json(c: ColumnProfile) -> dict[str, Any]:
    items = c.items
    return {
        "name": c.name,
        "arrow_type": c.arrow_type,
        "logical": c.logical,
        "count": c.count,
        "nulls": c.nulls,
        "nans": c.nans,
        "pos_inf": c.pos_inf,
        "neg_inf": c.neg_inf,
        "n_finite": c.n_finite,
        "mean": c.mean,
        "m2": c.m2,
        "min": _number(c.min),
        "max": _number(c.max),
        "kll": _b64(c.kll.serialize()) if c.kll is not None else None,
        "values": _b64(np.sort(c.values).astype("<f8").tobytes()) if c.values is not None else None,
        "exact_limit": c.exact_limit,
        "distinct": {"k": c.distinct.k, "hashes": _b64(c.distinct.hashes.astype("<u8").tobytes())},
        "items": {
            "cap": items.cap,
            "summarise": items.summarise,
            "error": items.error,
            "exact": items.exact,
            "dropped": items.dropped,
            "counts": [[_item(v), n] for v, n in items.top(len(items.counts))],
        },
    }


def _item(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else str(value)


def _column_from_json(d: Mapping[str, Any]) -> ColumnProfile:
    items = d["items"]
    values = (
        np.frombuffer(base64.b64decode(d["values"]), "<f8").astype(np.float64)
        if d["values"]
        else None
    )
    return ColumnProfile(
        name=d["name"],
        arrow_type=d["arrow_type"],
        logical=d["logical"],
        count=d["count"],
        nulls=d["nulls"],
        nans=d["nans"],
        pos_inf=d["pos_inf"],
        neg_inf=d["neg_inf"],
        n_finite=d["n_finite"],
        mean=d["mean"],
        m2=d["m2"],
        min=d["min"],
        max=d["max"],
        kll=kll_doubles_sketch.deserialize(base64.b64decode(d["kll"])) if d["kll"] else None,
        values=values,
        exact_limit=d["exact_limit"],
        distinct=DistinctSketch(
            d["distinct"]["k"],
            np.frombuffer(base64.b64decode(d["distinct"]["hashes"]), "<u8").astype(np.uint64),
        ),
        items=FrequentItems(
            cap=items["cap"],
            summarise=items["summarise"],
            counts={v: n for v, n in items["counts"]},
            error=items["error"],
            exact=items["exact"],
            dropped=items["dropped"],
        ),
    )
