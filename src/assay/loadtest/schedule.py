"""When each request is meant to be sent: a constant or Poisson arrival schedule.

An open-loop test sends request *i* at its intended time ``start + times[i]`` whether or not
earlier requests have been answered, and measures its latency from that time. The schedule
covers the warm-up and the measured window: times before ``warmup`` are sent but not
recorded. A seeded Poisson schedule is the same list of times on every run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from assay.errors import AssayError

ARRIVALS = ("constant", "poisson")

BAD_RATE = (
    "The rate of a load test must be a number of requests per second above 0. Got {value}. "
    "Use for example --rate 100."
)
BAD_DURATION = "The {name} of a load test must be a number of seconds {bound}. Got {value}."
BAD_ARRIVAL = "The arrival process {value!r} is not one Assay knows. Use constant or poisson."


@dataclass(frozen=True)
class Schedule:
    """``rate`` requests per second for ``warmup`` + ``duration`` seconds.

    ``arrival="constant"`` spaces requests exactly ``1/rate`` apart; ``"poisson"`` draws
    exponential gaps with mean ``1/rate`` from ``random.Random(seed)``.

    >>> Schedule(rate=10, duration=1).times()[:3]
    [0.0, 0.1, 0.2]
    """

    rate: float
    duration: float
    warmup: float = 0.0
    arrival: str = "constant"
    seed: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, int | float) and math.isfinite(self.rate) and self.rate > 0):
            raise AssayError(BAD_RATE.format(value=self.rate))
        if not (math.isfinite(self.duration) and self.duration > 0):
            raise AssayError(
                BAD_DURATION.format(name="duration", bound="above 0", value=self.duration)
            )
        if not (math.isfinite(self.warmup) and self.warmup >= 0):
            raise AssayError(BAD_DURATION.format(name="warm-up", bound="≥ 0", value=self.warmup))
        if self.arrival not in ARRIVALS:
            raise AssayError(BAD_ARRIVAL.format(value=self.arrival))

    @property
    def end(self) -> float:
        """Seconds from the start to the end of the measured window."""
        return self.warmup + self.duration

    def times(self) -> list[float]:
        """Every intended send time, in seconds from the start, in order."""
        end = self.end
        if self.arrival == "constant":
            count = math.ceil(end * self.rate - 1e-9)
            return [i / self.rate for i in range(count)]
        rng = random.Random(self.seed)
        out: list[float] = []
        t = rng.expovariate(self.rate)
        while t < end:
            out.append(t)
            t += rng.expovariate(self.rate)
        return out

    def share(self, index: int, workers: int) -> list[float]:
        """Worker ``index``'s share: every ``workers``-th time, starting at ``index``."""
        return self.times()[index::workers]

    def offered(self) -> int:
        """How many requests fall in the measured window."""
        return sum(1 for t in self.times() if t >= self.warmup)
