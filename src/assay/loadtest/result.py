"""The results of a load test: merged HDR histograms, percentiles, errors and series.

Every worker records into its own histograms; the parent decodes and adds them. HDR
histogram addition is exact (the counts per bucket add up), so the merged percentiles are
the ones a single histogram of every request would give.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from assay.errors import AssayError

SCHEMA = "assay-loadtest/1"
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99_9", 99.9))

BAD_OBJECTIVE = "The objective {name} must be {what}. Got {value!r}. {fix}"


@dataclass(frozen=True)
class Percentiles:
    """Latency figures in milliseconds; ``None`` when nothing was recorded."""

    count: int
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p99_9: float | None = None
    max: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, hist: HdrHistogram) -> Percentiles:
        count = int(hist.get_total_count())
        if not count:
            return cls(0)
        values = {name: hist.get_value_at_percentile(q) / 1000.0 for name, q in PERCENTILES}
        return cls(
            count,
            **values,
            max=hist.get_max_value() / 1000.0,
            mean=hist.get_mean_value() / 1000.0,
        )


@dataclass(frozen=True)
class Second:
    """One second of the test (by intended send time); ``warmup`` when it begins in the
    warm-up.

    ``completed`` counts the responses that ended in this second, so ``completed`` over
    time is the achieved throughput against ``offered``.
    """

    second: int
    warmup: bool
    offered: int
    ok: int
    errors: int
    completed: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class LoadResult:
    """One load test at one rate (open loop) or one concurrency (closed loop)."""

    mode: str
    url: str
    method: str
    client: str
    offered_rate: float | None
    arrival: str | None
    duration: float
    warmup: float
    workers: int
    connections: int
    concurrency: int | None
    timeout: float
    requests: int
    ok: int
    errors: Mapping[str, int]
    throughput: float
    latency: Percentiles
    send_lag: Percentiles
    series: tuple[Second, ...]
    histogram: str
    cpu_seconds: float

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return self.error_count / self.requests if self.requests else 0.0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["schema"] = SCHEMA
        out["errors"] = {
            "total": self.error_count,
            "rate": self.error_rate,
            "by_kind": dict(sorted(self.errors.items())),
        }
        out["series"] = [asdict(s) for s in self.series]
        out["histogram"] = {
            "encoding": "HdrHistogram V2, base64, microseconds",
            "data": self.histogram,
        }
        return out


def decode(encoded: str | bytes) -> HdrHistogram:
    return HdrHistogram.decode(encoded)


def merge(encoded: Iterable[str | bytes], highest: int) -> HdrHistogram:
    """Add histograms (as encoded by the workers) into one."""
    total = HdrHistogram(1, highest, 3)
    for item in encoded:
        if item:
            total.add(decode(item))
    return total


def merge_series(
    parts: Sequence[Mapping[int, Mapping[str, Any]]], warmup: float, highest: int
) -> tuple[Second, ...]:
    seconds = sorted({s for part in parts for s in part})
    out = []
    for s in seconds:
        rows = [part[s] for part in parts if s in part]
        hist = HdrHistogram(1, highest, 2)
        for row in rows:
            if row["hist"]:
                hist.add(decode(row["hist"]))
        p = Percentiles.of(hist)
        out.append(
            Second(
                second=s,
                warmup=s < warmup,
                offered=sum(r["offered"] for r in rows),
                ok=sum(r["ok"] for r in rows),
                errors=sum(r["errors"] for r in rows),
                completed=sum(r["completed"] for r in rows),
                p50=p.p50,
                p90=p.p90,
                p99=p.p99,
                max=p.max,
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class Objective:
    """What a test must meet: latency ceilings in ms and a largest share of errors."""

    p99_ms: float | None = None
    p95_ms: float | None = None
    max_error_rate: float | None = None

    def __post_init__(self) -> None:
        for name, value in (("p99_ms", self.p99_ms), ("p95_ms", self.p95_ms)):
            if value is not None and not (
                isinstance(value, int | float) and math.isfinite(value) and value > 0
            ):
                raise AssayError(
                    BAD_OBJECTIVE.format(
                        name=name,
                        what="a number of milliseconds above 0",
                        value=value,
                        fix="Use for example --p99 250.",
                    )
                )
        rate = self.max_error_rate
        if rate is not None and not (isinstance(rate, int | float) and 0 <= rate <= 1):
            raise AssayError(
                BAD_OBJECTIVE.format(
                    name="max_error_rate",
                    what="a share in [0, 1]",
                    value=rate,
                    fix="Use for example --max-error-rate 0.01 for 1 %.",
                )
            )

    @property
    def empty(self) -> bool:
        return self.p99_ms is None and self.p95_ms is None and self.max_error_rate is None

    def misses(self, result: LoadResult) -> tuple[str, ...]:
        """Each objective ``result`` misses, in words (empty when it meets them all)."""
        out = []
        for name, limit, value in (
            ("p99", self.p99_ms, result.latency.p99),
            ("p95", self.p95_ms, result.latency.p95),
        ):
            if limit is None:
                continue
            if value is None:
                out.append(f"{name}: no successful response to measure (objective {limit:g} ms)")
            elif value > limit:
                out.append(f"{name} {value:.1f} ms exceeds the objective of {limit:g} ms")
        if self.max_error_rate is not None and result.error_rate > self.max_error_rate:
            out.append(
                f"error rate {result.error_rate:.2%} exceeds the limit of {self.max_error_rate:.2%}"
            )
        return tuple(out)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    rate: float
    result: LoadResult
    misses: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.misses


@dataclass(frozen=True)
class SaturationResult:
    """Open-loop steps at rising rates; ``saturation_rate`` is the highest that met the
    objective before the first that missed it (``None`` if the first step missed)."""

    objective: Objective
    steps: tuple[Step, ...]
    saturation_rate: float | None

    @property
    def saturated(self) -> bool:
        """Whether some step missed the objective (else the server kept up with every rate)."""
        return any(not s.passed for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "assay-loadtest-saturation/1",
            "objective": self.objective.to_json(),
            "saturation_rate": self.saturation_rate,
            "saturated": self.saturated,
            "steps": [
                {"rate": s.rate, "passed": s.passed, "misses": list(s.misses), **s.result.to_json()}
                for s in self.steps
            ],
        }
