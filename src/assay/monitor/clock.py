"""Clocks for the monitor: every deadline, window and lease reads one of these.

The service runs on :class:`SystemClock`. Tests use :class:`ManualClock` and move time by
hand; drills against a running service start it with ``--time-scale`` (a
:class:`ScaledClock`), so an acknowledgement deadline of 15 minutes passes in 15 seconds at
``--time-scale 60``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since the Unix epoch, and a sleep measured on the same clock."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class ScaledClock:
    """Time that runs ``factor`` times faster than the wall clock from the moment it is made
    (``factor`` 60: a minute per second). For drills against a running service."""

    def __init__(self, factor: float) -> None:
        if factor <= 0:
            raise ValueError(f"time scale must be positive, got {factor}")
        self.factor = factor
        self._origin = time.time()
        self._mono = time.monotonic()

    def now(self) -> float:
        return self._origin + (time.monotonic() - self._mono) * self.factor

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.factor)


class ManualClock:
    """A clock that moves only when told (:meth:`advance`, :meth:`set`). ``sleep`` yields to
    the event loop without waiting, so background loops keep turning in tests."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0.001)
