"""Tumbling windows: by count, by time on the service clock, or both (whichever first).

A :class:`Windowed` detector accumulates what it needs as data arrives and, when its window
closes, turns the accumulators into observations and resets them: nothing of a closed window
is kept but what the detector chooses to carry over (a key's recent event counts), so the
cost of an event never depends on how much traffic came before.

* A count window (``events: N``) closes on the N-th unit added — an event, a label, a KPI
  value or an authentication, depending on the detector; a batch that crosses the boundary
  is split there, and may close several windows.
* A time window (``seconds``/``minutes``: D) covers ``[start, start + D)`` on the service
  clock. Windows tile time from the moment the detectors are built: the next starts where
  the last ended. It closes when new data arrives at or after its end, or on a ``tick()``
  at or after its end; whole periods in which nothing arrived are skipped (they close
  nothing, though a detector may note them, as the key-rate history does).
* Both: whichever comes first; a count close starts the next window (and its clock) there.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from assay.monitor.detectors.events import Observation
from assay.spec.monitor import Window, window_key


class Windowed(ABC):
    """One signal's detector over one window."""

    def __init__(self, signal: str, window: Window, start: float) -> None:
        self.signal = signal
        self.window = window
        self.key = window_key(window)
        self.limit = window.events
        self.duration = window.duration_s
        self.start = start
        self.n = 0

    @abstractmethod
    def close(self, start: float, end: float) -> list[Observation]:
        """The observations of the window ``[start, end)`` now closing; resets the state."""

    def skipped(self, periods: int) -> None:  # noqa: B027 - optional hook
        """``periods`` whole time windows passed without any data (nothing to close)."""

    def footprint(self) -> int:
        """Bytes (roughly) this detector keeps: for the bounded-state tests."""
        return 0

    def expire(self, now: float) -> list[Observation]:
        """Close the time window if ``now`` is at or past its end."""
        if self.duration is None or now < self.start + self.duration:
            return []
        end = self.start + self.duration
        out = self.close(self.start, end)
        extra = max(int((now - end) // self.duration), 0)
        while end + (extra + 1) * self.duration <= now:  # floor() rounding, either way
            extra += 1
        while extra and end + extra * self.duration > now:
            extra -= 1
        if extra:
            self.skipped(extra)
        self.start = end + extra * self.duration
        self.n = 0
        return out

    def feed(self, size: int, add: Callable[[int, int], None], now: float) -> list[Observation]:
        """Add ``size`` units through ``add(lo, hi)``, closing count windows at their
        boundaries (and first the time window, if it has expired)."""
        out = self.expire(now)
        lo = 0
        while lo < size:
            take = size - lo if self.limit is None else min(size - lo, self.limit - self.n)
            add(lo, lo + take)
            self.n += take
            lo += take
            if self.limit is not None and self.n >= self.limit:
                out.extend(self.close(self.start, now))
                self.start = now
                self.n = 0
        return out
