"""Weak-slice search: which slices of a table does the model get markedly wrong?

Slices are described in the condition language of :mod:`assay.stats.slice_conditions`.

**Weak-slice search** (:func:`search`) cuts each column into levels — numeric columns with
many values into quantile bins, others (and numeric columns with at most ``max_categories``
distinct values) into their commonest categories with the rest grouped, missing values a level
of their own — then tests every level, and every pair of levels of the ``pair_columns``
columns whose best single level is most significant, against the rest of the rows. A slice
with fewer than ``min_rows`` rows (or no rows outside it) is not tested, only counted.

- classification: the per-row loss is the error (0/1); the slice's metric its error rate;
  the test is one-sided Fisher's exact test (hypergeometric tail: at least the slice's errors
  among its rows, given the total errors);
- regression: the loss is the absolute error; the metric the slice's MAE; the test is
  one-sided Welch's t-test of the slice's absolute errors against the rest's.

Example::

    from assay.stats.slices import search

    found = search(errors, {"x1": x1, "region": region}, kind="error", min_rows=20)
    [(s.label, s.value, s.p_adjusted) for s in found.slices[:3]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from assay.stats.multiple_testing import benjamini_hochberg
from assay.stats.slice_conditions import describe, is_numeric, missing_mask

Kind = Literal["error", "absolute_error"]


# -- levels of one column --------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """A column cut into levels: each row's level (−1 in none) and each level's condition."""

    column: str
    codes: npt.NDArray[np.int64]
    conditions: tuple[Any, ...]

    @property
    def k(self) -> int:
        return len(self.conditions)


def levels(values: np.ndarray, column: str, *, bins: int = 5, max_categories: int = 10) -> Levels:
    """Quantile bins of a numeric column with many values, else its commonest categories.

    Numeric: ``bins`` bins at the quantiles of the present values (coinciding edges merged);
    bin i holds edge_i < x ≤ edge_{i+1}, the first bin also its lower edge. Categorical (or
    numeric with at most ``max_categories`` distinct values): the ``max_categories`` commonest
    values, each a level (ties broken by value order), and one level for all the others.
    Missing values are a level of their own.
    """
    missing = missing_mask(values)
    codes = np.full(values.size, -1, dtype=np.int64)
    conditions: list[Any] = []
    if is_numeric(values):
        x = values.astype(np.float64, copy=False)
        present = x[~missing]
        distinct = np.unique(present)
        if distinct.size > max_categories:
            edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)))
            inner = np.searchsorted(edges[1:-1], x[~missing], side="left")
            codes[~missing] = inner
            for i in range(edges.size - 1):
                low, high = _plain_number(edges[i]), _plain_number(edges[i + 1])
                conditions.append({"min": low, "max": high} if i == 0 else {"gt": low, "max": high})
        else:
            codes[~missing] = np.searchsorted(distinct, x[~missing])
            conditions.extend(_plain_number(v) for v in distinct)
    else:
        import pandas as pd

        found, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
        found = np.asarray(found, dtype=np.int64)
        counts = np.bincount(found[found >= 0], minlength=len(uniques))
        order = np.lexsort((np.arange(len(uniques)), -counts))  # commonest first, then by value
        top = order[:max_categories]
        remap = np.full(len(uniques) + 1, -1, dtype=np.int64)
        remap[top] = np.arange(top.size)
        labels = [_plain_value(uniques[i]) for i in top.tolist()]
        conditions.extend(labels)
        if len(uniques) > top.size:
            remap[order[max_categories:]] = top.size
            conditions.append({"not_in": labels})
        codes = np.where(found >= 0, remap[found], -1)
        codes[missing] = -1
    if missing.any():
        codes[missing] = len(conditions)
        conditions.append(None)
    return Levels(column, codes, tuple(conditions))


def _plain_number(value: Any) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _plain_value(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


# -- the search ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SliceResult:
    """One tested slice: its size, metric, the rest's metric and the test's p-values.

    ``value`` is the error rate (classification) or MAE (regression) of the slice's rows,
    ``rest_value`` the same over every other row; ``p_value`` tests whether the slice is
    worse, ``p_adjusted`` is its Benjamini–Hochberg adjustment over all tested slices.
    """

    label: str
    where: dict[str, Any]
    n: int
    value: float
    rest_value: float
    p_value: float
    p_adjusted: float
    declared: bool = False
    parents: tuple[str, ...] = ()

    @property
    def gap(self) -> float:
        """Slice minus rest (error rate); positive when the slice is worse."""
        return self.value - self.rest_value

    @property
    def ratio(self) -> float | None:
        """Slice over rest (MAE); ``None`` when the rest's value is 0."""
        return self.value / self.rest_value if self.rest_value > 0 else None


@dataclass(frozen=True)
class SearchResult:
    """Every tested slice, most significant first, and what was not tested."""

    slices: tuple[SliceResult, ...]
    n_rows: int
    overall: float
    untested: int
    """Non-empty slices with fewer than ``min_rows`` rows (or covering every row)."""
    columns: tuple[str, ...]
    pair_columns: tuple[str, ...]
    skipped_columns: dict[str, str] = field(default_factory=dict)


@dataclass
class _Candidate:
    label: str
    where: dict[str, Any]
    n: int
    total: float
    squares: float
    declared: bool = False
    parents: tuple[str, ...] = ()


def search(
    loss: Any,
    columns: Mapping[str, np.ndarray],
    *,
    kind: Kind,
    min_rows: int = 20,
    bins: int = 5,
    max_categories: int = 10,
    pair_columns: int = 4,
    declared: Sequence[tuple[str, Mapping[str, Any], np.ndarray]] = (),
) -> SearchResult:
    """Test every single-column level, the pairs of the most significant columns' levels,
    and the ``declared`` (label, where, row mask) slices against the rest; BH across all
    of them.

    ``loss`` is the per-row error (0/1, ``kind="error"``) or absolute error
    (``"absolute_error"``); ``columns`` the slicing columns' values, aligned with it
    (numeric: float with NaN; others: object arrays with ``None``).
    """
    x = np.asarray(loss, dtype=np.float64)
    n = x.size
    total, squares = float(x.sum()), float(np.dot(x, x))
    candidates: list[_Candidate] = []
    untested = 0
    cut: dict[str, Levels] = {}
    for name, values in columns.items():
        cut[name] = levels(values, name, bins=bins, max_categories=max_categories)
    best: dict[str, float] = {}
    for name, lv in cut.items():
        found, small = _level_candidates([lv], x, n, min_rows)
        untested += small
        candidates.extend(found)
        if found:
            p = _p_values(found, n, total, squares, kind)
            best[name] = float(np.min(p))
    ranked = sorted(best, key=lambda c: (best[c], list(cut).index(c)))[:pair_columns]
    ranked = [c for c in cut if c in ranked]  # in column order
    for a, b in combinations(ranked, 2):
        found, small = _level_candidates([cut[a], cut[b]], x, n, min_rows)
        untested += small
        candidates.extend(found)
    for label, where, mask in declared:
        count = int(mask.sum())
        picked = x[mask]
        candidates.append(
            _Candidate(label, dict(where), count, float(picked.sum()), float(picked @ picked), True)
        )
    p_values = _p_values(candidates, n, total, squares, kind)
    tested = [
        i for i, c in enumerate(candidates) if c.declared or min_rows <= c.n < n
    ]  # declared slices below the minimum are reported as untested by the caller
    adjusted = benjamini_hochberg(
        [float(p_values[i]) if min_rows <= candidates[i].n < n else None for i in tested]
    )
    results = []
    for i, p_adj in zip(tested, adjusted, strict=True):
        c = candidates[i]
        rest_n = n - c.n
        value = c.total / c.n if c.n else math.nan
        rest = (total - c.total) / rest_n if rest_n else math.nan
        results.append(
            SliceResult(
                label=c.label,
                where=c.where,
                n=c.n,
                value=value,
                rest_value=rest,
                p_value=float(p_values[i]),
                p_adjusted=math.nan if p_adj is None else float(p_adj),
                declared=c.declared,
                parents=c.parents,
            )
        )
    results.sort(key=lambda r: (_nan_last(r.p_adjusted), -_nan_zero(r.gap), r.label))
    return SearchResult(
        slices=tuple(results),
        n_rows=n,
        overall=total / n if n else math.nan,
        untested=untested,
        columns=tuple(cut),
        pair_columns=tuple(ranked),
    )


def _nan_last(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _nan_zero(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def _level_candidates(
    parts: list[Levels], x: np.ndarray, n: int, min_rows: int
) -> tuple[list[_Candidate], int]:
    """Candidates for every combination of the levels of ``parts`` (one or two columns)."""
    code = np.zeros(n, dtype=np.int64)
    valid = np.ones(n, dtype=bool)
    size = 1
    for lv in parts:
        valid &= lv.codes >= 0
        code = code * lv.k + lv.codes
        size *= lv.k
    code = code[valid]
    counts = np.bincount(code, minlength=size)
    sums = np.bincount(code, weights=x[valid], minlength=size)
    squares = np.bincount(code, weights=x[valid] ** 2, minlength=size)
    found: list[_Candidate] = []
    small = 0
    for c in np.flatnonzero(counts).tolist():
        count = int(counts[c])
        if count < min_rows or count >= n:
            small += 1
            continue
        where: dict[str, Any] = {}
        labels = []
        rest = c
        picks = []
        for lv in reversed(parts):
            picks.append((lv, rest % lv.k))
            rest //= lv.k
        for lv, level in reversed(picks):
            where[lv.column] = lv.conditions[level]
            labels.append(describe({lv.column: lv.conditions[level]}))
        found.append(
            _Candidate(
                " and ".join(labels),
                where,
                count,
                float(sums[c]),
                float(squares[c]),
                parents=tuple(labels) if len(parts) > 1 else (),
            )
        )
    return found, small


def _p_values(
    candidates: Sequence[_Candidate], n: int, total: float, squares: float, kind: Kind
) -> np.ndarray:
    """One-sided p-values: is each candidate's loss higher than the rest's?"""
    from scipy import stats

    if not candidates:
        return np.zeros(0)
    size = np.array([c.n for c in candidates], dtype=np.float64)
    inside = np.array([c.total for c in candidates], dtype=np.float64)
    p = np.full(size.size, np.nan)
    ok = (size > 0) & (size < n)
    if kind == "error":
        # P(X ≥ errors in the slice), X ~ Hypergeometric(n rows, total errors, slice size).
        errors = np.rint(inside).astype(np.int64)
        p[ok] = stats.hypergeom.sf(errors[ok] - 1, n, round(total), size[ok].astype(np.int64))
        return np.asarray(np.clip(p, 0.0, 1.0), dtype=np.float64)
    sq = np.array([c.squares for c in candidates], dtype=np.float64)
    rest_n = n - size
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_in = inside / size
        mean_out = (total - inside) / rest_n
        var_in = (sq - size * mean_in**2) / (size - 1)
        var_out = ((squares - sq) - rest_n * mean_out**2) / (rest_n - 1)
        var_in, var_out = np.maximum(var_in, 0.0), np.maximum(var_out, 0.0)
        se2 = var_in / size + var_out / rest_n
        t = (mean_in - mean_out) / np.sqrt(se2)
        dof = se2**2 / ((var_in / size) ** 2 / (size - 1) + (var_out / rest_n) ** 2 / (rest_n - 1))
    good = ok & (size > 1) & (rest_n > 1) & (se2 > 0)
    p[good] = stats.t.sf(t[good], dof[good])
    same = ok & (size > 1) & (rest_n > 1) & (se2 == 0)
    p[same] = np.where(mean_in[same] > mean_out[same], 0.0, 1.0)
    return np.asarray(np.clip(p, 0.0, 1.0), dtype=np.float64)
