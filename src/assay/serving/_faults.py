"""Fault injection for a served model: added latency, injected errors and periodic stalls.

The three are parsed from the command line's text (``fixed:20ms``, ``0.05``, ``1s/10s``) into
frozen values; :class:`Faults` holds them with one seeded random generator, so a server given
the same seed answers the same sequence of requests with the same delays and errors.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assay.errors import AssayError

BAD_DURATION = (
    "{option} {text!r}: {part!r} is not a duration. Use a number and a unit: 20ms, 1.5s, 500us."
)
BAD_LATENCY = (
    "--latency {text!r} is not a latency distribution. Use fixed:20ms, normal:MEAN,SD "
    "(normal:20ms,5ms), lognormal:MEDIAN,SIGMA (lognormal:20ms,0.5), uniform:LOW,HIGH "
    "(uniform:10ms,50ms) or exponential:MEAN (exponential:20ms)."
)
BAD_LATENCY_VALUE = "--latency {text!r}: {problem}. {fix}"
BAD_ERROR_RATE = (
    "--error-rate {text!r} is not a share of requests. Use a number in [0, 1], such as 0.05 for 5%."
)
BAD_STALL = (
    "--stall {text!r} is not a stall. Use DURATION/PERIOD with the duration shorter than the "
    "period, such as 1s/10s: every 10 s, requests block for 1 s."
)

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|ms|s)\s*$")
_KINDS = {"fixed": 1, "normal": 2, "lognormal": 2, "uniform": 2, "exponential": 1}


def parse_duration(text: str, *, option: str, whole: str | None = None) -> float:
    """Seconds in ``text`` (``20ms``, ``1.5s``, ``500us``); a bare number has no unit and is
    refused, so ``--latency fixed:20`` cannot mean 20 s by accident."""
    match = _DURATION.match(text)
    if match is None:
        raise AssayError(BAD_DURATION.format(option=option, text=whole or text, part=text))
    return float(match[1]) * _UNITS[match[2]]


@dataclass(frozen=True)
class Latency:
    """A distribution of added latency, in seconds: ``kind`` and its parameters.

    ``fixed`` (delay), ``normal`` (mean, sd; negative draws count as 0), ``lognormal``
    (median, sigma of the logarithm), ``uniform`` (low, high), ``exponential`` (mean).
    """

    kind: str
    params: tuple[float, ...]
    text: str = ""

    def draw(self, rng: random.Random) -> float:
        p = self.params
        if self.kind == "fixed":
            return p[0]
        if self.kind == "normal":
            return max(0.0, rng.gauss(p[0], p[1]))
        if self.kind == "lognormal":
            return p[0] * math.exp(rng.gauss(0.0, p[1])) if p[0] > 0 else 0.0
        if self.kind == "uniform":
            return rng.uniform(p[0], p[1])
        return rng.expovariate(1.0 / p[0]) if p[0] > 0 else 0.0  # exponential

    @property
    def minimum(self) -> float:
        """The smallest delay the distribution adds (what a test can rely on)."""
        return self.params[0] if self.kind in ("fixed", "uniform") else 0.0


def parse_latency(text: str) -> Latency:
    """``fixed:20ms``, ``normal:20ms,5ms``, ``lognormal:20ms,0.5``, ``uniform:10ms,50ms`` or
    ``exponential:20ms`` as a :class:`Latency`; raises :class:`AssayError` (exit 2)."""
    kind, sep, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    parts = [p.strip() for p in rest.split(",")] if rest.strip() else []
    if not sep or kind not in _KINDS or len(parts) != _KINDS[kind]:
        raise AssayError(BAD_LATENCY.format(text=text))
    if kind == "lognormal":
        median = parse_duration(parts[0], option="--latency", whole=text)
        try:
            sigma = float(parts[1])
        except ValueError:
            sigma = math.nan
        if not math.isfinite(sigma) or sigma < 0:
            raise AssayError(
                BAD_LATENCY_VALUE.format(
                    text=text,
                    problem=f"the sigma of a lognormal is a number ≥ 0 without a unit, not "
                    f"{parts[1]!r}",
                    fix="Write lognormal:20ms,0.5 for a median of 20 ms.",
                )
            )
        return Latency(kind, (median, sigma), text)
    values = tuple(parse_duration(p, option="--latency", whole=text) for p in parts)
    if kind == "uniform" and values[0] > values[1]:
        raise AssayError(
            BAD_LATENCY_VALUE.format(
                text=text,
                problem="the low end of a uniform is above its high end",
                fix="Write the low end first: uniform:10ms,50ms.",
            )
        )
    return Latency(kind, values, text)


def parse_error_rate(text: str) -> float:
    """A share of requests in [0, 1]; ``5%`` is read as 0.05."""
    raw = text.strip()
    try:
        rate = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise AssayError(BAD_ERROR_RATE.format(text=text)) from None
    if not 0.0 <= rate <= 1.0:
        raise AssayError(BAD_ERROR_RATE.format(text=text))
    return rate


@dataclass(frozen=True)
class Stall:
    """Every ``period`` seconds from the start, requests block for ``duration`` seconds.

    The first stall begins one period after the server starts: stall ``k`` (k ≥ 1) is the
    window ``[k·period, k·period + duration)``; a request arriving inside it waits until the
    window ends.
    """

    duration: float
    period: float
    text: str = ""

    def wait(self, elapsed: float) -> float:
        """Seconds a request arriving ``elapsed`` seconds after the start must wait."""
        if elapsed < self.period:
            return 0.0
        phase = elapsed % self.period
        return self.duration - phase if phase < self.duration else 0.0


def parse_stall(text: str) -> Stall:
    """``DURATION/PERIOD`` (``1s/10s``) as a :class:`Stall`; raises :class:`AssayError`."""
    duration, sep, period = text.partition("/")
    if not sep:
        raise AssayError(BAD_STALL.format(text=text))
    stall = Stall(
        parse_duration(duration.strip(), option="--stall", whole=text),
        parse_duration(period.strip(), option="--stall", whole=text),
        text,
    )
    if stall.period <= 0 or not 0 < stall.duration < stall.period:
        raise AssayError(BAD_STALL.format(text=text))
    return stall


@dataclass
class Faults:
    """What a served model injects into each prediction request, drawn from one seeded
    generator. ``start`` (called when the server starts) sets the origin of the stalls."""

    latency: Latency | None = None
    error_rate: float = 0.0
    stall: Stall | None = None
    seed: int = 0
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.started = self.clock()

    @property
    def active(self) -> bool:
        return self.latency is not None or self.error_rate > 0 or self.stall is not None

    def start(self) -> None:
        self.started = self.clock()

    def draw(self) -> tuple[float, float, bool]:
        """(stall wait, added latency, fail?) for a request arriving now."""
        stall = self.stall.wait(self.clock() - self.started) if self.stall else 0.0
        latency = self.latency.draw(self._rng) if self.latency else 0.0
        fail = self.error_rate > 0 and self._rng.random() < self.error_rate
        return stall, latency, fail

    async def apply(self) -> tuple[float, bool]:
        """Wait out any stall and the added latency; return (seconds waited, fail?)."""
        stall, latency, fail = self.draw()
        if stall + latency > 0:
            await asyncio.sleep(stall + latency)
        return stall + latency, fail

    def describe(self) -> str:
        """``latency fixed:20ms, error rate 0.05, stall 1s/10s, seed 0`` (or ``none``)."""
        parts = []
        if self.latency is not None:
            parts.append(f"latency {self.latency.text}")
        if self.error_rate:
            parts.append(f"error rate {self.error_rate:g}")
        if self.stall is not None:
            parts.append(f"stall {self.stall.text}")
        return ", ".join(parts) + f" (seed {self.seed})" if parts else "none"
