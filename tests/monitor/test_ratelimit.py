"""Per-key token buckets on a manual clock."""

from __future__ import annotations

import threading

import pytest

from assay.monitor.clock import ManualClock
from assay.monitor.ratelimit import RateLimiter, retry_after_header
from assay.spec.monitor import Limits


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


def test_burst_then_refusal_with_the_time_to_wait(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    assert [limiter.check("k") for _ in range(5)] == [(True, 0.0)] * 5
    allowed, retry = limiter.check("k")
    assert not allowed and retry == pytest.approx(0.1)
    clock.advance(0.05)
    allowed, retry = limiter.check("k")
    assert not allowed and retry == pytest.approx(0.05)
    clock.advance(0.05)
    assert limiter.check("k") == (True, 0.0)
    assert limiter.check("k")[0] is False


def test_the_long_run_rate_is_enforced(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=20, burst=10, clock=clock)
    allowed = 0
    for _ in range(1000):  # 100 requests per second for 10 seconds
        allowed += limiter.check("k")[0]
        clock.advance(0.01)
    assert allowed == pytest.approx(10 + 20 * 10, abs=2)


def test_keys_have_their_own_buckets(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=1, burst=2, clock=clock)
    assert limiter.check("a")[0] and limiter.check("a")[0]
    assert not limiter.check("a")[0]
    assert limiter.check("b") == (True, 0.0)
    assert limiter.remaining("b") == pytest.approx(1.0)
    assert limiter.remaining("never-seen") == 2.0


def test_a_keys_own_rate_keeps_the_default_burst_proportion(clock: ManualClock) -> None:
    limiter = RateLimiter.from_limits(Limits(), clock=clock)  # 200/s, burst 400: 2 s of traffic
    assert (limiter.rate, limiter.burst) == (200.0, 400.0)
    assert limiter.limits_for(50.0) == (50.0, 100.0)
    assert limiter.limits_for(0.1) == (0.1, 1.0)  # at least one request
    results = [limiter.check("slow", rate=50.0)[0] for _ in range(101)]
    assert results.count(True) == 100
    allowed, retry = limiter.check("slow", rate=50.0)
    assert not allowed and retry == pytest.approx(1 / 50)
    assert limiter.check("fast")[0]  # others keep the default


def test_changing_a_keys_rate_caps_its_tokens(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=10, burst=10, clock=clock)
    assert limiter.check("k")[0]  # 9 left
    assert limiter.check("k", rate=2)[0]  # burst now 2: capped to 2, then 1 left
    assert limiter.check("k", rate=2)[0]
    allowed, retry = limiter.check("k", rate=2)
    assert not allowed and retry == pytest.approx(0.5)


def test_costs_and_oversized_requests(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=10, burst=10, clock=clock)
    assert limiter.check("k", cost=4) == (True, 0.0)
    allowed, retry = limiter.check("k", cost=7)  # 6 left, 7 needed
    assert not allowed and retry == pytest.approx(0.1)
    assert limiter.check("k", cost=0) == (True, 0.0)
    clock.advance(1.0)  # full again
    assert limiter.check("k", cost=30) == (True, 0.0)  # more than the burst: allowed when full
    allowed, retry = limiter.check("k")
    assert not allowed and retry == pytest.approx(2.1)  # 20 tokens of debt, then one
    clock.advance(2.1)
    assert limiter.check("k")[0]
    with pytest.raises(ValueError, match="cost must be zero or positive"):
        limiter.check("k", cost=-1)


def test_a_clock_set_back_refills_nothing(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    assert limiter.check("k")[0]
    clock.advance(-100)
    assert not limiter.check("k")[0]
    clock.advance(100.5)
    assert not limiter.check("k")[0]  # still 0.5 s short: going back did not move the stamp
    clock.advance(0.5)
    assert limiter.check("k")[0]


def test_concurrent_checks_never_overspend(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=1, burst=500, clock=clock)
    allowed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        mine = sum(limiter.check("shared")[0] for _ in range(1000))
        with lock:
            allowed.append(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500  # the clock stood still: exactly the burst


def test_memory_is_bounded_by_dropping_refilled_buckets(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=clock, max_keys=10)
    for i in range(10):
        limiter.check(f"k{i}")
    clock.advance(5)  # all refilled: the same as having no bucket
    limiter.check("busy")
    assert len(limiter) == 1
    for i in range(20):
        limiter.check(f"x{i}")  # none refill in between: the oldest go
    assert len(limiter) <= 10
    assert not limiter.check("x19")[0]  # the newest are kept


def test_forget_and_validation(clock: ManualClock) -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    limiter.check("k")
    limiter.forget("k")
    assert limiter.check("k")[0]
    with pytest.raises(ValueError, match="rate must be a positive"):
        RateLimiter(rate=0, burst=1, clock=clock)
    with pytest.raises(ValueError, match="burst must be at least 1"):
        RateLimiter(rate=1, burst=0.5, clock=clock)
    with pytest.raises(ValueError, match="a key's rate must be positive"):
        limiter.check("k", rate=-3)


@pytest.mark.parametrize(
    ("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.5, "60"), (float("inf"), "60")]
)
def test_retry_after_header(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
