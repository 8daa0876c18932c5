"""Categorical drift: the chi-squared test of homogeneity, and the shared category table.

Example::

    from assay.stats import CategoricalDistribution, chi_squared

    ref = CategoricalDistribution.from_values(["a", "b", "b", None])
    cur = CategoricalDistribution.from_values(["a", "a", "c"])
    chi_squared(ref, cur).p_value
    # == scipy.stats.chi2_contingency([[1, 2, 0], [2, 0, 1]], correction=False).pvalue
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from assay.stats.distributions import CategoricalDistribution, FloatArray
from assay.stats.results import DriftResult, require_values


class _Other:
    """The bucket that holds every category whose count one side does not state."""

    def __repr__(self) -> str:
        return "<other>"


#: The label of the lumped bucket in a :class:`CategoryTable`.
OTHER: Final[Any] = _Other()


@dataclass(frozen=True, eq=False)
class CategoryTable:
    """The 2×k table of counts both sides state, plus one lumped ``OTHER`` column if needed.

    A category is its own column when each side knows its count: an exact summary knows every
    count (including zeros, so a category seen on one side only is a column with a zero cell);
    a non-exact one knows only the categories it lists. Everything else — the unlisted mass of
    a non-exact summary and the categories the other side cannot count — goes to ``OTHER``, so
    each row still sums to its side's n. Columns that are zero on both sides are dropped.
    """

    labels: tuple[Any, ...]
    ref: FloatArray
    cur: FloatArray
    lumped: bool


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, repr(value))


def category_table(ref: CategoricalDistribution, cur: CategoricalDistribution) -> CategoryTable:
    """Align two categorical summaries into one table (see :class:`CategoryTable`)."""
    candidates = set(ref.counts) | set(cur.counts)
    known = sorted((c for c in candidates if ref.knows(c) and cur.knows(c)), key=_sort_key)
    ref_counts = np.array([float(ref.counts.get(c, 0)) for c in known])
    cur_counts = np.array([float(cur.counts.get(c, 0)) for c in known])
    keep = (ref_counts + cur_counts) > 0
    labels: list[Any] = [c for c, k in zip(known, keep, strict=True) if k]
    ref_counts, cur_counts = ref_counts[keep], cur_counts[keep]
    ref_other = max(float(ref.n) - float(ref_counts.sum()), 0.0)
    cur_other = max(float(cur.n) - float(cur_counts.sum()), 0.0)
    lumped = ref_other + cur_other > 0
    if lumped:
        labels.append(OTHER)
        ref_counts = np.append(ref_counts, ref_other)
        cur_counts = np.append(cur_counts, cur_other)
    return CategoryTable(tuple(labels), ref_counts, cur_counts, lumped)


def chi_squared(ref: CategoricalDistribution, cur: CategoricalDistribution) -> DriftResult:
    """Pearson's chi-squared test that both samples come from one categorical distribution.

    In exact mode the statistic and p-value equal
    ``scipy.stats.chi2_contingency(table, correction=False)`` on the 2×k table (reference row,
    current row) of every category seen on either side. Non-exact summaries are aligned by
    :func:`category_table`; their p-value is then approximate and ``statistic_error`` is None.
    With a single category on both sides there is nothing to compare: statistic 0, p-value 1.
    For two categories this is the pooled two-proportion z-test (the statistic is z²).

    ``details``: ``dof`` (k − 1), ``categories`` (k, counting the lumped bucket),
    ``lumped_ref`` and ``lumped_cur`` (the counts in the lumped bucket).
    """
    require_values("chi_squared", ref.n, cur.n)
    table = category_table(ref, cur)
    exact = ref.exact and cur.exact
    from scipy import stats  # imported when needed: it costs ~0.4 s of start-up

    result = stats.chi2_contingency(np.vstack([table.ref, table.cur]), correction=False)
    return DriftResult(
        test="chi_squared",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        n_ref=ref.n,
        n_cur=cur.n,
        exact=exact,
        statistic_error=0.0 if exact else None,
        details={
            "dof": float(result.dof),
            "categories": float(len(table.labels)),
            "lumped_ref": float(table.ref[-1]) if table.lumped else 0.0,
            "lumped_cur": float(table.cur[-1]) if table.lumped else 0.0,
        },
    )
