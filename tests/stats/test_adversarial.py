"""The black-box boundary search finds the nearest boundary of models we can solve exactly."""

from __future__ import annotations

import numpy as np
import pytest

from assay.stats.adversarial import boundary_search


def linear(w: np.ndarray, b: float, x0: np.ndarray):  # type: ignore[no-untyped-def]
    def label(p: np.ndarray) -> np.ndarray:
        return p @ w + b > 0

    def oracle(p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return label(p) != label(x0[rows])

    return oracle


@pytest.mark.parametrize("d", [2, 3, 8])
def test_distance_to_a_linear_boundary(d: int) -> None:
    rng = np.random.default_rng(d)
    w, b = rng.normal(size=d), 0.3
    x0 = rng.normal(size=(80, d))
    exact = np.abs(x0 @ w + b) / np.linalg.norm(w)
    result = boundary_search(linear(w, b, x0), x0, radius=4.0, rng=np.random.default_rng(0))
    near = exact < 1.5  # well inside the search radius: the rays find every one of them
    assert result.found[near].all()
    ratio = result.distance[result.found] / exact[result.found]
    assert np.all(ratio >= 1 - 1e-9)  # an upper bound: never closer than the boundary
    assert np.median(ratio) < 1.03
    assert np.percentile(ratio, 90) < 1.1
    # The reported points lie across the boundary, at the reported distance.
    flipped = linear(w, b, x0)(result.points[result.found], np.flatnonzero(result.found))
    assert flipped.all()
    dist = np.linalg.norm(result.points[result.found] - x0[result.found], axis=1)
    assert np.allclose(dist, result.distance[result.found])


def test_rows_without_a_boundary_in_reach_are_not_found() -> None:
    x0 = np.array([[10.0, 0.0], [0.1, 0.0]])
    w = np.array([1.0, 0.0])
    result = boundary_search(linear(w, 0.0, x0), x0, radius=1.0, rng=np.random.default_rng(0))
    assert result.found.tolist() == [False, True]
    assert result.distance[1] == pytest.approx(0.1, rel=0.02)
    assert np.isnan(result.points[0]).all()


def test_query_budget_and_determinism() -> None:
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(30, 4))
    w = rng.normal(size=4)
    oracle = linear(w, 0.0, x0)
    one = boundary_search(oracle, x0, radius=3.0, rng=np.random.default_rng(9), max_queries=200)
    two = boundary_search(oracle, x0, radius=3.0, rng=np.random.default_rng(9), max_queries=200)
    assert np.array_equal(one.distance, two.distance)
    assert np.array_equal(one.queries, two.queries)
    assert one.queries.max() <= 200


def test_a_constant_model_has_no_boundary() -> None:
    x0 = np.zeros((5, 3))

    def never(p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.zeros(len(p), dtype=bool)

    result = boundary_search(never, x0, radius=2.0, rng=np.random.default_rng(0))
    assert not result.found.any() and np.isinf(result.distance).all()


def test_a_nonlinear_boundary() -> None:
    # A disc of radius 1: from the centre's neighbourhood the boundary is 1 − ‖x‖ away.
    x0 = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, -0.8]])

    def oracle(p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.linalg.norm(p, axis=1) > 1.0

    result = boundary_search(oracle, x0, radius=2.0, rng=np.random.default_rng(1))
    assert result.distance == pytest.approx([1.0, 0.5, 0.2], rel=0.03)
