"""Binned drift: PSI and the Jensen–Shannon distance, as Evidently 0.7 defines them.

Both compare the shares of the two samples over shared bins, built by :func:`shared_bins`
the way Evidently's ``get_binned_data`` builds them
(``evidently/legacy/calculations/stattests/utils.py``, Evidently 0.7.23):

* a numeric column whose reference has more than 20 distinct values is cut into
  equal-width bins over the combined range, their number chosen by Sturges' rule on the
  combined size (``np.histogram_bin_edges(concat(ref, cur), bins="sturges")``);
* any other column (categorical, boolean, or numeric with at most 20 reference values) gets
  one bin per distinct value seen on either side;
* a share is a bin's count divided by that side's n.

PSI then replaces empty bins per side (see :func:`smooth_zero_shares`); Jensen–Shannon does
not. Sketched summaries get the same bins, with each bin's share read off the KLL's CDF.

Example::

    from assay.stats import NumericDistribution, psi, jensenshannon

    psi(NumericDistribution.from_values(a), NumericDistribution.from_values(b)).statistic
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.stats.categorical import category_table
from assay.stats.distributions import CategoricalDistribution, FloatArray, NumericDistribution
from assay.stats.results import KIND_MISMATCH, DriftResult, require_values

Distribution = NumericDistribution | CategoricalDistribution

#: Evidently bins a numeric column by value when its reference has at most this many values.
DISCRETE_MAX_VALUES = 20


@dataclass(frozen=True, eq=False)
class SharedBins:
    """Bins shared by a reference and a current summary, and each side's share per bin.

    ``edges`` is set for histogram bins (``len(edges) == len(shares) + 1``; every bin is
    ``[edge, next edge)`` except the last, which includes its right edge); ``labels`` is set
    when each bin is one value or category. Shares are unsmoothed.
    """

    ref: FloatArray
    cur: FloatArray
    edges: FloatArray | None = None
    labels: tuple[Any, ...] | None = None


def sturges_edges(low: float, high: float, size: int) -> FloatArray:
    """``np.histogram_bin_edges(a, bins="sturges")`` for data with that min, max and size.

    Reproduces numpy's computation from the three numbers alone, so sketches (whose min, max
    and count are exact) get the same edges as the raw values would.
    """
    first, last = float(low), float(high)
    if first == last:
        first, last = first - 0.5, last + 0.5
    width = np.subtract(np.float64(high), np.float64(low)) / (np.log2(size) + 1.0)
    bins = int(np.ceil(np.subtract(last, first) / width)) if width else 1
    edges = np.linspace(first, last, bins + 1, endpoint=True)
    if bins > 1 and not np.all(np.diff(edges) > 0):
        # A range a few float64 steps wide cannot hold that many bins (numpy refuses:
        # "Too many bins for data range"): one bin from the minimum to the maximum.
        return np.array([first, last])
    return edges


def _histogram_shares(dist: NumericDistribution, edges: FloatArray) -> FloatArray:
    if dist.values is not None:
        counts = np.histogram(dist.values, edges)[0]
        return np.asarray(counts / dist.n, dtype=np.float64)
    step = dist.step_cdf
    below = step.below(edges[:-1])
    upper = np.append(step.below(edges[1:-1]), step.at(edges[-1:]))
    return np.clip(upper - below, 0.0, 1.0)


def _value_shares(dist: NumericDistribution, values: FloatArray) -> FloatArray:
    step = dist.step_cdf
    index = np.searchsorted(step.points, values)
    found = np.zeros(values.size, dtype=bool)
    inside = index < step.points.size
    found[inside] = step.points[index[inside]] == values[inside]
    shares = np.zeros(values.size)
    shares[found] = step.weights[index[found]] / dist.n
    return shares


def shared_bins(ref: Distribution, cur: Distribution) -> SharedBins:
    """Bin both summaries on common bins, following Evidently's ``get_binned_data``.

    For a numeric pair, the reference's distinct-value count decides between histogram and
    per-value bins; for a sketch it is the count of distinct items the sketch retains, which
    equals the true count whenever that is at most 20. Categorical pairs are aligned by
    :func:`assay.stats.categorical.category_table` (exact summaries: one bin per category).
    """
    if isinstance(ref, NumericDistribution) and isinstance(cur, NumericDistribution):
        require_values("binning", ref.n, cur.n)
        if ref.step_cdf.points.size > DISCRETE_MAX_VALUES:
            edges = sturges_edges(min(ref.min, cur.min), max(ref.max, cur.max), ref.n + cur.n)
            return SharedBins(_histogram_shares(ref, edges), _histogram_shares(cur, edges), edges)
        values = np.union1d(ref.step_cdf.points, cur.step_cdf.points)
        return SharedBins(
            _value_shares(ref, values), _value_shares(cur, values), labels=tuple(values.tolist())
        )
    if isinstance(ref, CategoricalDistribution) and isinstance(cur, CategoricalDistribution):
        require_values("binning", ref.n, cur.n)
        table = category_table(ref, cur)
        return SharedBins(table.ref / ref.n, table.cur / cur.n, labels=table.labels)
    raise TypeError(
        KIND_MISMATCH.format(test="binning", ref=type(ref).__name__, cur=type(cur).__name__)
    )


def smooth_zero_shares(shares: FloatArray) -> FloatArray:
    """Evidently's fill for empty bins before PSI (``get_binned_data(..., feel_zeroes=True)``).

    Zero shares become 0.0001, or the smallest non-zero share divided by 10⁶ when that share
    is itself at most 0.0001. The other shares are left as they are (no renormalisation).
    """
    nonzero = shares[shares != 0]
    if nonzero.size == 0:
        return shares.copy()
    smallest = float(nonzero.min())
    fill = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return np.where(shares == 0, fill, shares)


def _details(ref: Distribution, cur: Distribution, bins: SharedBins) -> dict[str, float]:
    details = {
        "bins": float(bins.ref.size),
        "histogram": 1.0 if bins.edges is not None else 0.0,
    }
    if isinstance(ref, NumericDistribution) and isinstance(cur, NumericDistribution):
        details["rank_error_ref"] = ref.rank_error
        details["rank_error_cur"] = cur.rank_error
        # Bins whose share on a sketched side is below the sketch's share error: PSI and JS
        # can move a lot there (docs/drift-statistics.md, "Sketch mode").
        sparse = np.zeros(bins.ref.size, dtype=bool)
        for shares, error in ((bins.ref, ref.rank_error), (bins.cur, cur.rank_error)):
            if error:
                sparse |= shares < 2 * error
        details["sparse_bins"] = float(np.count_nonzero(sparse))
    return details


def _is_exact(ref: Distribution, cur: Distribution) -> bool:
    if isinstance(ref, NumericDistribution):
        return ref.is_exact and isinstance(cur, NumericDistribution) and cur.is_exact
    return ref.exact and isinstance(cur, CategoricalDistribution) and cur.exact


def psi(ref: Distribution, cur: Distribution) -> DriftResult:
    """Population stability index, Evidently's ``psi`` stattest (0.7).

    ``Σ (r − c) · ln(r / c)`` over :func:`shared_bins`, after :func:`smooth_zero_shares` on
    each side. Symmetric in its two arguments' shares; 0 for identical shares. Conventional
    reading: below 0.1 stable, 0.1–0.2 a moderate shift, above 0.2 a significant one.

    ``details``: ``bins`` (number of bins), ``histogram`` (1 for equal-width bins, 0 for
    per-value bins) and, for numeric pairs, ``rank_error_ref`` / ``rank_error_cur`` and
    ``sparse_bins``: bins where a sketched side's share is below twice its rank error, where
    the sketch cannot tell a share from zero and PSI in particular is unstable.
    ``statistic_error`` is 0.0 in exact mode and None otherwise (no useful worst-case bound).
    """
    bins = shared_bins(ref, cur)
    r, c = smooth_zero_shares(bins.ref), smooth_zero_shares(bins.cur)
    return _result("psi", float(np.sum((r - c) * np.log(r / c))), ref, cur, bins)


def jensenshannon(ref: Distribution, cur: Distribution) -> DriftResult:
    """Jensen–Shannon *distance*, Evidently's ``jensenshannon`` stattest (0.7).

    ``scipy.spatial.distance.jensenshannon(ref_shares, cur_shares)`` over :func:`shared_bins`
    without smoothing, natural logarithm (``base=None``): the square root of the JS
    divergence, between 0 and sqrt(ln 2) ≈ 0.833. Symmetric; 0 for identical shares.

    ``details`` and ``statistic_error`` as for :func:`psi`.
    """
    bins = shared_bins(ref, cur)
    return _result("jensenshannon", _js_distance(bins.ref, bins.cur), ref, cur, bins)


def _result(
    test: str, value: float, ref: Distribution, cur: Distribution, bins: SharedBins
) -> DriftResult:
    """A binned statistic's record: exact (error 0) only when both summaries are exact."""
    exact = _is_exact(ref, cur)
    return DriftResult(
        test=test,
        statistic=value,
        p_value=None,
        n_ref=ref.n,
        n_cur=cur.n,
        exact=exact,
        statistic_error=0.0 if exact else None,
        details=_details(ref, cur, bins),
    )


def _js_distance(p: FloatArray, q: FloatArray) -> float:
    """``scipy.spatial.distance.jensenshannon(p, q)`` (natural log), in NumPy.

    Both are normalised to sum 1; terms with a zero share contribute nothing (``rel_entr``).
    """
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    left = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
    right = np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0) / np.where(m > 0, m, 1.0)), 0.0)
    divergence = float(left.sum() + right.sum()) / 2.0
    return float(np.sqrt(max(divergence, 0.0)))
