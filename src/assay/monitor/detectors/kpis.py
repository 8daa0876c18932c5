"""``kpi_out_of_band``: a business KPI's window mean against its expected band.

Each declared KPI (``monitor.kpis``) has its own windows; a count window counts that KPI's
values, a time window is on the service clock at the value's arrival. Values of undeclared
KPIs are ignored.

The band is ``[min, max]`` as declared; a KPI with ``learn_from_first: N`` learns the sides
not declared from its first N values: mean ± ``sigmas`` × standard deviation (population,
of the individual values). Until it has learned, its windows report ``value`` only.

* ``value`` — the mean of the window's values;
* ``deviation`` — 0 inside the band; outside, the distance to the nearer edge in units of
  the learned standard deviation when the band was learned (so ``deviation`` 1 is one sigma
  beyond the band), else in band widths (``max − min``), else — one declared edge only — in
  units of that edge's magnitude (at least 1). ``details.direction`` says ``above`` or
  ``below``.
"""

from __future__ import annotations

import math

from assay.monitor.detectors.events import Observation
from assay.monitor.detectors.windows import Windowed
from assay.spec.monitor import KpiBand, Window

STD_FLOOR = 1e-9


class Band:
    """A KPI's band, learned or declared."""

    def __init__(self, spec: KpiBand) -> None:
        self.spec = spec
        self.low, self.high = spec.min, spec.max
        self.learning = spec.learn_from_first
        self.seen: list[float] = []
        self.scale: float | None = None
        self.learned = False
        if self.learning is None:
            self._declared_scale()

    @property
    def ready(self) -> bool:
        return self.learning is None or self.learned

    def learn(self, value: float) -> None:
        if self.ready or self.learning is None:
            return
        self.seen.append(value)
        if len(self.seen) < self.learning:
            return
        mean = math.fsum(self.seen) / len(self.seen)
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in self.seen) / len(self.seen))
        sigmas = self.spec.sigmas
        if self.low is None:
            self.low = mean - sigmas * std
        if self.high is None:
            self.high = mean + sigmas * std
        self.scale = max(std, STD_FLOOR * max(1.0, abs(mean)))
        self.learned, self.seen = True, []

    def _declared_scale(self) -> None:
        if self.low is not None and self.high is not None and self.high > self.low:
            self.scale = self.high - self.low
        else:
            edge = self.low if self.low is not None else self.high
            self.scale = max(abs(edge or 0.0), 1.0)

    def deviation(self, value: float) -> tuple[float, str | None]:
        assert self.scale is not None
        if self.high is not None and value > self.high:
            return (value - self.high) / self.scale, "above"
        if self.low is not None and value < self.low:
            return (self.low - value) / self.scale, "below"
        return 0.0, None


class KpiWindow(Windowed):
    def __init__(self, name: str, band: KpiBand, window: Window, start: float) -> None:
        super().__init__("kpi_out_of_band", window, start)
        self.name = name
        self.band = Band(band)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float, now: float) -> list[Observation]:
        def add(lo: int, hi: int) -> None:
            self.total += value
            self.count += 1
            self.band.learn(value)

        return self.feed(1, add, now)

    def close(self, start: float, end: float) -> list[Observation]:
        count, total = self.count, self.total
        self.count, self.total = 0, 0.0
        if not count:
            return []
        value = total / count
        metrics = {"value": value}
        band = self.band
        details: dict[str, object] = {"low": band.low, "high": band.high, "learned": band.learned}
        if band.ready:
            metrics["deviation"], details["direction"] = band.deviation(value)
        else:
            details["learning"] = f"{len(band.seen)} of {band.learning} values"
        return [
            Observation(
                "kpi_out_of_band", self.name, self.key, metrics, start, end, count, details=details
            )
        ]

    def footprint(self) -> int:
        return 8 * len(self.band.seen)
