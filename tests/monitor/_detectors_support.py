"""Shared builders for the baseline and detector tests (no tests here).

A reference table generated with a seeded NumPy generator is profiled with the public
``assay.profile`` and distilled into a :class:`Baseline`; live events are drawn from the same
generator (or a shifted one) and fed as :class:`EventBatch` objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

import assay
from assay.monitor.clock import ManualClock
from assay.monitor.detectors import Detectors, EventBatch
from assay.profiles.baseline import Baseline
from assay.spec.monitor import Monitor

NUMERIC = [f"x{i}" for i in range(10)]
COLOURS = ["red", "green", "blue"]
COLOUR_P = [0.5, 0.3, 0.2]


def reference_table(n: int = 20_000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {
        name: rng.normal(i, 1.0 + i / 5, n) for i, name in enumerate(NUMERIC)
    }
    columns["colour"] = rng.choice(COLOURS, n, p=COLOUR_P)
    columns["label"] = rng.integers(0, 2, n)
    columns["pred"] = rng.integers(0, 2, n)
    columns["score"] = rng.beta(2, 5, n)
    return pa.table(columns)


def reference_baseline(**kwargs: Any) -> Baseline:
    options: dict[str, Any] = {
        "features": None,
        "target": "label",
        "prediction": "pred",
        "score": "score",
        "accuracy": 0.9,
        "latency_p95_ms": 100.0,
        "latency_p99_ms": 200.0,
    }
    options.update(kwargs)
    return Baseline.from_profile(assay.profile(reference_table()), **options)


_BASELINE: Baseline | None = None


def baseline() -> Baseline:
    """The reference baseline (built once per test session)."""
    global _BASELINE
    if _BASELINE is None:
        _BASELINE = reference_baseline()
    return _BASELINE


def live(
    rng: np.random.Generator,
    n: int,
    *,
    start: int = 0,
    shift: Mapping[str, float] | None = None,
    keys: list[str | None] | None = None,
    **fields: Any,
) -> EventBatch:
    """``n`` events like the reference (``shift``: feature → added reference stds)."""
    shift = shift or {}
    columns = {
        name: rng.normal(i, 1.0 + i / 5, n) + shift.get(name, 0.0) * (1.0 + i / 5)
        for i, name in enumerate(NUMERIC)
    }
    colour = rng.choice(COLOURS, n, p=COLOUR_P)
    records = []
    for j in range(n):
        features: dict[str, Any] = {name: float(columns[name][j]) for name in NUMERIC}
        features["colour"] = str(colour[j])
        record: dict[str, Any] = {
            "id": f"e{start + j}",
            "timestamp": 1_800_000_000.0 + start + j,
            "model_version": "v1",
            "session_id": f"s{(start + j) % 17}",
            "api_key_id": keys[j % len(keys)] if keys else "k1",
            "features": features,
            "prediction": float(rng.integers(0, 2)),
            "score": float(rng.beta(2, 5)),
            "latency_ms": float(rng.gamma(2.0, 20.0)),
            "output_text": "Your order ships tomorrow.",
        }
        records.append(record)
    batch = EventBatch.from_records(records)
    if fields:
        batch = EventBatch(**{**batch.__dict__, **fields})
    return batch


def monitor(**spec: Any) -> Monitor:
    return Monitor.model_validate(spec)


def detectors(
    base: Baseline | None = None, clock: ManualClock | None = None, **spec: Any
) -> tuple[Detectors, ManualClock]:
    clock = clock or ManualClock()
    return Detectors(monitor(**spec), base or baseline(), clock=clock), clock


def only(observations: list[Any], signal: str, subject: str | None = None) -> list[Any]:
    return [
        o for o in observations if o.signal == signal and (subject is None or o.subject == subject)
    ]
