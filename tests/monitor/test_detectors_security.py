"""security_anomaly (auth bursts, unknown keys, key rate and spread) and kpi_out_of_band."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _detectors_support import NUMERIC, detectors, live, only

from assay.monitor.detectors import EventBatch

T0 = 1_800_000_000.0


def keyed(batch: EventBatch, keys: list[str | None]) -> EventBatch:
    return EventBatch(**{**batch.__dict__, "key_id": keys})


def test_auth_failures_and_unknown_keys_by_hand() -> None:
    d, clock = detectors(detection={"window": {"seconds": 60}})
    outcomes = [
        ("k1", True, True),
        (None, False, False),  # no key at all: a failure, not an unknown key
        ("ghost", False, False),
        ("ghost", False, False),
        ("other-ghost", False, False),
        ("k2", False, True),  # a known key failing (wrong secret, revoked)
        ("k1", True, True),
    ]
    for key_id, ok, known in outcomes:
        assert d.observe_auth(key_id=key_id, ok=ok, known=known, ts=clock.now()) == []
    clock.advance(60)
    (o,) = only(d.tick(), "security_anomaly", "auth")
    assert o.metrics == {"auth_failures": 5.0, "unknown_keys": 2.0}
    assert o.keys == ("ghost", "other-ghost", "k2")
    assert o.n == 7 and o.details["requests"] == 7


def test_auth_count_window_counts_requests() -> None:
    d, clock = detectors(detection={"window": {"events": 10}})
    out = []
    for i in range(25):
        out += d.observe_auth(key_id=f"g{i}", ok=i % 2 == 0, known=True, ts=clock.now())
    assert [o.metrics["auth_failures"] for o in only(out, "security_anomaly", "auth")] == [5, 5]


def stream(
    d: Any, rng: np.random.Generator, windows: int, per_key: dict[str, int], start: int = 0
) -> list[Any]:
    """``windows`` windows of 1,000 events, ``per_key`` events per key and the rest keyless."""
    out = []
    for w in range(windows):
        keys: list[str | None] = [k for k, n in per_key.items() for _ in range(n)]
        keys += [None] * (1000 - len(keys))
        out += d.observe_events(keyed(live(rng, 1000, start=start + 1000 * w), keys))
    return out


def test_key_rate_ratio_flags_a_key_querying_far_above_its_history() -> None:
    d, _ = detectors(
        detection={"window": {"events": 1000}, "key_rate_baseline_windows": 3},
    )
    rng = np.random.default_rng(1)
    first = only(stream(d, rng, 1, {"steady": 50, "thief": 10}), "security_anomaly")
    # No history yet: no ratio; 50 events are enough for a spread, 10 are not.
    assert {o.subject: set(o.metrics) for o in first} == {"steady": {"key_spread"}}
    history = stream(d, rng, 3, {"steady": 50, "thief": 10}, start=1000)
    ratios = {o.subject: o.metrics.get("key_rate_ratio") for o in history[-3:]}
    assert ratios["steady"] == pytest.approx(1.0)
    assert ratios["thief"] == pytest.approx(1.0)
    # The extraction: 400 events where its last three windows averaged 10.
    burst = only(stream(d, rng, 1, {"steady": 50, "thief": 400}, start=4000), "security_anomaly")
    thief = next(o for o in burst if o.subject == "thief")
    assert thief.metrics["key_rate_ratio"] == pytest.approx(40.0)
    assert thief.keys == ("thief",) and len(thief.event_ids) == 400
    assert thief.details["history_mean"] == 10.0 and thief.details["history_windows"] == 3
    steady = next(o for o in burst if o.subject == "steady")
    assert steady.metrics["key_rate_ratio"] == pytest.approx(1.0)


def test_silent_windows_lower_the_history_and_old_keys_are_forgotten() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}, "key_rate_baseline_windows": 2})
    rng = np.random.default_rng(2)
    stream(d, rng, 1, {"a": 40, "b": 40})
    stream(d, rng, 1, {"b": 40})  # a is silent
    out = only(stream(d, rng, 1, {"a": 40, "b": 40}), "security_anomaly")
    a = next(o for o in out if o.subject == "a")
    assert a.metrics["key_rate_ratio"] == pytest.approx(40 / 20)  # history [40, 0]
    assert "a" in {o.subject for o in d.latest()}
    stream(d, rng, 2, {"b": 40})  # a silent for two windows: forgotten, also by the dashboard
    assert "a" not in {o.subject for o in d.latest()}
    again = only(stream(d, rng, 1, {"a": 40, "b": 40}), "security_anomaly")
    a = next(o for o in again if o.subject == "a")
    assert "key_rate_ratio" not in a.metrics  # a new key again


def test_key_spread_separates_a_sweep_from_ordinary_traffic() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    rng = np.random.default_rng(3)
    batch = live(rng, 1000)
    # The prober sweeps every feature uniformly across the reference's range.
    features = dict(batch.features)
    sweep = np.arange(1000) % 2 == 0
    for i, name in enumerate(NUMERIC):
        x = features[name].copy()
        std = 1.0 + i / 5
        x[sweep] = rng.uniform(i - 4 * std, i + 4 * std, int(sweep.sum()))
        features[name] = x
    keys: list[str | None] = ["prober" if s else "client" for s in sweep]
    out = d.observe_events(EventBatch(**{**batch.__dict__, "features": features, "key_id": keys}))
    spread = {o.subject: o.metrics["key_spread"] for o in only(out, "security_anomaly")}
    # Uniform over ±4 std has a std of 8/√12 ≈ 2.31 reference stds.
    assert spread["prober"] == pytest.approx(8 / math.sqrt(12), rel=0.1)
    assert spread["client"] == pytest.approx(1.0, abs=0.1)


def test_kpi_declared_band_in_band_widths() -> None:
    d, clock = detectors(
        detection={"window": {"seconds": 60}},
        kpis={"conversion": {"min": 0.02, "max": 0.06}, "revenue": {"min": 100.0}},
    )
    for value in (0.07, 0.08, 0.09):
        d.observe_kpi("conversion", clock.now(), value)
    for value in (40.0, 60.0):
        d.observe_kpi("revenue", clock.now(), value)
    d.observe_kpi("undeclared", clock.now(), 1.0)
    d.observe_kpi("conversion", clock.now(), math.nan)  # ignored
    clock.advance(60)
    out = {o.subject: o for o in only(d.tick(), "kpi_out_of_band")}
    assert set(out) == {"conversion", "revenue"}
    conversion, revenue = out["conversion"], out["revenue"]
    assert conversion.metrics["value"] == pytest.approx(0.08)
    assert conversion.metrics["deviation"] == pytest.approx((0.08 - 0.06) / 0.04)
    assert conversion.details["direction"] == "above" and conversion.n == 3
    assert revenue.metrics == pytest.approx({"value": 50.0, "deviation": 0.5})  # (100-50)/100
    assert revenue.details["direction"] == "below"


def test_kpi_learned_band_in_sigmas() -> None:
    d, _ = detectors(
        detection={"window": {"events": 10}},
        kpis={"latency_budget": {"learn_from_first": 10, "sigmas": 2.0}},
    )
    learning = [1.0, 3.0] * 5  # mean 2, std 1: band [0, 4]
    (first,) = [o for v in learning for o in d.observe_kpi("latency_budget", 0.0, v)]
    assert first.metrics == {"value": 2.0, "deviation": 0.0}  # learned with its last value
    assert first.details["learned"] is True
    inside = [o for v in [3.5] * 10 for o in d.observe_kpi("latency_budget", 0.0, v)]
    assert inside[0].metrics == {"value": 3.5, "deviation": 0.0}
    outside = [o for v in [6.0] * 10 for o in d.observe_kpi("latency_budget", 0.0, v)]
    assert outside[0].metrics == {"value": 6.0, "deviation": pytest.approx(2.0)}  # (6-4)/1
    assert outside[0].details["low"] == pytest.approx(0.0)


def test_kpi_reports_value_only_while_learning() -> None:
    d, _ = detectors(
        detection={"window": {"events": 10}},
        kpis={"orders": {"learn_from_first": 25}},
    )
    (o,) = [o for v in range(10) for o in d.observe_kpi("orders", 0.0, float(v))]
    assert o.metrics == {"value": 4.5} and o.details["learning"] == "10 of 25 values"
