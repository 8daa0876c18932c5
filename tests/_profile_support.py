"""Helpers shared by the profile tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from assay.profiles.column import ColumnProfile


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
