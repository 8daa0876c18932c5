"""Worker processes for one audit: the profile pass first, then work handed off in the background.

The local engine runs the profile pass here and in ``workers − 1`` worker processes
(``python -m assay.profiles._worker``, fed pickled messages over pipes). A check can
:meth:`WorkerPool.submit` a function to run in another process — the domain classifier fits
there while the integrity checks run here.

When the planned checks need heavy modules (they declare them; scikit-learn would take
~0.8 s to import), the pool starts one more process, the *helper*, which imports them at once
and then takes the background calls. The pass workers start on the pass straight away: on two
cores the helper's import shares the CPU with the pass instead of holding a pass worker back.
Without a helper, background calls go to the pass workers once they are free.
"""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import suppress
from typing import Any, TypeVar

from assay.profiles._frames import read_frame, write_frame

T = TypeVar("T")

_PRESTARTED: list[Worker] = []
_PRESTARTED_HELPER: list[Worker] = []


WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1"}
"""Set for worker processes unless the caller's environment sets them: the processes already
share the cores, and OpenBLAS's own thread start costs ~0.05 s of CPU per process."""


def local_processes() -> int:
    """Processes the local engine runs the pass on: one per core, at most two (this one and
    one worker; more did not pay on the benchmark machine's two cores)."""
    return min(2, os.cpu_count() or 1)


def start_worker(*, helper: bool = False) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "assay.profiles._worker", *(["--helper"] if helper else [])]
    env = {**WORKER_ENV, **os.environ}
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


def prestart(count: int, *, warm: Sequence[str] = ()) -> None:
    """Start ``count`` worker processes now, so they boot while this process gets ready, and
    with ``warm`` modules a helper that starts importing them (see :class:`WorkerPool`).

    A worker needs a few tenths of a second to import what it runs; started before the
    caller's own imports, that time overlaps them. A :class:`WorkerPool` takes them over;
    unused ones exit with this process (their input closes).
    """
    while len(_PRESTARTED) < count:
        _PRESTARTED.append(Worker(start_worker()))
    if count and warm and not _PRESTARTED_HELPER:
        helper = Worker(start_worker(helper=True))
        helper.send(("warm", list(warm)))
        _PRESTARTED_HELPER.append(helper)


class Worker:
    """One worker process, serving one request at a time."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        """A message that has no reply (``warm``)."""
        assert self.process.stdin is not None
        write_frame(self.process.stdin, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def request(self, message: tuple[Any, ...]) -> Any:
        """Send ``message`` and return the reply; the worker's exception is raised here."""
        assert self.process.stdout is not None
        with self.lock:
            self.send(message)
            frame = read_frame(self.process.stdout)
        if frame is None:
            code = self.process.wait()
            raise RuntimeError(f"a profile worker process stopped unexpectedly (exit code {code})")
        outcome = pickle.loads(frame)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def call(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """``function(*args)`` run in this worker, answered on a thread of its own."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(self.request(("call", function, args)))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=run, daemon=True).start()
        return future

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self.process.wait()


def prestarted_call(function: Callable[..., T], *args: Any) -> Future[T] | None:
    """Run ``function(*args)`` on the prestarted pass worker, if there is one (``None``
    otherwise). The call goes first: the pool that takes the worker over sends its tasks
    after it. (The command line hashes the input files there while it imports the checks:
    see :func:`assay.sources.digests.prestart`.)"""
    return _PRESTARTED[0].call(function, *args) if _PRESTARTED else None


class WorkerPool:
    """This process and ``extra`` worker processes, for the length of one audit."""

    def __init__(self, extra: int, *, warm: Sequence[str] = ()) -> None:
        self.extra = max(0, extra)
        self.warm = list(dict.fromkeys(warm))
        self._workers: list[Worker] = []
        self._helper: Worker | None = None
        self._next = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in [*self._workers, *([self._helper] if self._helper else [])]:
            worker.close()
        self._workers.clear()
        self._helper = None

    def _ensure_workers(self) -> list[Worker]:
        if self.extra and self.warm and self._helper is None:
            # A prestarted helper may have warmed other modules: importing again is free.
            self._helper = (
                _PRESTARTED_HELPER.pop()
                if _PRESTARTED_HELPER
                else Worker(start_worker(helper=True))
            )
            self._helper.send(("warm", self.warm))
        while len(self._workers) < self.extra:
            self._workers.append(_PRESTARTED.pop() if _PRESTARTED else Worker(start_worker()))
        return self._workers

    # The profile pass -------------------------------------------------------------------

    def run(
        self,
        tasks: list[Any],
        run_here: Callable[[Any], T],
        fold: Callable[[T], T],
        *,
        prepare: Callable[[Any], Any] = lambda task: task,
    ) -> Iterator[T]:
        """Run every task (here and on the workers) and yield the results in task order.

        ``prepare`` is applied to each task just before it starts, ``fold`` to each result the
        moment it arrives.
        """
        order = sorted(range(len(tasks)), key=lambda i: -tasks[i].rows * len(tasks[i].columns))
        pending: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in order:
            pending.put(i)
        results: dict[int, Any] = {}
        failures: list[BaseException] = []
        feeders = [
            threading.Thread(
                target=self._feed,
                args=(worker, tasks, fold, prepare, pending, results, failures),
                daemon=True,
            )
            for worker in self._ensure_workers()
        ]
        for feeder in feeders:
            feeder.start()
        while not failures:
            try:
                i = pending.get_nowait()
            except queue.Empty:
                break
            results[i] = fold(run_here(prepare(tasks[i])))
        for feeder in feeders:
            feeder.join()
        for worker in self._workers:
            with suppress(OSError):  # a worker that died is reported below
                worker.send(("release",))
        if failures:
            raise failures[0]
        for i in range(len(tasks)):
            yield results[i]

    def _feed(
        self,
        worker: Worker,
        tasks: list[Any],
        fold: Callable[[Any], Any],
        prepare: Callable[[Any], Any],
        pending: queue.SimpleQueue[int],
        results: dict[int, Any],
        failures: list[BaseException],
    ) -> None:
        try:
            while not failures:
                try:
                    i = pending.get_nowait()
                except queue.Empty:
                    break
                results[i] = fold(worker.request(("task", prepare(tasks[i]))))
        except BaseException as exc:
            failures.append(exc)

    # Background work ----------------------------------------------------------------------

    def submit(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function(*args)`` on the helper (or the workers, round robin); without
        workers, here, now.

        ``function`` must be importable by name (it is pickled by reference).
        """
        future: Future[T] = Future()
        workers = self._ensure_workers()
        if self._helper is not None:
            workers = [self._helper]
        if not workers:
            try:
                future.set_result(function(*args))
            except Exception as exc:
                future.set_exception(exc)
            return future
        worker = workers[self._next % len(workers)]
        self._next += 1
        return worker.call(function, *args)
