"""A black-box, decision-based search for the nearest decision boundary (docs/robustness.md).

The model is only asked for labels: ``is_adversarial(points, rows)`` says, for each point,
whether the model's label there differs from its label at the original row ``rows[i]``.
Every row is searched at once (one oracle call per step for all rows), in a space where
the L2 distance means something — the robustness checks use numeric features divided by
their training standard deviation.

The search, per row ``x0``:

1. **Random rays.** ``n_directions`` random unit directions; along each, the points at
   ``radius × j / n_steps`` (``j = 1 … n_steps``). The closest point whose label differs
   starts the search; a row with none is not attacked further (``found`` is false).
2. **Bisection** on that ray between the last unchanged and the first changed point
   (``n_bisect`` halvings): a point ``b`` just across the boundary.
3. **HopSkipJump refinement** (Chen, Jordan & Wainwright 2020, the L2 untargeted form,
   simplified): ``n_iterations`` times, estimate the boundary's normal at ``b`` from the
   labels of ``n_gradient`` random points ``b + δ u`` (``δ`` = 1% of the current distance;
   Monte-Carlo sign estimate with a mean baseline), step from ``b`` along it by
   ``distance / √iteration`` (halved up to 5 times until the label differs), and bisect
   back towards ``x0``. A new point is kept only when it is closer.

The result is an upper bound on the distance to the nearest boundary (a lower bound is not
known for a black box). Each row stops once its next step would pass ``max_queries``.

Example::

    w = np.array([1.0, -2.0])
    oracle = lambda p, r: np.sign(p @ w + 0.5) != np.sign(x0[r] @ w + 0.5)
    found = boundary_search(oracle, x0, radius=5.0, rng=np.random.default_rng(0))
    found.distance  # ≈ |x0 @ w + 0.5| / ‖w‖ per row
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Oracle = Callable[[FloatArray, IntArray], BoolArray]
"""``(points m × d, rows m) → m booleans``: is the label at each point not row's label?"""

HALVINGS = 5
"""Step halvings of a refinement step before it is given up for that iteration."""


@dataclass(frozen=True)
class BoundaryResult:
    """Per row: the closest point found across the boundary, its L2 distance (``inf`` when
    none was found) and the oracle queries spent."""

    points: FloatArray
    distance: FloatArray
    queries: IntArray

    @property
    def found(self) -> BoolArray:
        return np.isfinite(self.distance)


def boundary_search(
    is_adversarial: Oracle,
    x0: FloatArray,
    *,
    radius: float,
    rng: np.random.Generator,
    n_directions: int = 16,
    n_steps: int = 8,
    n_bisect: int = 10,
    n_iterations: int = 6,
    n_gradient: int = 24,
    max_queries: int = 1000,
) -> BoundaryResult:
    """The closest point across the decision boundary of every row of ``x0`` (``n × d``),
    searched within L2 ``radius``; see the module doc for the method."""
    x0 = np.asarray(x0, dtype=np.float64)
    n, d = x0.shape
    queries = np.zeros(n, dtype=np.int64)
    points = np.full_like(x0, np.nan)
    distance = np.full(n, np.inf)
    if n == 0 or d == 0 or radius <= 0:
        return BoundaryResult(points, distance, queries)
    rows = np.arange(n, dtype=np.int64)

    def ask(p: FloatArray, r: IntArray) -> BoolArray:
        np.add.at(queries, r, 1)
        return np.asarray(is_adversarial(p, r), dtype=bool)

    # 1. Random rays.
    k = max(1, min(n_directions, max_queries // max(n_steps, 1)))
    u = _unit(rng.normal(size=(n, k, d)))
    t = radius * np.arange(1, n_steps + 1) / n_steps
    grid = x0[:, None, None, :] + t[None, None, :, None] * u[:, :, None, :]
    hits = ask(grid.reshape(-1, d), np.repeat(rows, k * n_steps)).reshape(n, k, n_steps)
    first = np.where(hits.any(axis=2), hits.argmax(axis=2), n_steps)  # n × k
    best = first.argmin(axis=1)
    step = first[rows, best]
    found = step < n_steps
    if not found.any():
        return BoundaryResult(points, distance, queries)
    idx = rows[found]
    ray = u[idx, best[found]]
    hi = t[step[found]]
    lo = np.where(step[found] > 0, t[np.maximum(step[found] - 1, 0)], 0.0)

    # 2. Bisection on the ray.
    for _ in range(n_bisect):
        mid = (lo + hi) / 2
        adv = ask(x0[idx] + mid[:, None] * ray, idx)
        hi, lo = np.where(adv, mid, hi), np.where(adv, lo, mid)
    b = x0[idx] + hi[:, None] * ray
    dist = hi.copy()

    # 3. HopSkipJump refinement.
    per_iteration = n_gradient + HALVINGS + n_bisect
    for iteration in range(1, n_iterations + 1):
        active = queries[idx] + per_iteration <= max_queries
        if not active.any():
            break
        a_idx, a_b, a_dist = idx[active], b[active], dist[active]
        m = len(a_idx)
        v = _unit(rng.normal(size=(m, n_gradient, d)))
        delta = 0.01 * a_dist
        probe = a_b[:, None, :] + delta[:, None, None] * v
        sign = np.where(
            ask(probe.reshape(-1, d), np.repeat(a_idx, n_gradient)).reshape(m, n_gradient),
            1.0,
            -1.0,
        )
        mean = sign.mean(axis=1, keepdims=True)
        centred = np.where(np.abs(mean) == 1.0, sign, sign - mean)
        grad = (centred[:, :, None] * v).mean(axis=1)
        norm = np.linalg.norm(grad, axis=1)
        usable = norm > 0
        grad = np.where(usable[:, None], grad / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
        size = a_dist / np.sqrt(iteration)
        candidate = a_b.copy()
        ok = np.zeros(m, dtype=bool)
        for _ in range(HALVINGS):
            todo = usable & ~ok
            if not todo.any():
                break
            trial = a_b[todo] + size[todo, None] * grad[todo]
            adv = ask(trial, a_idx[todo])
            where = np.flatnonzero(todo)
            candidate[where[adv]] = trial[adv]
            ok[where[adv]] = True
            size[where[~adv]] /= 2
        # Bisect between x0 and the candidate: alpha = 1 is the candidate (across).
        lo_a, hi_a = np.zeros(m), np.ones(m)
        start = x0[a_idx]
        for _ in range(n_bisect):
            mid = (lo_a + hi_a) / 2
            adv = np.zeros(m, dtype=bool)
            if ok.any():
                adv[ok] = ask(start[ok] + mid[ok, None] * (candidate[ok] - start[ok]), a_idx[ok])
            hi_a = np.where(ok & adv, mid, hi_a)
            lo_a = np.where(ok & ~adv, mid, lo_a)
        new_b = start + hi_a[:, None] * (candidate - start)
        new_dist = np.linalg.norm(new_b - start, axis=1)
        better = ok & (new_dist < a_dist)
        sel = np.flatnonzero(active)[better]
        b[sel], dist[sel] = new_b[better], new_dist[better]

    points[idx], distance[idx] = b, dist
    return BoundaryResult(points, distance, queries)


def _unit(x: FloatArray) -> FloatArray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)
