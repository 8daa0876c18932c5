"""Run a load test on worker processes and merge what they measured.

The parent process generates no load: it starts ``workers`` processes
(``python -m assay.loadtest._worker``), gives each its share of the schedule (every
``workers``-th send time), waits until all are connected, starts them together, relays
their progress and merges their histograms into one :class:`LoadResult`.
"""

from __future__ import annotations

import math
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay._http import network_problem
from assay.errors import AssayError
from assay.loadtest.client import CLIENTS
from assay.loadtest.engine import Job, highest_us
from assay.loadtest.result import (
    LoadResult,
    Objective,
    Percentiles,
    SaturationResult,
    Step,
    merge,
    merge_series,
)
from assay.loadtest.schedule import Schedule
from assay.loadtest.target import Target
from assay.profiles._frames import read_frame, write_frame

UNREACHABLE = "{url}: cannot connect to {host}:{port}: {problem}. Start the server, or fix the URL."
WORKER_FAILED = "a load-generator worker failed: {problem}"
BAD_COUNT = "{name} must be a whole number of at least 1. Got {value!r}."
BAD_TIMEOUT = "The timeout must be a number of seconds above 0. Got {value!r}."
BAD_CLIENT = "The client {value!r} is not one Assay has. Use raw or aiohttp."
START_DELAY = 0.05  # seconds between "go" and the first send: every worker hears it in time


@dataclass(frozen=True)
class Progress:
    """A snapshot for live display: counts so far, over all workers."""

    elapsed: float
    total: float
    warmup: float
    sent: int
    done: int
    failed: int
    p99_ms: float | None  # the slowest worker's p99 over the last whole second


ProgressCallback = Callable[[Progress], None]


def check_reachable(target: Target, timeout: float = 5.0) -> None:
    """Raise :class:`AssayError` unless a TCP connection to the target opens."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            pass
    except OSError as exc:
        raise AssayError(
            UNREACHABLE.format(
                url=target.url,
                host=target.host,
                port=target.port,
                problem=network_problem(exc, timeout),
            )
        ) from None


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if not isinstance(value, int) or value < 1:
            raise AssayError(BAD_COUNT.format(name=name, value=value))


def _check_options(timeout: float, client: str) -> None:
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise AssayError(BAD_TIMEOUT.format(value=timeout))
    if client not in CLIENTS:
        raise AssayError(BAD_CLIENT.format(value=client))


def run_load(
    target: Target,
    schedule: Schedule,
    *,
    workers: int = 1,
    connections: int = 64,
    timeout: float = 10.0,
    client: str = "raw",
    progress: ProgressCallback | None = None,
) -> LoadResult:
    """Open-loop load: ``schedule``'s requests, each timed from its intended send time.

    ``connections`` is the total across ``workers`` (each gets its share, at least one);
    a request that finds every connection of its worker busy waits for one, and the wait
    counts in its latency. ``timeout`` runs from the intended send time.

    >>> from assay.loadtest import Schedule, make_target, run_load  # doctest: +SKIP
    >>> result = run_load(make_target("http://127.0.0.1:8080/"), Schedule(rate=100, duration=10))
    >>> result.latency.p99
    """
    _check_counts(workers=workers, connections=connections)
    _check_options(timeout, client)
    times = schedule.times()
    per_worker = _split(connections, workers)
    jobs = [
        Job(
            mode="open",
            target=target,
            warmup=schedule.warmup,
            end=schedule.end,
            timeout=timeout,
            connections=per_worker[i],
            client=client,
            index=i,
            workers=workers,
            times=tuple(times[i::workers]),
        )
        for i in range(workers)
    ]
    parts = _run_workers(jobs, schedule.end, schedule.warmup, progress)
    return _result(
        parts,
        mode="open",
        target=target,
        client=client,
        offered_rate=schedule.rate,
        arrival=schedule.arrival,
        duration=schedule.duration,
        warmup=schedule.warmup,
        workers=workers,
        connections=connections,
        concurrency=None,
        timeout=timeout,
    )


def run_closed(
    target: Target,
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    rate: float | None = None,
    workers: int = 1,
    timeout: float = 10.0,
    client: str = "raw",
    progress: ProgressCallback | None = None,
) -> LoadResult:
    """Closed loop, as most load tools run: ``concurrency`` users send, wait, send again.

    With ``rate`` each user paces to its share of it, sending at once when it is late —
    the requests it could not send while waiting are never sent, and latency runs from the
    actual send. Kept to show what coordinated omission hides (docs/loadtest.md); judge a
    service with :func:`run_load`.
    """
    _check_counts(workers=workers, concurrency=concurrency)
    _check_options(timeout, client)
    if rate is not None:
        Schedule(rate=rate, duration=duration, warmup=warmup)  # validates rate and times
    else:
        Schedule(rate=1.0, duration=duration, warmup=warmup)
    workers = min(workers, concurrency)
    users = _split(concurrency, workers)
    jobs = [
        Job(
            mode="closed",
            target=target,
            warmup=warmup,
            end=warmup + duration,
            timeout=timeout,
            connections=users[i],
            client=client,
            index=i,
            workers=workers,
            concurrency=users[i],
            rate=rate * users[i] / concurrency if rate else None,
        )
        for i in range(workers)
    ]
    parts = _run_workers(jobs, warmup + duration, warmup, progress)
    return _result(
        parts,
        mode="closed",
        target=target,
        client=client,
        offered_rate=rate,
        arrival=None,
        duration=duration,
        warmup=warmup,
        workers=workers,
        connections=concurrency,
        concurrency=concurrency,
        timeout=timeout,
    )


def find_saturation(
    target: Target,
    rates: Sequence[float],
    objective: Objective,
    *,
    duration: float,
    warmup: float = 0.0,
    arrival: str = "constant",
    seed: int = 0,
    workers: int = 1,
    connections: int = 64,
    timeout: float = 10.0,
    client: str = "raw",
    progress: Callable[[float, Progress], None] | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> SaturationResult:
    """Open-loop steps at each of ``rates`` (rising) until one misses ``objective``.

    The saturation rate is the highest rate that met the objective before the first miss:
    the server's capacity under that objective, to the resolution of the steps.
    """
    if not rates:
        raise AssayError("A saturation search needs at least one rate. Use --step or --ramp.")
    schedules = [
        Schedule(rate=r, duration=duration, warmup=warmup, arrival=arrival, seed=seed)
        for r in rates
    ]
    steps: list[Step] = []
    best: float | None = None
    for schedule in sorted(schedules, key=lambda s: s.rate):
        rate = schedule.rate
        callback = (lambda p, r=rate: progress(r, p)) if progress else None
        result = run_load(
            target,
            schedule,
            workers=workers,
            connections=connections,
            timeout=timeout,
            client=client,
            progress=callback,
        )
        step = Step(rate, result, objective.misses(result))
        steps.append(step)
        if on_step:
            on_step(step)
        if not step.passed:
            break
        best = rate
    return SaturationResult(objective, tuple(steps), best)


def _split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` (each at least 1)."""
    base, extra = divmod(total, parts)
    return [max(1, base + (1 if i < extra else 0)) for i in range(parts)]


class _Worker:
    def __init__(self, job: Job) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "assay.loadtest._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.tick: dict[str, Any] = {}
        self.outcome: tuple[Any, ...] | None = None
        self.send(job)

    def send(self, message: object) -> None:
        assert self.process.stdin is not None
        write_frame(self.process.stdin, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def read(self) -> tuple[Any, ...] | None:
        assert self.process.stdout is not None
        frame = read_frame(self.process.stdout)
        return None if frame is None else pickle.loads(frame)

    def follow(self) -> None:
        """Read ticks until the final message (run in a thread)."""
        while (message := self.read()) is not None:
            if message[0] == "tick":
                self.tick = message[1]
            else:
                self.outcome = message
                return

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _run_workers(
    jobs: list[Job], end: float, warmup: float, progress: ProgressCallback | None
) -> list[dict[str, Any]]:
    workers = [_Worker(job) for job in jobs]
    try:
        for worker in workers:
            message = worker.read()
            if message is None or message[0] != "ready":
                problem = message[1] if message else "it stopped before it was ready"
                raise AssayError(WORKER_FAILED.format(problem=problem))
        start = time.time() + START_DELAY
        for worker in workers:
            worker.send(("go", start))
        threads = [threading.Thread(target=w.follow, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            for thread in threads:
                thread.join(timeout=0.25)
                if progress is not None:
                    progress(_snapshot(workers, time.time() - start, end, warmup))
        parts = []
        for worker in workers:
            if worker.outcome is None or worker.outcome[0] != "done":
                code = worker.process.wait()
                problem = worker.outcome[1] if worker.outcome else f"it stopped (exit code {code})"
                raise AssayError(WORKER_FAILED.format(problem=problem))
            parts.append(worker.outcome[1])
        return parts
    finally:
        for worker in workers:
            worker.stop()


def _snapshot(workers: list[_Worker], elapsed: float, end: float, warmup: float) -> Progress:
    ticks = [w.tick for w in workers]
    p99s = [t["p99_us"] for t in ticks if t.get("p99_us")]
    return Progress(
        elapsed=max(0.0, min(elapsed, end)),
        total=end,
        warmup=warmup,
        sent=sum(t.get("sent", 0) for t in ticks),
        done=sum(t.get("done", 0) for t in ticks),
        failed=sum(t.get("failed", 0) for t in ticks),
        p99_ms=max(p99s) / 1000.0 if p99s else None,
    )


def _result(
    parts: list[dict[str, Any]], *, target: Target, timeout: float, **meta: Any
) -> LoadResult:
    highest = highest_us(timeout)
    hist = merge((p["hist"] for p in parts), highest)
    lag = merge((p["lag"] for p in parts), highest)
    errors: dict[str, int] = {}
    for part in parts:
        for kind, n in part["errors"].items():
            errors[kind] = errors.get(kind, 0) + n
    ok = sum(p["ok"] for p in parts)
    last_done = max((p["last_done"] for p in parts), default=0.0)
    elapsed = max(meta["duration"], last_done - meta["warmup"])
    encoded = hist.encode()
    return LoadResult(
        url=target.url,
        method=target.method,
        timeout=timeout,
        requests=ok + sum(errors.values()),
        ok=ok,
        errors=dict(sorted(errors.items())),
        throughput=ok / elapsed if elapsed > 0 else 0.0,
        latency=Percentiles.of(hist),
        send_lag=Percentiles.of(lag),
        series=merge_series([p["seconds"] for p in parts], meta["warmup"], highest),
        histogram=encoded.decode("ascii") if isinstance(encoded, bytes) else encoded,
        cpu_seconds=sum(p["cpu"] for p in parts),
        **meta,
    )
