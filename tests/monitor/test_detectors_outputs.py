"""suspicious_output, latency_spike and accuracy_drop against hand-computed figures."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _detectors_support import NUMERIC, baseline, detectors, live, only, reference_baseline

from assay.monitor.detectors import EventBatch
from assay.profiles.baseline import NumericSummary


def event(i: int, **fields: Any) -> dict[str, Any]:
    features: dict[str, Any] = {name: float(k) for k, name in enumerate(NUMERIC)}
    features["colour"] = "red"
    features.update(fields.pop("features", {}))
    record = {
        "id": f"e{i}",
        "session_id": f"s{i}",
        "features": features,
        "prediction": 1.0,
        "output_text": "Your parcel is on its way.",
    }
    record.update(fields)
    return record


def test_suspicious_output_by_hand() -> None:
    x0 = baseline().columns["x0"]
    assert isinstance(x0, NumericSummary)
    edge = x0.max + 0.1 * (x0.max - x0.min)  # the widened range's top: still in range
    d, _ = detectors(
        detection={"window": {"events": 10}, "prediction_range": [0.0, 1.0]},
    )
    records = [
        event(0),
        event(1, output_text="mail me at bob@example.com"),
        event(2, output_text="card 4111 1111 1111 1111 expires soon"),
        event(3, prediction=None),  # the model should predict: invalid
        event(4, prediction=2.0),  # outside prediction_range
        event(5, features={"x0": 1e6}),  # far outside the reference range
        event(6, features={"colour": "purple"}),  # a category the reference never had
        event(7, output_text=None),
        event(8, features={"x0": edge}),
        event(9, prediction=math.inf, output_text="call +44 20 7946 0958 now"),
    ]
    (o,) = only(d.observe_events(EventBatch.from_records(records)), "suspicious_output")
    assert o.subject == "model" and o.n == 10
    assert o.metrics == pytest.approx(
        {"pii_rate": 3 / 9, "invalid_rate": 3 / 10, "ood_rate": 2 / 10, "suspicious_rate": 7 / 10}
    )
    assert o.event_ids == ("e1", "e2", "e3", "e4", "e5", "e6", "e9")
    assert o.sessions == ("s1", "s2", "s3", "s4", "s5", "s6", "s9")
    assert o.details == {"texts": 9, "pii": 3, "invalid": 3, "ood": 2, "suspicious": 7}


def test_ood_bounds_are_the_range_widened_by_a_tenth() -> None:
    x0 = baseline().columns["x0"]
    assert isinstance(x0, NumericSummary)
    span = x0.max - x0.min
    d, _ = detectors(detection={"window": {"events": 10}})
    values = [x0.min - 0.09 * span, x0.max + 0.09 * span, x0.min - 0.11 * span, math.inf]
    records = [event(i, features={"x0": v}) for i, v in enumerate(values)]
    records += [event(i) for i in range(4, 10)]
    (o,) = only(d.observe_events(EventBatch.from_records(records)), "suspicious_output")
    assert o.metrics["ood_rate"] == pytest.approx(2 / 10)
    assert o.event_ids == ("e2", "e3")


def test_without_a_reference_prediction_a_missing_prediction_is_fine() -> None:
    b = reference_baseline(prediction=None)
    d, _ = detectors(b, detection={"window": {"events": 10}})
    records = [event(i, prediction=None, output_text=None) for i in range(9)]
    records.append(event(9, prediction=-math.inf, output_text=None))
    (o,) = only(d.observe_events(EventBatch.from_records(records)), "suspicious_output")
    assert o.metrics == {"invalid_rate": 0.1, "ood_rate": 0.0, "suspicious_rate": 0.1}


def test_ordinary_traffic_is_not_suspicious() -> None:
    d, _ = detectors(detection={"window": {"events": 1000}})
    (o,) = only(d.observe_events(live(np.random.default_rng(1), 1000)), "suspicious_output")
    assert o.metrics["suspicious_rate"] < 0.01 and o.metrics["pii_rate"] == 0.0


def test_latency_percentiles_exact_on_small_windows() -> None:
    d, _ = detectors(detection={"window": {"events": 12}})
    latencies = [*range(1, 11), None, None]
    records = [{"id": f"e{i}", "latency_ms": v} for i, v in enumerate(latencies)]
    (o,) = only(d.observe_events(EventBatch.from_records(records)), "latency_spike")
    # np.quantile's linear interpolation over 1..10.
    assert o.metrics == pytest.approx(
        {
            "p50_ms": 5.5,
            "p95_ms": 9.55,
            "p99_ms": 9.91,
            "p95_ratio": 9.55 / 100,
            "p99_ratio": 9.91 / 200,
        }
    )
    assert o.n == 10 and o.details["events"] == 12 and o.details["exact"]


def test_latency_percentiles_of_long_windows_within_half_a_percent() -> None:
    d, _ = detectors(detection={"window": {"events": 50_000}})
    rng = np.random.default_rng(2)
    latency = rng.lognormal(3.0, 0.8, 50_000)
    out = []
    for part in np.split(latency, 10):
        n = part.size
        out += d.observe_events(
            EventBatch(
                ids=[f"e{i}" for i in range(n)],
                ts=np.zeros(n),
                model_version=["v"] * n,
                session_id=[None] * n,
                key_id=[None] * n,
                features={},
                prediction=np.full(n, np.nan),
                score=np.full(n, np.nan),
                latency_ms=part,
                output_text=[None] * n,
            )
        )
    (o,) = only(out, "latency_spike")
    assert not o.details["exact"] and o.n == 50_000
    for q, name in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
        assert o.metrics[name] == pytest.approx(np.quantile(latency, q), rel=0.006)


def test_latency_without_objectives_reports_no_ratio() -> None:
    b = reference_baseline(latency_p95_ms=None, latency_p99_ms=None)
    d, _ = detectors(b, detection={"window": {"events": 10}})
    records = [{"id": f"e{i}", "latency_ms": 10.0} for i in range(10)]
    (o,) = only(d.observe_events(EventBatch.from_records(records)), "latency_spike")
    assert set(o.metrics) == {"p50_ms", "p95_ms", "p99_ms"}
    # No latency at all in a window: nothing to report.
    assert (
        only(d.observe_events(EventBatch.from_records([{"id": "x"}] * 10)), "latency_spike") == []
    )


def test_accuracy_by_hand() -> None:
    d, _ = detectors(detection={"window": {"events": 10}})
    nan = math.nan
    rows = [
        ("a", 1.0, nan, 1.0),
        ("b", 0.0, nan, 0.0),
        ("c", 1.0, nan, 0.0),  # wrong
        ("d", 2.0, nan, 2.0),
        ("skip", nan, nan, 1.0),  # neither prediction nor score: not counted
        ("e", nan, 0.8, 1.0),  # score ≥ 0.5 → class 1
        ("f", nan, 0.2, 1.0),  # wrong
        ("g", nan, 0.2, 0.0),
        ("h", 1.0, 0.1, 1.0),  # the prediction wins over the score
        ("i", 0.0, nan, 1.0),  # wrong
        ("j", 1.0, nan, 1.0),
    ]
    (o,) = only(d.observe_labels(rows), "accuracy_drop")
    assert o.n == 10 and o.subject == "model"
    assert o.metrics == pytest.approx(
        {"accuracy": 0.7, "error_rate": 0.3, "accuracy_drop": 0.9 - 0.7}
    )
    assert o.event_ids == ("c", "f", "i")
    assert o.details["correct"] == 7


def test_accuracy_without_a_baseline_accuracy() -> None:
    d, _ = detectors(reference_baseline(accuracy=None), detection={"window": {"events": 10}})
    assert d.observe_labels([(f"e{i}", 1.0, math.nan, 1.0) for i in range(9)]) == []
    (o,) = d.observe_labels([("last", 1.0, math.nan, 0.0)])
    assert o.metrics == {"accuracy": 0.9, "error_rate": pytest.approx(0.1)}
