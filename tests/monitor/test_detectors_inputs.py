"""input_shift and score_shift: hand-computed PSI and Wasserstein, planted and absent shifts."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from _detectors_support import NUMERIC, baseline, detectors, live, only, reference_baseline

import assay
from assay.monitor.detectors import EventBatch
from assay.monitor.detectors.view import CategoricalCoder, NumericCoder
from assay.profiles.baseline import Baseline, CategoricalSummary, NumericSummary


def one_to_hundred() -> Baseline:
    table = pa.table({"x": np.arange(1.0, 101.0), "label": np.arange(100) % 2})
    return Baseline.from_profile(
        assay.profile(table), features=["x"], target="label", prediction=None, score=None, bins=4
    )


def xs(values: list[float | None]) -> EventBatch:
    return EventBatch.from_records(
        [{"id": f"e{i}", "features": {"x": v}} for i, v in enumerate(values)]
    )


def test_psi_and_wasserstein_by_hand() -> None:
    b = one_to_hundred()
    # Edges are the quartiles 25, 50, 75: reference shares .24 .25 .25 .26, bin means
    # 12.5 (1..24), 37 (25..49), 62 (50..74), 87.5 (75..100).
    assert b.columns["x"].edges == (25.0, 50.0, 75.0)  # type: ignore[union-attr]
    d, _ = detectors(b, detection={"window": {"events": 10}})
    (o,) = only(d.observe_events(xs([1, 2, 3, 30, 30, 60, 60, 60, 60, 60])), "input_shift")
    # Window shares .3 .2 .5 0 → the empty bin becomes 0.0001 (Evidently's fill).
    r = [0.24, 0.25, 0.25, 0.26]
    c = [0.3, 0.2, 0.5, 0.0001]
    expected_psi = sum((ri - ci) * math.log(ri / ci) for ri, ci in zip(r, c, strict=True))
    assert o.metrics["max_psi"] == pytest.approx(expected_psi)
    assert o.details["features"]["x"]["psi"] == pytest.approx(expected_psi)
    # W1 between {12.5:.24, 37:.25, 62:.25, 87.5:.26} and {2:.3, 30:.2, 60:.5}:
    # 10.5·.3 + 17.5·.06 + 7·.26 + 23·.01 + 2·.51 + 25.5·.26 = 13.9, over std(1..100).
    std = math.sqrt((100**2 - 1) / 12)
    assert o.metrics["max_wasserstein"] == pytest.approx(13.9 / std)
    assert o.metrics["share_drifted"] == 1.0 and o.details["drifted"] == ["x"]
    assert o.n == 10 and o.details["features"]["x"]["null_share"] == 0.0


def test_missing_values_are_counted_as_nulls_not_binned() -> None:
    d, _ = detectors(one_to_hundred(), detection={"window": {"events": 10}})
    (o,) = only(
        d.observe_events(xs([10, 40, 60, 90, None, None, None, None, None, 80])), "input_shift"
    )
    x = o.details["features"]["x"]
    assert x["null_share"] == 0.5 and x["n"] == 5
    r, c = [0.24, 0.25, 0.25, 0.26], [0.2, 0.2, 0.2, 0.4]
    assert x["psi"] == pytest.approx(
        sum((a - b) * math.log(a / b) for a, b in zip(r, c, strict=True))
    )
    # A window where the feature never comes: no PSI, no observation (nothing to compare).
    assert only(d.observe_events(xs([None] * 10)), "input_shift") == []


def test_feature_absent_from_the_events_is_reported_missing() -> None:
    d, _ = detectors(detection={"window": {"events": 500}})
    batch = live(np.random.default_rng(1), 500)
    features = {k: v for k, v in batch.features.items() if k != "x3"}
    (o,) = only(
        d.observe_events(EventBatch(**{**batch.__dict__, "features": features})), "input_shift"
    )
    assert o.details["missing"] == ["x3"]
    assert o.details["features"]["x3"] == {"n": 0, "null_share": 1.0, "ref_null_share": 0.0}
    assert "x3" not in o.details["drifted"] and o.metrics["share_drifted"] == 0.0


def test_planted_shift_is_detected_in_exactly_the_shifted_features() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    rng = np.random.default_rng(2)
    shifted = {"x1": 1.0, "x4": -1.0, "x7": 1.0}
    (o,) = only(d.observe_events(live(rng, 1000, shift=shifted)), "input_shift")
    assert sorted(o.details["drifted"]) == sorted(shifted)
    assert o.metrics["share_drifted"] == pytest.approx(3 / 11)
    assert o.metrics["max_psi"] > 0.5
    for name in shifted:  # a shift of one reference std: W1 ≈ 1 std
        assert o.details["features"][name]["wasserstein"] == pytest.approx(1.0, abs=0.15)
    assert o.metrics["max_wasserstein"] == pytest.approx(1.0, abs=0.15)


def test_unshifted_traffic_stays_below_the_threshold_window_after_window() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    rng = np.random.default_rng(3)
    windows = []
    for i in range(40):
        windows += only(d.observe_events(live(rng, 1000, start=1000 * i)), "input_shift")
    assert len(windows) == 40
    assert max(o.metrics["max_psi"] for o in windows) < 0.05
    assert all(o.metrics["share_drifted"] == 0.0 for o in windows)
    assert max(o.metrics["max_wasserstein"] for o in windows) < 0.15


def test_small_location_shift_moves_wasserstein_by_its_size() -> None:
    d, _ = detectors(detection={"window": {"events": 2000}})
    (o,) = only(
        d.observe_events(live(np.random.default_rng(4), 2000, shift={"x2": 0.3})), "input_shift"
    )
    assert o.details["features"]["x2"]["wasserstein"] == pytest.approx(0.3, abs=0.06)
    others = [o.details["features"][n]["wasserstein"] for n in NUMERIC if n != "x2"]
    assert max(others) < 0.1


def test_unseen_category_is_drift() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    rng = np.random.default_rng(5)
    batch = live(rng, 1000)
    colour = batch.features["colour"].copy()
    colour[::3] = "purple"
    features = {**batch.features, "colour": colour}
    (o,) = only(
        d.observe_events(EventBatch(**{**batch.__dict__, "features": features})), "input_shift"
    )
    assert o.details["drifted"] == ["colour"]
    assert o.details["features"]["colour"]["psi"] > 1.0
    assert "wasserstein" not in o.details["features"]["colour"]


def test_score_shift_on_the_score() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    rng = np.random.default_rng(6)
    (same,) = only(d.observe_events(live(rng, 1000)), "score_shift")
    assert same.subject == "model" and same.details["field"] == "score"
    assert same.metrics["psi"] < 0.05 and same.metrics["wasserstein"] < 0.15
    batch = live(rng, 1000, start=1000)
    confident = EventBatch(**{**batch.__dict__, "score": rng.beta(5, 2, 1000)})
    (moved,) = only(d.observe_events(confident), "score_shift")
    assert moved.metrics["psi"] > 1.0
    # beta(5, 2) − beta(2, 5): the means differ by 3/7; the reference std is 0.16.
    assert moved.metrics["wasserstein"] == pytest.approx((3 / 7) / 0.16, rel=0.15)


def test_score_shift_falls_back_to_the_prediction() -> None:
    b = reference_baseline(score=None)
    d, _ = detectors(b, detection={"window": {"events": 1000}})
    rng = np.random.default_rng(7)
    batch = live(rng, 1000)
    (same,) = only(d.observe_events(batch), "score_shift")
    assert same.details["field"] == "prediction" and set(same.metrics) == {"psi"}
    assert same.metrics["psi"] < 0.05
    ones = EventBatch(**{**batch.__dict__, "prediction": (rng.random(1000) < 0.9) * 1.0})
    (moved,) = only(d.observe_events(ones), "score_shift")
    # Reference about half ones; window 90 % ones: PSI ≈ (.4)·ln(.9/.5) + (−.4)·ln(.1/.5).
    expected = 0.4 * math.log(0.9 / 0.5) - 0.4 * math.log(0.1 / 0.5)
    assert moved.metrics["psi"] == pytest.approx(expected, abs=0.1)


def test_baseline_drift_threshold_comes_from_the_spec() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}, "drift_psi": 5.0})
    (o,) = only(
        d.observe_events(live(np.random.default_rng(8), 1000, shift={"x1": 1.0})), "input_shift"
    )
    assert o.metrics["max_psi"] > 0.5 and o.details["drifted"] == []
    assert baseline().features[0] == "x0"


def test_coders_map_mixed_inputs() -> None:
    text = CategoricalCoder(
        "c",
        CategoricalSummary(
            categories=("a", "b", "7"),
            shares=(0.5, 0.3, 0.2),
            other=0.0,
            complete=True,
            numeric_keys=False,
            null_share=0.0,
            count=10,
        ),
    )
    values = np.empty(7, dtype=object)
    values[:] = ["a", "b", 7, None, math.nan, "zzz", [1]]
    codes, _, ood = text.encode(values)
    # a, b, 7 (a number looked up as its text), null, null (NaN), other, other.
    assert codes.tolist() == [0, 1, 2, 4, 4, 3, 3]
    assert ood.tolist() == [False] * 5 + [True, True]
    codes, _, _ = text.encode(np.array([7.0, math.nan, 3.0]))
    assert codes.tolist() == [2, 4, 3]

    numbers = CategoricalCoder(
        "n",
        CategoricalSummary(
            categories=(2.0, 0.0, 1.0),
            shares=(0.5, 0.3, 0.2),
            other=0.0,
            complete=True,
            numeric_keys=True,
            null_share=0.0,
            count=10,
        ),
    )
    codes, _, ood = numbers.encode(np.array([0.0, 1.0, 2.0, 3.0, math.nan, -1.0]))
    assert codes.tolist() == [1, 2, 0, 3, 4, 3] and ood.tolist() == [0, 0, 0, 1, 0, 1]
    mixed = np.empty(3, dtype=object)
    mixed[:] = ["1", 2, "x"]
    codes, _, ood = numbers.encode(mixed)
    assert codes.tolist() == [2, 0, 3] and ood.tolist() == [False, False, True]

    x = baseline().columns["x0"]
    assert isinstance(x, NumericSummary)
    coder = NumericCoder("x0", x)
    raw = np.empty(3, dtype=object)
    raw[:] = ["0.5", None, "abc"]
    codes, vals, ood = coder.encode(raw)
    assert codes[0] == np.searchsorted(x.edges, 0.5, side="right")
    assert codes[1] == codes[2] == x.bins  # missing and not-a-number: the null slot…
    assert ood.tolist() == [False, False, True]  # …but text where a number belongs is OOD
    assert vals.tolist() == [0.5, 0.0, 0.0]
