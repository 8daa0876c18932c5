"""What one worker process runs: its share of the load, recorded in HDR histograms.

Open loop: request *i* is due at ``start + times[i]``; it is sent then whether or not
earlier ones have been answered (waiting for a free connection if all ``connections`` are
busy), and its latency runs from that intended time to the end of the response — time
spent queued behind a stalled server counts, which is what keeps the measurement free of
coordinated omission. Closed loop: ``concurrency`` virtual users each send, wait for the
answer, then send again (paced to ``rate`` if given, sending at once when late), and the
latency runs from the actual send, as closed-loop tools measure it.

The event loop uses ``select()`` rather than ``epoll``: ``epoll_wait`` rounds its timeout
up to whole milliseconds, so every send would be up to 1 ms late, and that lateness would
count in the open-loop latency. With ``select()`` the sends land within ~0.1 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import selectors
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from assay.loadtest.client import RawPool, make_pool
from assay.loadtest.target import Target

SIGNIFICANT = 3  # digits of the run's histograms: values within 0.1 %
SECOND_SIGNIFICANT = 2  # the per-second histograms: within 1 %, a tenth of the memory
TICK = 0.25  # seconds between progress reports


@dataclass(frozen=True)
class Job:
    """One worker's share of a test (pickled to the worker)."""

    mode: str  # "open" or "closed"
    target: Target
    warmup: float
    end: float
    timeout: float
    connections: int
    client: str = "raw"
    index: int = 0  # this worker's number: request i carries body index + i × workers
    workers: int = 1
    times: tuple[float, ...] = ()  # open loop: this worker's intended send times
    concurrency: int = 0  # closed loop: virtual users
    rate: float | None = None  # closed loop: this worker's pacing, requests/s


def highest_us(timeout: float) -> int:
    """The largest latency the histograms track, in microseconds."""
    return int((timeout + 1.0) * 2e6)


@dataclass
class _Second:
    hist: HdrHistogram
    offered: int = 0
    ok: int = 0
    errors: int = 0
    completed: int = 0


@dataclass
class Recorder:
    """Latencies (µs) of the measured window, send lag, errors by kind and per-second series."""

    warmup: float
    highest: int
    hist: HdrHistogram = field(init=False)
    lag: HdrHistogram = field(init=False)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: dict[int, _Second] = field(default_factory=dict)
    ok: int = 0
    sent: int = 0
    done: int = 0
    failed: int = 0
    last_done: float = 0.0

    def __post_init__(self) -> None:
        self.hist = HdrHistogram(1, self.highest, SIGNIFICANT)
        self.lag = HdrHistogram(1, self.highest, SIGNIFICANT)

    def _second(self, t: float) -> _Second:
        s = int(t)
        second = self.seconds.get(s)
        if second is None:
            second = self.seconds[s] = _Second(HdrHistogram(1, self.highest, SECOND_SIGNIFICANT))
        return second

    def record(self, due: float, done: float, latency: float, kind: str | None, lag: float) -> None:
        """One finished request: due and done in seconds from the start, latency in seconds."""
        self.done += 1
        self._second(done).completed += 1
        second = self._second(due)
        micros = min(max(1, round(latency * 1e6)), self.highest)
        measured = due >= self.warmup
        if kind is None:
            second.ok += 1
            second.hist.record_value(micros)
        else:
            second.errors += 1
            self.failed += 1
        if not measured:
            return
        self.last_done = max(self.last_done, done)
        if kind is None:
            self.ok += 1
            self.hist.record_value(micros)
        else:
            self.errors[kind] += 1
        if lag >= 0:
            self.lag.record_value(min(max(1, round(lag * 1e6)), self.highest))

    def offer(self, due: float) -> None:
        self.sent += 1
        self._second(due).offered += 1

    def tick(self, now: float) -> dict[str, Any]:
        last = self.seconds.get(int(now) - 1)
        p99 = last.hist.get_value_at_percentile(99.0) if last and last.hist.total_count else None
        return {"sent": self.sent, "done": self.done, "failed": self.failed, "p99_us": p99}

    def result(self, cpu: float) -> dict[str, Any]:
        return {
            "hist": self.hist.encode(),
            "lag": self.lag.encode(),
            "errors": dict(self.errors),
            "ok": self.ok,
            "last_done": self.last_done,
            "cpu": cpu,
            "seconds": {
                s: {
                    "offered": v.offered,
                    "ok": v.ok,
                    "errors": v.errors,
                    "completed": v.completed,
                    "hist": v.hist.encode() if v.hist.total_count else None,
                }
                for s, v in sorted(self.seconds.items())
            },
        }


def error_kind(exc: BaseException) -> str:
    """``timeout`` or ``connection`` (refused, reset, closed, not HTTP)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connection"


class _OpenLoop:
    """Fires request *i* from a timer at its due time.

    With the lean client and an idle connection the request is written from the timer
    callback itself and finished by a callback on its response — no task, no extra turn of
    the event loop between the due time and the write. Otherwise (every connection busy,
    or aiohttp) a task waits for a connection; the wait counts in the latency.
    """

    def __init__(self, job: Job, rec: Recorder, pool: Any, start: float) -> None:
        self.job, self.rec, self.pool, self.start = job, rec, pool, start
        self.loop = asyncio.get_running_loop()
        self.finished: asyncio.Future[None] = self.loop.create_future()
        self.outstanding = 0
        self.all_fired = False
        self.fast = isinstance(pool, RawPool)
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        if not self.job.times:
            return
        self.loop.call_at(self.start + self.job.times[0], self.fire, 0)
        await self.finished

    def fire(self, i: int) -> None:
        try:
            self._fire(i)
        except BaseException as exc:  # a bug here must not hang the worker
            if not self.finished.done():
                self.finished.set_exception(exc)
            raise

    def _fire(self, i: int) -> None:
        job, loop = self.job, self.loop
        due = self.start + job.times[i]
        self.rec.offer(job.times[i])
        self.outstanding += 1
        index = job.index + i * job.workers
        conn = self.pool.take_idle() if self.fast else None
        if conn is not None:
            sent = loop.time()
            response = self.pool.send(conn, index)
            timer = loop.call_at(due + job.timeout, _expire, conn, response)
            response.add_done_callback(functools.partial(self._answered, conn, i, sent, timer))
        else:
            task = loop.create_task(self._one(index, i))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        if i + 1 < len(job.times):
            loop.call_at(self.start + job.times[i + 1], self.fire, i + 1)
        else:
            self.all_fired = True
            self._check_finished()

    def _answered(
        self,
        conn: Any,
        i: int,
        sent: float,
        timer: asyncio.TimerHandle,
        response: asyncio.Future[int],
    ) -> None:
        timer.cancel()
        exc = response.exception()
        if exc is None:
            status = response.result()
            kind = None if status < 400 else f"status {status}"
        else:
            kind = error_kind(exc)
            conn.abort()
        self.pool.release(conn)
        self._record(i, kind, sent)

    async def _one(self, index: int, i: int) -> None:
        kind: str | None = None
        sent = -1.0
        try:
            async with asyncio.timeout_at(self.start + self.job.times[i] + self.job.timeout):
                status, sent = await self.pool.request(index)
            if status >= 400:
                kind = f"status {status}"
        except Exception as exc:
            kind = error_kind(exc)
        self._record(i, kind, sent)

    def _record(self, i: int, kind: str | None, sent: float) -> None:
        # The schedule's own offset decides warm-up or not: due - start may differ in the
        # last bit, and a request due exactly at the end of the warm-up is measured.
        offset = self.job.times[i]
        due = self.start + offset
        done = self.loop.time()
        lag = sent - due if sent > 0 else -1.0
        self.rec.record(offset, done - self.start, done - due, kind, lag)
        self.outstanding -= 1
        self._check_finished()

    def _check_finished(self) -> None:
        if self.all_fired and not self.outstanding and not self.finished.done():
            self.finished.set_result(None)


def _expire(conn: Any, response: asyncio.Future[int]) -> None:
    if not response.done():
        response.set_exception(TimeoutError())
        conn.abort()


async def _closed_loop(job: Job, rec: Recorder, pool: Any, start: float) -> None:
    loop = asyncio.get_running_loop()
    users = max(1, job.concurrency)

    async def user(j: int) -> None:
        k = 0
        while True:
            if job.rate:
                slot = start + (j + k * users) / job.rate
                if slot - start >= job.end:
                    return
                if slot > loop.time():
                    await asyncio.sleep(slot - loop.time())
            began = loop.time()
            if began - start >= job.end:
                return
            rec.offer(began - start)
            kind: str | None = None
            try:
                async with asyncio.timeout(job.timeout):
                    status, _ = await pool.request(job.index + (j + k * users) * job.workers)
                if status >= 400:
                    kind = f"status {status}"
            except Exception as exc:
                kind = error_kind(exc)
            done = loop.time()
            rec.record(began - start, done - start, done - began, kind, 0.0)
            k += 1

    await asyncio.gather(*(user(j) for j in range(users)))


async def _run(
    job: Job, ready: Callable[[], float], tick: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    rec = Recorder(job.warmup, highest_us(job.timeout))
    pool = make_pool(job.client, job.target, max(1, job.connections))
    with contextlib.suppress(OSError):  # the requests will report it
        await pool.warm(min(job.connections, 4))
    wall_start = ready()
    start = loop.time() + (wall_start - time.time())
    cpu = time.process_time()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(TICK)
            tick(rec.tick(loop.time() - start))

    ticking = loop.create_task(ticker())
    delay = start - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)
    try:
        if job.mode == "open":
            await _OpenLoop(job, rec, pool, start).run()
        else:
            await _closed_loop(job, rec, pool, start)
    finally:
        ticking.cancel()
        await pool.close()
    tick(rec.tick(loop.time() - start))
    return rec.result(time.process_time() - cpu)


def run_job(
    job: Job, ready: Callable[[], float], tick: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Run ``job``: ``ready()`` is called once connected and returns the wall-clock start
    time; ``tick`` gets progress counts every :data:`TICK` seconds."""
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        return loop.run_until_complete(_run(job, ready, tick))
    finally:
        loop.close()
