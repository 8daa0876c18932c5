"""Write a reference and a current Parquet table with planted drift, and the truth about it.

Both tables have N rows and 27 columns: 20 floats (``f00``…``f19``), 5 categorical strings
(``s0``…``s4``, 20 to 200 categories with zipf-like popularity), a binary ``target`` and a
binary ``prediction`` (both int8). The current table differs from the reference in exactly
seven columns, chosen from the seed, one per kind of shift:

=================  ==============================================================================
kind               what changes in the current table
=================  ==============================================================================
mean_shift         a float column moves by +0.5 of its standard deviation
scale_change       a float column's spread around its mean grows 1.75×
heavy_tail         10% of a float column's rows come from a component 4× as wide (same centre)
reordered          a string column's 8 most popular categories swap popularity (rank 1 ↔ 8, …)
rare_to_common     a string column's rarer half of categories grows from ~5–15% to 30% of rows
label              the target's positive rate goes from 0.30 to 0.45
prediction         the prediction's positive rate goes from ~0.31 to ~0.50 (the label shift plus
                   a model whose false-positive rate rises from 0.10 to 0.25)
=================  ==============================================================================

Every shift is large enough for an effect-size test to see it at any N: the measured normed
Wasserstein distance (W1 / reference standard deviation) of the numeric shifts is ≥ 0.2 and the
Jensen-Shannon distance (base 2) of the categorical and binary shifts is ≥ 0.1 — the default
thresholds of Evidently's large-sample tests. ``truth.json`` records the columns, the kinds and
these measured effect sizes for every column (on the first 200k rows), so a reader sees how far
the unshifted columns are from zero too. Two unshifted columns (one float, one string) hold 1%
nulls in both tables, as real data does.

The tables are written in row groups of ``--row-group-size`` rows (default 131,072), each group
generated from its own random stream (seed, table, group index), so the two tables can be
generated on two threads and the bytes written depend only on N and the seed (and on numpy's
generator algorithms, stable within a numpy release). Row groups let an engine split its work.

Usage::

    python bench/generate.py --rows 1M --seed 0 --out bench/data/1M-s0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import GENERATOR, ROW_GROUP_SIZE, format_rows, parse_rows

N_FLOAT = 20
N_STRING = 5
EFFECT_SAMPLE = 200_000
FAMILIES = ("normal", "lognormal", "uniform", "exponential", "gamma", "bimodal")
CARDINALITIES = (20, 50, 100, 150, 200)
MEAN_SHIFT_SD = 0.5
SCALE_FACTOR = 1.75
TAIL_SHARE = 0.10
TAIL_WIDTH = 4.0
REORDER_TOP = 8
RARE_SHARE = 0.30
NULL_SHARE = 0.01
# target rate, P(prediction=1 | target=1), P(prediction=1 | target=0)
LABEL_MODEL = {"reference": (0.30, 0.80, 0.10), "current": (0.45, 0.80, 0.25)}
SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "sa",
    "ti",
    "vo",
    "ze",
    "ba",
    "do",
    "fe",
    "gu",
    "ha",
    "ji",
    "ko",
    "la",
    "mu",
    "no",
    "pi",
    "qua",
    "re",
    "si",
    "to",
    "ul",
    "ve",
    "wa",
    "xi",
    "yo",
    "zu",
)


@dataclass
class FloatColumn:
    name: str
    family: str
    loc: float
    scale: float
    shift: str | None = None
    null_share: float = 0.0


@dataclass
class StringColumn:
    name: str
    categories: list[str]
    probabilities: np.ndarray  # reference popularity, in the order of `categories`
    zipf_exponent: float
    shift: str | None = None
    null_share: float = 0.0
    current: np.ndarray = field(default_factory=lambda: np.empty(0))


@dataclass
class Design:
    seed: int
    floats: list[FloatColumn]
    strings: list[StringColumn]

    def shifted(self) -> dict[str, str]:
        out = {c.name: c.shift for c in [*self.floats, *self.strings] if c.shift}
        out["target"] = "label"
        out["prediction"] = "prediction"
        return out


def _words(rng: np.random.Generator, n: int) -> list[str]:
    words: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        k = int(rng.integers(2, 5))
        w = "".join(SYLLABLES[i] for i in rng.integers(0, len(SYLLABLES), k))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


def design(seed: int) -> Design:
    """The column definitions for a seed: the same for the reference and the current table."""
    rng = np.random.default_rng([seed, 7919])
    floats = [
        FloatColumn(
            name=f"f{i:02d}",
            family=FAMILIES[int(rng.integers(len(FAMILIES)))],
            loc=float(np.round(rng.normal(0, 50), 2)),
            scale=float(np.round(rng.uniform(0.5, 20), 2)),
        )
        for i in range(N_FLOAT)
    ]
    strings = []
    for i, k in enumerate(CARDINALITIES):
        a = float(np.round(rng.uniform(0.9, 1.3), 2))
        p = 1.0 / np.arange(1, k + 1) ** a
        p /= p.sum()
        order = rng.permutation(k)  # popularity is not the names' order
        categories = _words(rng, k)
        probs = np.empty(k)
        probs[order] = p
        strings.append(StringColumn(f"s{i}", categories, probs, a))
    f_pick = rng.choice(N_FLOAT, size=4, replace=False)
    for col, kind in zip(f_pick[:3], ("mean_shift", "scale_change", "heavy_tail"), strict=True):
        floats[int(col)].shift = kind
    floats[int(f_pick[3])].null_share = NULL_SHARE
    s_pick = rng.choice(N_STRING, size=3, replace=False)
    for col, kind in zip(s_pick[:2], ("reordered", "rare_to_common"), strict=True):
        strings[int(col)].shift = kind
    strings[int(s_pick[2])].null_share = NULL_SHARE
    for s in strings:
        s.current = _current_popularity(s)
    return Design(seed, floats, strings)


def _current_popularity(col: StringColumn) -> np.ndarray:
    p = col.probabilities
    if col.shift is None:
        return p
    rank = np.argsort(-p, kind="stable")  # category indices, most popular first
    q = p.copy()
    if col.shift == "reordered":
        top = rank[:REORDER_TOP]
        q[top] = p[top[::-1]]
    elif col.shift == "rare_to_common":
        rare = rank[len(rank) // 2 :]
        common = rank[: len(rank) // 2]
        q[rare] = p[rare] * RARE_SHARE / p[rare].sum()
        q[common] = p[common] * (1 - RARE_SHARE) / p[common].sum()
    return q / q.sum()


def _standard(family: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draws with mean 0 and standard deviation 1 from a family."""
    if family == "normal":
        return rng.standard_normal(n)
    if family == "lognormal":
        s = 0.5
        m, v = np.exp(s * s / 2), (np.exp(s * s) - 1) * np.exp(s * s)
        return (np.exp(s * rng.standard_normal(n)) - m) / np.sqrt(v)
    if family == "uniform":
        return (rng.random(n) - 0.5) * np.sqrt(12.0)
    if family == "exponential":
        return rng.standard_exponential(n) - 1.0
    if family == "gamma":
        return (rng.standard_gamma(2.0, n) - 2.0) / np.sqrt(2.0)
    if family == "bimodal":
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        return side * np.sqrt(0.75) + 0.5 * rng.standard_normal(n)
    raise ValueError(f"unknown family {family!r}")


def _float_values(col: FloatColumn, rng: np.random.Generator, n: int, current: bool) -> pa.Array:
    z = _standard(col.family, rng, n)
    if current and col.shift == "mean_shift":
        z += MEAN_SHIFT_SD
    elif current and col.shift == "scale_change":
        z *= SCALE_FACTOR
    elif current and col.shift == "heavy_tail":
        wide = rng.random(n) < TAIL_SHARE
        z[wide] *= TAIL_WIDTH
    values = col.loc + col.scale * z
    if col.null_share:
        return pa.array(values, mask=rng.random(n) < col.null_share)
    return pa.array(values)


def _string_values(
    col: StringColumn, dictionary: pa.Array, rng: np.random.Generator, n: int, current: bool
) -> pa.Array:
    cdf = np.cumsum(col.current if current else col.probabilities)
    codes = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").astype(np.int32)
    np.minimum(codes, len(cdf) - 1, out=codes)
    mask = rng.random(n) < col.null_share if col.null_share else None
    return dictionary.take(pa.array(codes, mask=mask))


def _label_values(rng: np.random.Generator, n: int, current: bool) -> tuple[pa.Array, pa.Array]:
    rate, tpr, fpr = LABEL_MODEL["current" if current else "reference"]
    y = rng.random(n) < rate
    pred = rng.random(n) < np.where(y, tpr, fpr)
    return pa.array(y.astype(np.int8)), pa.array(pred.astype(np.int8))


def schema() -> pa.Schema:
    return pa.schema(
        [pa.field(f"f{i:02d}", pa.float64()) for i in range(N_FLOAT)]
        + [pa.field(f"s{i}", pa.string()) for i in range(N_STRING)]
        + [pa.field("target", pa.int8()), pa.field("prediction", pa.int8())]
    )


def write_table(
    d: Design, rows: int, path: Path, *, current: bool, row_group_size: int
) -> dict[str, pa.Array]:
    """Write one table; return the first EFFECT_SAMPLE rows of each column."""
    sch = schema()
    dictionaries = [pa.array(s.categories, pa.string()) for s in d.strings]
    sample: dict[str, list[pa.Array]] = {name: [] for name in sch.names}
    kept = 0
    tmp = path.with_suffix(".parquet.tmp")
    with pq.ParquetWriter(tmp, sch, compression="snappy") as writer:
        for g, start in enumerate(range(0, rows, row_group_size)):
            n = min(row_group_size, rows - start)
            rng = np.random.default_rng([d.seed, int(current), g])
            arrays: list[pa.Array] = [_float_values(c, rng, n, current) for c in d.floats]
            arrays += [
                _string_values(c, dic, rng, n, current)
                for c, dic in zip(d.strings, dictionaries, strict=True)
            ]
            arrays += list(_label_values(rng, n, current))
            writer.write_table(pa.Table.from_arrays(arrays, schema=sch), row_group_size=n)
            if kept < EFFECT_SAMPLE:
                take = min(n, EFFECT_SAMPLE - kept)
                for name, arr in zip(sch.names, arrays, strict=True):
                    sample[name].append(arr.slice(0, take))
                kept += take
    tmp.replace(path)
    return {name: pa.concat_arrays(parts) for name, parts in sample.items()}


def normed_wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """W1(a, b) / std(a), NaN dropped (scipy.stats.wasserstein_distance's formula)."""
    a = np.sort(a[~np.isnan(a)])
    b = np.sort(b[~np.isnan(b)])
    both = np.sort(np.concatenate([a, b]))
    deltas = np.diff(both)
    cdf_a = np.searchsorted(a, both[:-1], side="right") / a.size
    cdf_b = np.searchsorted(b, both[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * deltas) / np.std(a))


def _frequencies(a: pa.Array, b: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Shares of each value (nulls dropped) in a and in b, over the union of their values."""
    counts: dict[Any, list[int]] = {}
    for side, arr in enumerate((a, b)):
        for item in pc.value_counts(arr.drop_null()).to_pylist():
            counts.setdefault(item["values"], [0, 0])[side] += item["counts"]
    table = np.array(list(counts.values()), dtype=np.float64).reshape(-1, 2)
    return table[:, 0] / table[:, 0].sum(), table[:, 1] / table[:, 1].sum()


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2 (scipy.spatial.distance.jensenshannon's definition)."""
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log2(x[nz] / m[nz])))

    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def psi(p: np.ndarray, q: np.ndarray, eps: float = 1e-4) -> float:
    p, q = np.clip(p, eps, None), np.clip(q, eps, None)
    return float(np.sum((q - p) * np.log(q / p)))


def effects(d: Design, ref: dict[str, pa.Array], cur: dict[str, pa.Array]) -> dict[str, Any]:
    """Effect size of the change in every column, on the sampled rows."""
    out: dict[str, Any] = {}
    for c in d.floats:
        a, b = (t[c.name].to_numpy(zero_copy_only=False) for t in (ref, cur))
        out[c.name] = {"normed_wasserstein": round(normed_wasserstein(a, b), 4)}
    for name in [s.name for s in d.strings] + ["target", "prediction"]:
        p, q = _frequencies(ref[name], cur[name])
        out[name] = {"jensen_shannon": round(jensen_shannon(p, q), 4), "psi": round(psi(p, q), 4)}
        if name in ("target", "prediction"):
            rates = [round(pc.mean(t[name]).as_py(), 4) for t in (ref, cur)]
            out[name]["positive_rate"] = rates
    return out


def describe(kind: str) -> str:
    return {
        "mean_shift": f"mean +{MEAN_SHIFT_SD} standard deviations",
        "scale_change": f"spread around the mean ×{SCALE_FACTOR}",
        "heavy_tail": f"{TAIL_SHARE:.0%} of rows from a component {TAIL_WIDTH}× as wide",
        "reordered": f"the {REORDER_TOP} most popular categories swap popularity "
        f"(1↔{REORDER_TOP}, …)",
        "rare_to_common": f"the rarer half of categories grows to {RARE_SHARE:.0%} of rows",
        "label": "positive rate {:.2f} → {:.2f}".format(
            LABEL_MODEL["reference"][0], LABEL_MODEL["current"][0]
        ),
        "prediction": "false-positive rate {:.2f} → {:.2f} on top of the label shift".format(
            LABEL_MODEL["reference"][2], LABEL_MODEL["current"][2]
        ),
    }[kind]


def generate(
    rows: int, seed: int, out: Path, *, row_group_size: int = ROW_GROUP_SIZE
) -> dict[str, Any]:
    """Write ``reference.parquet``, ``current.parquet`` and ``truth.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    d = design(seed)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                write_table,
                d,
                rows,
                out / f"{name}.parquet",
                current=current,
                row_group_size=row_group_size,
            )
            for name, current in (("reference", False), ("current", True))
        ]
        ref, cur = (f.result() for f in futures)
    shifted = d.shifted()
    truth = {
        "generator": GENERATOR,
        "seed": seed,
        "rows": rows,
        "row_group_size": row_group_size,
        "files": {"reference": "reference.parquet", "current": "current.parquet"},
        "target": "target",
        "prediction": "prediction",
        "columns": schema().names,
        "shifted": {
            name: {"kind": kind, "change": describe(kind)} for name, kind in shifted.items()
        },
        "unshifted": [n for n in schema().names if n not in shifted],
        "nulls": {c.name: c.null_share for c in [*d.floats, *d.strings] if c.null_share},
        "float_columns": {
            c.name: {"family": c.family, "loc": c.loc, "scale": c.scale} for c in d.floats
        },
        "string_columns": {
            s.name: {"categories": len(s.categories), "zipf_exponent": s.zipf_exponent}
            for s in d.strings
        },
        "effect_sample_rows": min(rows, EFFECT_SAMPLE),
        "effects": effects(d, ref, cur),
    }
    tmp = out / "truth.json.tmp"
    tmp.write_text(json.dumps(truth, indent=2) + "\n")
    tmp.replace(out / "truth.json")
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=parse_rows, default=parse_rows("100k"), help="rows per table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True, help="folder for the three files")
    ap.add_argument("--row-group-size", type=int, default=ROW_GROUP_SIZE)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    truth = generate(args.rows, args.seed, args.out, row_group_size=args.row_group_size)
    kinds = ", ".join(f"{c}={v['kind']}" for c, v in truth["shifted"].items())
    print(
        f"wrote {format_rows(args.rows)} rows × 2 tables to {args.out} in "
        f"{time.perf_counter() - t0:.1f} s; shifted: {kinds}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
