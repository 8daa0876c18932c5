"""Calibration: bins as scikit-learn's calibration_curve, ECE/MCE by hand, Brier as sklearn."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

from assay.stats.calibration import (
    BAD_STRATEGY,
    ReliabilityBin,
    bin_edges,
    brier_score,
    calibration,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_bins,
    top_label,
)


def _binary_sets() -> list[tuple[str, Any, Any]]:
    rng = np.random.default_rng(31)
    p = rng.beta(2, 5, size=800)
    on_edges = np.repeat([0.0, 0.1, 0.2, 0.5, 0.7, 1.0], 20)
    coarse = rng.integers(0, 11, size=600) / 10
    return [
        ("beta", p, (rng.random(800) < p).astype(int)),
        ("on_edges", on_edges, (rng.random(on_edges.size) < on_edges).astype(int)),
        ("coarse_ties", coarse, (rng.random(600) < coarse**2).astype(int)),
        ("small", np.array([0.05, 0.3, 0.31, 0.9]), np.array([0, 1, 0, 1])),
    ]


@pytest.mark.parametrize("data", _binary_sets(), ids=lambda d: d[0])
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_bins_equal_scikit_learns_calibration_curve(data: Any, strategy: Any, n_bins: int) -> None:
    _, p, y = data
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    bins = reliability_bins(p, y, n_bins=n_bins, strategy=strategy)
    assert np.array_equal([b.observed for b in bins], observed)
    assert np.array_equal([b.mean_predicted for b in bins], predicted)
    assert sum(b.count for b in bins) == p.size
    edges = bin_edges(p, n_bins=n_bins, strategy=strategy)
    for b in bins:  # every bin's rows lie within its edges (the mean up to rounding)
        assert edges[0] <= b.lower <= b.upper <= edges[-1]
        assert b.lower - 1e-12 <= b.mean_predicted <= b.upper + 1e-12


def test_ece_and_mce_by_hand() -> None:
    p = np.array([0.1, 0.2, 0.8, 0.9, 0.95])
    y = np.array([0, 1, 1, 1, 0])
    # bin [0, 0.5]: mean 0.15, observed 1/2, gap 0.35; bin (0.5, 1]: mean 0.88333, observed 2/3
    assert reliability_bins(p, y, n_bins=2) == (
        ReliabilityBin(0.0, 0.5, pytest.approx(0.15), 0.5, 2),
        ReliabilityBin(0.5, 1.0, pytest.approx(2.65 / 3), pytest.approx(2 / 3), 3),
    )
    gap_high = 2.65 / 3 - 2 / 3
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(
        (2 * 0.35 + 3 * gap_high) / 5
    )
    assert maximum_calibration_error(p, y, n_bins=2) == pytest.approx(0.35)


def test_a_probability_on_an_edge_belongs_to_the_bin_below() -> None:
    """Bins are (lower, upper], the first also holding its lower edge: 0 and 0.5 go low."""
    bins = reliability_bins([0.0, 0.5, 0.5000001, 1.0], [0, 1, 1, 1], n_bins=2)
    assert [(b.lower, b.upper, b.count) for b in bins] == [(0.0, 0.5, 2), (0.5, 1.0, 2)]


def test_empty_bins_are_skipped() -> None:
    """Rows at 0.25 and 0.75 only: 10 bins hold the same two groups as 2 bins."""
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    assert len(reliability_bins(p, y, n_bins=10)) == 2
    assert expected_calibration_error(p, y, n_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.0)
    assert maximum_calibration_error(p, 1 - y, n_bins=10) == pytest.approx(0.5)


def test_equal_mass_bins_split_the_rows_evenly() -> None:
    p = np.linspace(0.01, 0.99, 100)
    bins = reliability_bins(p, np.ones(100), n_bins=4, strategy="quantile")
    assert [b.count for b in bins] == [25, 25, 25, 25]
    assert bins[0].lower == pytest.approx(0.01) and bins[-1].upper == pytest.approx(0.99)


def test_binary_calibration_uses_the_positive_column_and_sklearn_brier() -> None:
    _, p, y = _binary_sets()[0]
    labels = np.where(y == 1, "pos", "neg")
    proba = np.column_stack([p, 1 - p])  # classes in the order ["pos", "neg"]
    result = calibration(labels, proba, classes=["pos", "neg"], positive="pos", n_bins=8)
    assert result.kind == "binary" and result.n == p.size and result.n_bins == 8
    assert result.brier == pytest.approx(brier_score_loss(labels, p, pos_label="pos"), abs=1e-12)
    assert result.ece == pytest.approx(expected_calibration_error(p, y, n_bins=8), abs=1e-15)
    observed, _ = calibration_curve(labels, p, n_bins=8, pos_label="pos")
    assert np.array_equal([b.observed for b in result.bins], observed)


def test_multiclass_is_top_label_calibration() -> None:
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8]])
    y = np.array(["a", "a", "b", "c"])
    confidence, correct = top_label(np.array([0, 0, 1, 2]), proba)
    assert confidence.tolist() == [0.6, 0.7, 0.4, 0.8]
    assert correct.tolist() == [1.0, 0.0, 0.0, 1.0]  # row 3 ties: argmax picks "a"
    result = calibration(y, proba, classes=["a", "b", "c"], n_bins=2)
    assert result.kind == "top_label"
    # bin [0, 0.5]: conf 0.4, acc 0; bin (0.5, 1]: conf 0.7, acc 2/3
    assert result.ece == pytest.approx((1 * 0.4 + 3 * abs(2 / 3 - 0.7)) / 4)
    assert result.mce == pytest.approx(0.4)


def test_multiclass_brier_equals_scikit_learn() -> None:
    rng = np.random.default_rng(8)
    proba = rng.dirichlet([1.0, 2.0, 3.0, 1.0], size=300)
    y = np.array(["w", "x", "y", "z"])[rng.integers(0, 4, size=300)]
    classes = ["w", "x", "y", "z"]
    expected = brier_score_loss(y, proba, labels=classes)
    assert brier_score(y, proba, classes=classes) == pytest.approx(expected, abs=1e-12)
    two = brier_score(
        y[:50] == "w", np.column_stack([1 - proba[:50, 0], proba[:50, 0]]), classes=[False, True]
    )
    binary = brier_score(
        y[:50] == "w",
        np.column_stack([1 - proba[:50, 0], proba[:50, 0]]),
        classes=[False, True],
        positive=True,
    )
    assert two == pytest.approx(2 * binary, abs=1e-12)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError) as info:
        reliability_bins([0.2], [1], strategy="kmeans")  # type: ignore[arg-type]
    assert str(info.value) == BAD_STRATEGY.format(known=("uniform", "quantile"), value="kmeans")
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins([0.2], [1], n_bins=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability_bins([1.2], [1])
