"""The ``dask`` engine: the profile pass's tasks run on a Dask cluster and merge here.

Each task reads its own slice of a file, so the workers must see the files at the same paths
(one machine, or a shared file system); in-memory tables travel with the task. Without a
scheduler address a ``distributed.LocalCluster`` of two single-threaded worker processes is
started for the run and closed after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from assay.errors import InputError
from assay.profiles.engine import Executor, PassHooks, Task, TaskResult, run_task

CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler before giving up with exit 2."""

SCHEDULER_UNREACHABLE = (
    "Cannot reach the Dask scheduler at {address} within {timeout:g} s ({problem}). "
    "Check the address and that the scheduler runs, or leave out --scheduler to start a "
    "local cluster."
)


def dask_executor(
    scheduler: str | None = None, *, timeout: float | None = None, workers: int = 2
) -> Executor:
    """An executor that submits the pass's tasks to a Dask cluster and yields their results."""
    wait = CONNECT_TIMEOUT if timeout is None else timeout

    def execute(tasks: list[Task], hooks: PassHooks) -> Iterator[TaskResult]:
        from distributed import Client, LocalCluster

        with ExitStack() as stack:
            if scheduler is None:
                cluster = stack.enter_context(
                    LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=50,
                    )
                )
                client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
            else:
                client = stack.enter_context(_connect(Client, scheduler, wait))
            # Submitted at once: no result exists yet to prepare them with.
            futures = client.map(run_task, [hooks.prepare(t) for t in tasks], pure=False)
            results: list[TaskResult] = client.gather(futures)
        for result in results:
            yield hooks.fold(result)

    return execute


def _connect(client: Any, address: str, timeout: float) -> Any:
    try:
        return client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(
            SCHEDULER_UNREACHABLE.format(address=address, timeout=timeout, problem=problem)
        ) from None
