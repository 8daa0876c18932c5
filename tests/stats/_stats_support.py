"""Shared data and helpers for the statistics tests."""

from __future__ import annotations

from typing import Any

import datasketches
import numpy as np

from assay.stats import NumericDistribution

KLL_K = 200


def exact(values: Any) -> NumericDistribution:
    return NumericDistribution.from_values(np.asarray(values, dtype=np.float64))


def sketched(values: Any, k: int = KLL_K) -> NumericDistribution:
    """A sketch-mode summary: a KLL sketch of the finite values plus their exact moments."""
    full = exact(values)
    sketch = datasketches.kll_doubles_sketch(k)
    assert full.values is not None
    sketch.update(np.array(full.values))  # nanobind refuses read-only arrays
    return NumericDistribution.from_kll(
        sketch, n=full.n, mean=full.mean, std=full.std, min=full.min, max=full.max
    )


def numeric_pairs() -> list[tuple[str, np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Seeded reference/current pairs: sizes differ, ties, integers, shifts, heavy tails."""
    rng = np.random.default_rng(20240601)
    return [
        ("same_normal", rng.normal(size=800), rng.normal(size=800)),
        ("shifted_sizes_differ", rng.normal(size=1200), rng.normal(0.3, 1.0, size=500)),
        ("scale_change", rng.normal(size=300), rng.normal(0.0, 2.0, size=700)),
        ("integer_ties", rng.integers(0, 8, size=900), rng.integers(0, 9, size=400)),
        ("many_integers", rng.integers(-50, 50, size=2000), rng.integers(-40, 60, size=1500)),
        ("heavy_tail", rng.standard_t(2, size=1000), rng.standard_t(3, size=1000)),
        (
            "rounded_lognormal",
            rng.lognormal(size=700).round(1),
            rng.lognormal(0.2, size=650).round(1),
        ),
        ("tiny", np.array([1.0, 2.0, 2.0, 5.0]), np.array([2.0, 3.0])),
    ]
