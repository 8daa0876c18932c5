"""Per-key rate limiting: a token bucket for each API key, on the service's clock.

Each key has a bucket that holds up to ``burst`` tokens and refills at ``rate`` tokens per
second; a request costs ``cost`` tokens (1 by default). A request that finds enough tokens is
allowed and takes them; otherwise it is refused with the time until enough tokens will be
there — the service answers ``429 Too Many Requests`` with that time as ``Retry-After``
(:func:`retry_after_header`).

The default rate and burst come from the spec's ``monitor.limits`` (``requests_per_second``,
``burst``: :meth:`RateLimiter.from_limits`). A key created with its own ``rate_per_second``
passes it to :meth:`RateLimiter.check`; its burst keeps the default's proportion (the default
200/s with a burst of 400 lets a burst of 2 s of traffic through, so a key limited to 50/s
gets a burst of 100).

A request that costs more than the burst (a very large batch, if the caller charges per
event) is allowed when the bucket is full and leaves it in debt: later requests wait until
the debt is repaid, so the long-run rate holds and the request is never refused forever.

Time comes from the injectable clock (:mod:`assay.monitor.clock`), so tests move it by hand;
under a drill's ``ScaledClock`` rates and ``Retry-After`` are in the drill's time.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assay.monitor.clock import Clock

if TYPE_CHECKING:
    from assay.spec.monitor import Limits

_SLACK_S = 1e-6
"""A request due within a microsecond is allowed: epoch floats near 1.8e9 are only exact to
~0.24 µs, so a refill computed from two of them can fall a hair short."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    rate: float
    burst: float


class RateLimiter:
    """Token buckets keyed by API key id. Thread-safe.

    ``max_keys`` bounds the memory: past it, buckets that have refilled completely (which are
    the same as no bucket) are dropped, then the longest idle ones.
    """

    def __init__(self, *, rate: float, burst: float, clock: Clock, max_keys: int = 100_000) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of requests per second, got {rate}")
        if not (math.isfinite(burst) and burst >= 1):
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = float(rate)
        self.burst = float(burst)
        self._burst_seconds = self.burst / self.rate
        self._clock = clock
        self._max_keys = max(1, max_keys)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_limits(cls, limits: Limits, *, clock: Clock) -> RateLimiter:
        """A limiter with the spec's ``monitor.limits.requests_per_second`` and ``burst``."""
        return cls(rate=limits.requests_per_second, burst=limits.burst, clock=clock)

    def limits_for(self, rate: float | None) -> tuple[float, float]:
        """``(rate, burst)`` of a key with its own ``rate`` (or the default's if ``None``)."""
        if rate is None:
            return self.rate, self.burst
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"a key's rate must be positive, got {rate}")
        return rate, max(1.0, rate * self._burst_seconds)

    def check(
        self, key_id: str, cost: float = 1, *, rate: float | None = None
    ) -> tuple[bool, float]:
        """Take ``cost`` tokens from ``key_id``'s bucket: ``(True, 0.0)`` if allowed, else
        ``(False, seconds until the request would be allowed)``. ``rate`` is the key's own
        rate (``api_keys.rate_per_second``); ``None`` uses the default."""
        if not cost >= 0:
            raise ValueError(f"cost must be zero or positive, got {cost}")
        key_rate, key_burst = self.limits_for(rate)
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                if len(self._buckets) >= self._max_keys:
                    self._prune(now)
                bucket = _Bucket(key_burst, now, key_rate, key_burst)
                self._buckets[key_id] = bucket
            else:
                self._refill(bucket, now)
                if bucket.rate != key_rate:  # the key's rate changed
                    bucket.rate, bucket.burst = key_rate, key_burst
                    bucket.tokens = min(bucket.tokens, key_burst)
            needed = min(cost, bucket.burst)
            if bucket.tokens + bucket.rate * _SLACK_S >= needed:
                bucket.tokens -= cost
                return True, 0.0
            return False, (needed - bucket.tokens) / bucket.rate

    def remaining(self, key_id: str) -> float:
        """Tokens ``key_id`` has now (the burst if it has made no request)."""
        now = self._clock.now()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                return self.burst
            self._refill(bucket, now)
            return bucket.tokens

    def forget(self, key_id: str) -> None:
        """Drop ``key_id``'s bucket (a revoked key)."""
        with self._lock:
            self._buckets.pop(key_id, None)

    def __len__(self) -> int:
        return len(self._buckets)

    @staticmethod
    def _refill(bucket: _Bucket, now: float) -> None:
        elapsed = now - bucket.updated
        if elapsed > 0:  # a clock set back refills nothing and does not move `updated` back
            bucket.tokens = min(bucket.burst, bucket.tokens + elapsed * bucket.rate)
            bucket.updated = now

    def _prune(self, now: float) -> None:
        for bucket in self._buckets.values():
            self._refill(bucket, now)
        kept = {k: b for k, b in self._buckets.items() if b.tokens < b.burst}
        if len(kept) >= self._max_keys:
            by_age = sorted(kept.items(), key=lambda item: item[1].updated)
            kept = dict(by_age[len(by_age) - self._max_keys * 9 // 10 :])
        self._buckets = kept


def retry_after_header(seconds: float) -> str:
    """The ``Retry-After`` value for a refusal: whole seconds, rounded up, at least 1."""
    if not math.isfinite(seconds):
        return "60"
    return str(max(1, math.ceil(seconds)))
