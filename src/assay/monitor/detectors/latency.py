"""``latency_spike``: windowed latency percentiles against the audited objectives.

A window keeps its latencies exactly while it has at most :data:`EXACT_MAX` of them, and the
percentiles are then ``np.quantile`` (linear interpolation) of those values. Past that it
folds them into a log-bucketed histogram — bucket ``i ≥ 1`` covers
``[0.001 · 1.01^(i-1), 0.001 · 1.01^i)`` ms, bucket 0 everything below 1 µs — and reads each
percentile as the geometric middle of its bucket: within 0.5 % of a value of the window,
with a fixed 2,600 counters however long the window. Negative latencies count as 0.
"""

from __future__ import annotations

import math

import numpy as np

from assay.monitor.detectors.events import Observation
from assay.monitor.detectors.view import BatchView
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import Window

EXACT_MAX = 10_000
FLOOR_MS = 0.001
GROWTH = 1.01
BUCKETS = 2600  # up to 0.001 · 1.01^2598 ms ≈ 1.6e8 ms (44 hours); longer is the top bucket
_LOG_GROWTH = math.log(GROWTH)


def bucket(values: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        raw = np.floor(np.log(np.maximum(values, 0.0) / FLOOR_MS) / _LOG_GROWTH) + 1
    index: np.ndarray = np.clip(np.nan_to_num(raw, neginf=0.0), 0, BUCKETS - 1).astype(np.int64)
    return index


def bucket_value(index: np.ndarray) -> np.ndarray:
    """The geometric middle of each bucket (0 for bucket 0)."""
    middle = FLOOR_MS * GROWTH ** (index - 0.5)
    return np.where(index == 0, 0.0, middle)


class LatencySpike(Windowed):
    def __init__(
        self, window: Window, start: float, p95_ms: float | None, p99_ms: float | None
    ) -> None:
        super().__init__("latency_spike", window, start)
        self.objectives = {"p95": p95_ms, "p99": p99_ms}
        self.values: list[np.ndarray] = []
        self.kept = 0
        self.histogram: np.ndarray | None = None

    def observe(self, view: BatchView, now: float) -> list[Observation]:
        latency = view.batch.latency_ms

        def add(lo: int, hi: int) -> None:
            part = latency[lo:hi]
            part = part[np.isfinite(part)]
            if not part.size:
                return
            if self.histogram is None and self.kept + part.size <= EXACT_MAX:
                self.values.append(part)
                self.kept += part.size
                return
            if self.histogram is None:
                self.histogram = np.zeros(BUCKETS, dtype=np.int64)
                for kept in self.values:
                    self.histogram += np.bincount(bucket(kept), minlength=BUCKETS)
                self.values = []
            self.histogram += np.bincount(bucket(part), minlength=BUCKETS)
            self.kept += part.size

        return self.feed(view.size, add, now)

    def percentiles(self) -> tuple[dict[str, float], bool]:
        ranks = np.array([0.5, 0.95, 0.99])
        if self.histogram is None:
            values = np.maximum(np.concatenate(self.values), 0.0)
            found = np.quantile(values, ranks)
            exact = True
        else:
            cumulative = np.cumsum(self.histogram)
            # The bucket of the value of rank q·(n-1) (0-based), as np.quantile would find.
            index = np.searchsorted(cumulative, np.floor(ranks * (self.kept - 1)) + 1)
            found = bucket_value(index)
            exact = False
        return {
            "p50_ms": float(found[0]),
            "p95_ms": float(found[1]),
            "p99_ms": float(found[2]),
        }, exact

    def close(self, start: float, end: float) -> list[Observation]:
        n, kept = self.n, self.kept
        metrics: dict[str, float] = {}
        exact = True
        if kept:
            metrics, exact = self.percentiles()
        self.values, self.kept, self.histogram = [], 0, None
        if not kept:
            return []
        for name, objective in self.objectives.items():
            if objective:
                metrics[f"{name}_ratio"] = metrics[f"{name}_ms"] / objective
        details = {
            "events": n,
            "exact": exact,
            "p95_objective_ms": self.objectives["p95"],
            "p99_objective_ms": self.objectives["p99"],
        }
        return [
            Observation(
                "latency_spike", "latency", self.key, metrics, start, end, kept, details=details
            )
        ]

    def footprint(self) -> int:
        kept = sum(v.nbytes for v in self.values)
        return kept + (self.histogram.nbytes if self.histogram is not None else 0)
