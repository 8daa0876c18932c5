"""Numeric drift: two-sample Kolmogorov–Smirnov and Wasserstein-1 distances.

Each function compares a reference and a current :class:`NumericDistribution`. When both are
exact the result equals scipy's on the raw values; when either is a KLL sketch the same
quantity is computed from the sketches' weighted items, and ``statistic_error`` bounds the
difference from the exact value (see docs/drift-statistics.md).

Example::

    from assay.stats import NumericDistribution, ks, wasserstein_normed

    ref = NumericDistribution.from_values(reference_column)
    cur = NumericDistribution.from_values(current_column)
    ks(ref, cur).p_value                 # == scipy.stats.ks_2samp(ref_values, cur_values).pvalue
    wasserstein_normed(ref, cur).statistic
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

from assay.stats.distributions import NumericDistribution
from assay.stats.results import DriftResult, require_values

KsMethod = Literal["auto", "exact", "asymp"]

#: ks_2samp's "auto" uses the exact distribution up to this many values per side (scipy 1.17).
SCIPY_MAX_AUTO_N = 10_000
#: Evidently's floor for the reference standard deviation in ``wasserstein_distance_norm``.
NORM_FLOOR = 0.001


def ks(
    ref: NumericDistribution, cur: NumericDistribution, *, method: KsMethod = "auto"
) -> DriftResult:
    """Two-sample, two-sided Kolmogorov–Smirnov test.

    Exact mode (both summaries keep their values) returns exactly
    ``scipy.stats.ks_2samp(ref_values, cur_values, method=method)``; the default ``"auto"``
    is scipy's default (the exact distribution when both sides have at most 10,000 values,
    else the asymptotic one).

    Sketch mode (either side a KLL sketch): the statistic is sup |F_ref − F_cur| over the union
    of both supports (every step of either CDF), within ``rank_error_ref + rank_error_cur`` of
    the exact statistic. The p-value is scipy's asymptotic one (``kstwo.sf(D, round(en))``)
    evaluated at the *lower* end of that interval, ``max(D − error, 0)``: whenever the
    rank-error bound holds it is at least the asymptotic p-value of the exact statistic, so
    sketch error does not manufacture significance. ``method`` is ignored in sketch mode.

    When scipy cannot compute the exact distribution it falls back to the asymptotic one and
    warns; that warning is absorbed here and reported as ``exact_p_value`` = 0.

    ``details``: ``location`` (where the largest gap is), ``sign`` (+1 when the reference
    CDF is above the current one there, i.e. the current values are larger; -1 otherwise)
    and ``exact_p_value`` (1 when the p-value comes from the exact null distribution).
    """
    require_values("ks", ref.n, cur.n)
    if ref.values is not None and cur.values is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from scipy import stats  # imported when needed: it costs ~0.4 s of start-up

            res = stats.ks_2samp(ref.values, cur.values, method=method)
        switched = False
        for warning in caught:
            if "Switching to" in str(warning.message):
                switched = True
            else:
                warnings.warn_explicit(
                    warning.message, warning.category, warning.filename, warning.lineno
                )
        exact_p = not switched and (
            method == "exact" or (method == "auto" and max(ref.n, cur.n) <= SCIPY_MAX_AUTO_N)
        )
        return DriftResult(
            test="ks",
            statistic=float(res.statistic),
            p_value=float(res.pvalue),
            n_ref=ref.n,
            n_cur=cur.n,
            exact=True,
            statistic_error=0.0,
            details={
                "location": float(res.statistic_location),
                "sign": float(res.statistic_sign),
                "exact_p_value": 1.0 if exact_p else 0.0,
            },
        )
    support = np.union1d(ref.step_cdf.points, cur.step_cdf.points)
    diff = ref.cdf(support) - cur.cdf(support)
    arg_max, arg_min = int(np.argmax(diff)), int(np.argmin(diff))
    above, below = float(diff[arg_max]), float(np.clip(-diff[arg_min], 0.0, 1.0))
    statistic, index, sign = (below, arg_min, -1.0) if below > above else (above, arg_max, 1.0)
    error = ref.rank_error + cur.rank_error
    m, n = float(ref.n), float(cur.n)
    en = float(np.round(m * n / (m + n)))
    from scipy import stats

    p_value = float(np.clip(stats.kstwo.sf(max(statistic - error, 0.0), en), 0.0, 1.0))
    return DriftResult(
        test="ks",
        statistic=statistic,
        p_value=p_value,
        n_ref=ref.n,
        n_cur=cur.n,
        exact=False,
        statistic_error=error,
        details={"location": float(support[index]), "sign": sign, "exact_p_value": 0.0},
    )


def wasserstein(ref: NumericDistribution, cur: NumericDistribution) -> DriftResult:
    """Wasserstein-1 (earth mover's) distance, in the column's units.

    Exact mode equals ``scipy.stats.wasserstein_distance(ref_values, cur_values)``. Sketch mode
    computes ∫|Q_ref(u) − Q_cur(u)| du exactly for the sketched distributions: both quantile
    functions are constant between the sketches' cumulative-weight breakpoints, so the
    integral over that grid has no discretisation error (it is scipy's weighted distance on
    the sketches' items). The sketch error is bounded by
    ``rank_error_ref·(max_ref − min_ref) + rank_error_cur·(max_cur − min_cur)``
    (the triangle inequality for W1 plus |F̂ − F| ≤ rank error on each value range).
    """
    require_values("wasserstein", ref.n, cur.n)
    value, error = _wasserstein(ref, cur)
    return DriftResult(
        test="wasserstein",
        statistic=value,
        p_value=None,
        n_ref=ref.n,
        n_cur=cur.n,
        exact=ref.is_exact and cur.is_exact,
        statistic_error=error,
    )


def wasserstein_normed(ref: NumericDistribution, cur: NumericDistribution) -> DriftResult:
    """Wasserstein-1 distance divided by the reference's standard deviation.

    Evidently's ``wasserstein_distance_norm`` (0.7): ``W1 / max(std_ref, 0.001)`` with the
    population standard deviation (``np.std``, ddof=0). A value of 0.1 means the distributions
    are, on average, a tenth of a reference standard deviation apart.

    ``details``: ``wasserstein`` (the raw distance) and ``norm`` (the divisor).
    """
    require_values("wasserstein_normed", ref.n, cur.n)
    value, error = _wasserstein(ref, cur)
    norm = max(float(ref.std), NORM_FLOOR)
    return DriftResult(
        test="wasserstein_normed",
        statistic=value / norm,
        p_value=None,
        n_ref=ref.n,
        n_cur=cur.n,
        exact=ref.is_exact and cur.is_exact,
        statistic_error=error / norm,
        details={"wasserstein": value, "norm": norm},
    )


def _wasserstein(ref: NumericDistribution, cur: NumericDistribution) -> tuple[float, float]:
    if ref.values is not None and cur.values is not None:
        return _w1(ref.values, cur.values), 0.0
    r, c = ref.step_cdf, cur.step_cdf
    value = _w1(r.points, c.points, r.weights, c.weights)
    error = ref.rank_error * (ref.max - ref.min) + cur.rank_error * (cur.max - cur.min)
    return value, float(error)


def _w1(
    u: np.ndarray,
    v: np.ndarray,
    u_weights: np.ndarray | None = None,
    v_weights: np.ndarray | None = None,
) -> float:
    """Wasserstein-1 distance between two weighted samples: ∫ |F_u − F_v| dx.

    The same computation as ``scipy.stats.wasserstein_distance`` (its ``_cdf_distance`` with
    p = 1), in NumPy, so a drift audit does not import scipy.stats at all.
    """
    u_order, v_order = np.argsort(u), np.argsort(v)
    points = np.sort(np.concatenate([u, v]))
    deltas = np.diff(points)
    u_index = np.searchsorted(u[u_order], points[:-1], side="right")
    v_index = np.searchsorted(v[v_order], points[:-1], side="right")
    if u_weights is None:
        u_cdf = u_index / u.size
    else:
        cumulative = np.concatenate(([0.0], np.cumsum(u_weights[u_order])))
        u_cdf = cumulative[u_index] / cumulative[-1]
    if v_weights is None:
        v_cdf = v_index / v.size
    else:
        cumulative = np.concatenate(([0.0], np.cumsum(v_weights[v_order])))
        v_cdf = cumulative[v_index] / cumulative[-1]
    return float(np.sum(np.abs(u_cdf - v_cdf) * deltas))
