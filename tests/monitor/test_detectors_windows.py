"""Windows: exact count and time boundaries, which detectors exist, bounded state."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _detectors_support import baseline, detectors, live, only, reference_baseline

import assay
from assay.monitor.detectors import Observation
from assay.profiles.baseline import Baseline

T0 = 1_800_000_000.0


def rule(name: str, signal: str, when: str, **window: Any) -> dict[str, Any]:
    return {"name": name, "signal": signal, "when": when, "window": window or None}


def test_count_window_closes_exactly_at_its_count() -> None:
    d, _ = detectors(detection={"window": {"events": 100}})
    rng = np.random.default_rng(1)
    assert only(d.observe_events(live(rng, 99)), "input_shift") == []
    (first,) = only(d.observe_events(live(rng, 1, start=99)), "input_shift")
    assert first.n == 100 and first.window == "events=100"
    assert first.event_ids == tuple(f"e{i}" for i in range(100))
    # A batch crossing two boundaries closes two windows and carries the rest over.
    closed = only(d.observe_events(live(rng, 250, start=100)), "input_shift")
    assert [o.n for o in closed] == [100, 100]
    assert closed[1].event_ids == tuple(f"e{i}" for i in range(200, 300))
    (last,) = only(d.observe_events(live(rng, 50, start=350)), "input_shift")
    assert last.event_ids[0] == "e300" and last.event_ids[-1] == "e399"


def test_time_window_closes_on_tick_at_its_end() -> None:
    d, clock = detectors(detection={"window": {"seconds": 60}})
    rng = np.random.default_rng(2)
    assert d.observe_events(live(rng, 10)) == []
    clock.advance(59.999)
    assert d.tick() == []
    clock.set(T0 + 60)
    closed = d.tick()
    shift = only(closed, "input_shift")
    assert len(shift) == 1 and shift[0].n == 10
    assert (shift[0].start, shift[0].end) == (T0, T0 + 60)
    assert {o.signal for o in closed} >= {"input_shift", "suspicious_output", "latency_spike"}
    assert d.tick() == []  # nothing more to close
    # Idle periods are skipped: the next window is the one holding `now`.
    clock.set(T0 + 365)
    quiet = d.tick()
    assert only(quiet, "input_shift") == []  # no events: no drift figures
    (auth,) = only(quiet, "security_anomaly", "auth")  # but the auth counters report zeros
    assert auth.metrics == {"auth_failures": 0.0, "unknown_keys": 0.0}
    assert (auth.start, auth.end) == (T0 + 60, T0 + 120)
    d.observe_events(live(rng, 5))
    clock.set(T0 + 419.5)
    assert only(d.tick(), "input_shift") == []
    clock.set(T0 + 420)
    (late,) = only(d.tick(), "input_shift")
    assert (late.start, late.end, late.n) == (T0 + 360, T0 + 420, 5)


def test_events_after_the_end_close_the_window_first() -> None:
    d, clock = detectors(detection={"window": {"seconds": 60}})
    rng = np.random.default_rng(3)
    d.observe_events(live(rng, 10))
    clock.set(T0 + 61)
    (closed,) = only(d.observe_events(live(rng, 7, start=10)), "input_shift")
    assert closed.n == 10 and closed.end == T0 + 60
    clock.set(T0 + 120)
    (next_window,) = only(d.tick(), "input_shift")
    assert next_window.n == 7 and next_window.start == T0 + 60


def test_count_and_time_window_closes_at_whichever_comes_first() -> None:
    d, clock = detectors(detection={"window": {"events": 100, "seconds": 60}})
    rng = np.random.default_rng(4)
    clock.set(T0 + 10)
    (by_count,) = only(d.observe_events(live(rng, 100)), "input_shift")
    assert (by_count.start, by_count.end, by_count.window) == (T0, T0 + 10, "events=100,seconds=60")
    d.observe_events(live(rng, 5, start=100))
    clock.set(T0 + 69.9)
    assert only(d.tick(), "input_shift") == []
    clock.set(T0 + 70)
    (by_time,) = only(d.tick(), "input_shift")
    assert (by_time.start, by_time.end, by_time.n) == (T0 + 10, T0 + 70, 5)


def test_one_detector_per_signal_and_window() -> None:
    d, _ = detectors(
        rules=[
            rule("a", "input_shift", "max_psi > 0.2", events=2000),
            rule("b", "input_shift", "share_drifted > 0.3", events=2000),
            rule("c", "latency_spike", "p95_ratio > 2", minutes=5),
            rule("d", "latency_spike", "p99_ratio > 2", seconds=300),
            rule("e", "kpi_out_of_band", "deviation > 0"),
        ],
        kpis={"revenue": {"min": 0}},
    )
    windows = d.windows()
    assert len(windows) == len(set(windows))
    assert ("input_shift", "events=2000") in windows
    assert ("latency_spike", "seconds=300") in windows
    default = {s for s, w in windows if w == "events=1000"}
    assert default == {
        "input_shift",
        "score_shift",
        "accuracy_drop",
        "latency_spike",
        "suspicious_output",
        "security_anomaly",
        "kpi_out_of_band",
    }
    assert len(windows) == 9 and d.unsupported == {}


def test_signals_the_baseline_cannot_measure() -> None:
    bare = reference_baseline(features=["x0"], prediction=None, score=None)
    d, _ = detectors(bare, rules=[rule("s", "score_shift", "psi > 0.2")])
    assert "score_shift" in d.unsupported and "kpi_out_of_band" in d.unsupported
    assert {s for s, _ in d.windows()} == {
        "input_shift",
        "accuracy_drop",
        "latency_spike",
        "suspicious_output",
        "security_anomaly",
    }
    with pytest.raises(ValueError, match=r"'nope'.*x0"):
        detectors(bare, detection={"features": ["x0", "nope"]})


def test_listed_features_the_baseline_could_not_summarise_are_skipped() -> None:
    table = pa.table(
        {
            "x": np.arange(100.0),
            "when": pa.array(np.arange(100), pa.timestamp("s")),
        }
    )
    b = Baseline.from_profile(
        assay.profile(table), features=["x", "when"], target=None, prediction=None, score=None
    )
    d, _ = detectors(b, detection={"features": ["x", "when"]})
    assert d.features == ("x",)
    assert d.skipped_features == {"when": "datetime column"}


def test_watched_features_follow_detection_features() -> None:
    d, _ = detectors(detection={"window": {"events": 100}, "features": ["x1", "colour"]})
    (o,) = only(d.observe_events(live(np.random.default_rng(5), 100)), "input_shift")
    assert list(o.details["features"]) == ["x1", "colour"]


def test_state_stays_bounded_over_many_windows() -> None:
    d, clock = detectors(
        rules=[rule("k", "security_anomaly", "key_rate_ratio > 10", events=100, seconds=30)],
        detection={"window": {"events": 100}, "key_rate_baseline_windows": 3},
    )
    rng = np.random.default_rng(6)
    batches = [live(rng, 50, start=50 * i) for i in range(4)]
    footprints, latest = [], []
    for w in range(300):
        # Every window brings two new API keys (key churn) next to a shared one.
        keys = [f"new{w}a", f"new{w}b", f"new{w}a", f"new{w}b", "shared"]
        for half in range(2):
            batch = batches[(2 * w + half) % 4]
            keyed = [keys[i % 5] for i in range(50)]
            d.observe_events(type(batch)(**{**batch.__dict__, "key_id": keyed}))
        for g in range(5):
            d.observe_auth(key_id=f"ghost{w}.{g}", ok=False, known=False, ts=clock.now())
        d.observe_labels([(f"e{i}", 1.0, 0.9, float(i % 2)) for i in range(20)])
        clock.advance(7.0)
        d.tick()
        footprints.append(d.footprint())
        latest.append(len(d.latest()))
    assert any(o.subject.startswith("new") for o in d.latest())  # keys are observed…
    # …and forgotten: once every window has closed a few times, the state after 300
    # windows is no larger than after 150 to 200 of them (the phases repeat within 20).
    assert max(footprints[250:]) <= max(footprints[150:200])
    assert max(latest[250:]) == max(latest[150:200]) < 30


def test_latest_keeps_one_observation_per_signal_subject_window() -> None:
    d, _ = detectors(detection={"window": {"events": 100}})
    rng = np.random.default_rng(7)
    seen: list[Observation] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.extend(d.latest())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(10):
            d.observe_events(live(rng, 100, start=100 * i))
    finally:
        stop.set()
        reader.join()
    latest = d.latest()
    keys = [(o.signal, o.subject, o.window) for o in latest]
    assert len(keys) == len(set(keys))
    (shift,) = only(latest, "input_shift")
    assert shift.event_ids[0] == "e900"  # the last window's
    assert seen  # the reader saw observations while the writer added them


def test_baseline_is_shared_between_tests() -> None:
    assert baseline() is baseline()
