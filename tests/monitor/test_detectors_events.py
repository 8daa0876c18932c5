"""EventBatch.from_records and window keys."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.monitor.detectors import EventBatch, window_key
from assay.spec.monitor import Window


def test_from_records_builds_columns() -> None:
    batch = EventBatch.from_records(
        [
            {
                "id": "a",
                "timestamp": 10.0,
                "model_version": "v1",
                "session_id": "s1",
                "api_key_id": "k1",
                "features": {"x": 1.5, "flag": True, "city": "Oslo", "n": 3},
                "prediction": 1,
                "score": 0.25,
                "latency_ms": 12.0,
                "output_text": "hi",
            },
            {"id": "b", "features": {"x": None, "city": 7, "extra": "only here"}},
        ]
    )
    assert batch.ids == ["a", "b"] and len(batch) == 2
    np.testing.assert_array_equal(batch.ts, [10.0, np.nan])
    assert batch.model_version == ["v1", ""]
    assert batch.session_id == ["s1", None] and batch.key_id == ["k1", None]
    assert batch.output_text == ["hi", None]
    np.testing.assert_array_equal(batch.prediction, [1.0, np.nan])
    np.testing.assert_array_equal(batch.score, [0.25, np.nan])
    np.testing.assert_array_equal(batch.latency_ms, [12.0, np.nan])
    f = batch.features
    assert f["x"].dtype == np.float64 and math.isnan(f["x"][1]) and f["x"][0] == 1.5
    np.testing.assert_array_equal(f["flag"], [1.0, np.nan])  # booleans as 0/1
    np.testing.assert_array_equal(f["n"], [3.0, np.nan])  # absent in a record: missing
    assert f["city"].dtype == object and f["city"].tolist() == ["Oslo", 7]
    assert f["extra"].tolist() == [None, "only here"]


def test_from_records_tolerates_odd_values() -> None:
    batch = EventBatch.from_records(
        [
            {"id": 1, "prediction": "0.5", "score": "high", "features": {"v": [1, 2]}},
            {"id": 2, "prediction": None, "features": {"v": [3]}},
        ]
    )
    assert batch.ids == ["1", "2"]
    np.testing.assert_array_equal(batch.prediction, [0.5, np.nan])
    assert math.isnan(batch.score[0])
    assert batch.features["v"].shape == (2,) and batch.features["v"][0] == [1, 2]
    empty = EventBatch.from_records([])
    assert len(empty) == 0 and empty.ts.shape == (0,) and empty.features == {}


@pytest.mark.parametrize(
    ("window", "key"),
    [
        (Window(events=1000), "events=1000"),
        (Window(seconds=300), "seconds=300"),
        (Window(minutes=5), "seconds=300"),
        (Window(seconds=0.5), "seconds=0.5"),
        (Window(events=1000, seconds=60), "events=1000,seconds=60"),
        (Window(events=50, minutes=1.5), "events=50,seconds=90"),
    ],
)
def test_window_key(window: Window, key: str) -> None:
    assert window_key(window) == key
