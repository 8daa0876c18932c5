"""Helpers shared by the profile tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from assay.profiles.column import ColumnProfile
from assay.sources import open_dataset
from assay.sources.datasets import Dataset
from assay.spec import spec_from_mapping


def reference_and_current(
    folder: Path, rows: tuple[int, int], seeds: tuple[int, int], row_group_size: int
) -> dict[str, Dataset]:
    """Parquet files of :func:`mixed_table` rows (target ``t``) opened as the datasets
    ``reference`` and ``current`` of a spec in ``folder``."""
    for name, n, seed in zip(("ref", "cur"), rows, seeds, strict=True):
        pq.write_table(
            mixed_table(n, seed), folder / f"{name}.parquet", row_group_size=row_group_size
        )
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {
                "reference": {"path": "ref.parquet", "target": "t"},
                "current": {"path": "cur.parquet", "target": "t"},
            },
        },
        base_dir=folder,
    )
    return {name: open_dataset(spec, name) for name in spec.datasets}


def mixed_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, rows)
    x[rng.random(rows) < 0.01] = np.nan
    return pa.table(
        {
            "x": x,
            "n": pa.array(np.where(rng.random(rows) < 0.02, None, rng.integers(0, 7, rows))),
            "s": pa.array(rng.choice(["a", "b", "c", None], rows).tolist()),
            "t": rng.integers(0, 2, rows),
        }
    )


def exact_parts(p: ColumnProfile) -> dict[str, object]:
    return {
        "count": p.count,
        "nulls": p.nulls,
        "nans": p.nans,
        "pos_inf": p.pos_inf,
        "neg_inf": p.neg_inf,
        "n_finite": p.n_finite,
        "min": p.min,
        "max": p.max,
        "distinct": (p.distinct.exact, p.distinct_count),
        "items": (p.items.exact, dict(p.items.counts)) if p.items.exact else p.items.exact,
        "values": None if p.values is None else sorted(p.values.tolist()),
    }
