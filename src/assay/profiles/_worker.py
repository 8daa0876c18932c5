"""A worker process of the profile pass: reads tasks on stdin, writes results on stdout.

The local engine starts workers as ``python -m assay.profiles._worker`` rather than through
``multiprocessing``: a spawned multiprocessing child re-imports the parent's main module
(an unguarded user script would then crash or run twice), and a forked one would inherit
Arrow's thread pools. Frames are an 8-byte little-endian length and a pickle (see
:func:`serve` for the messages). The worker exits when its stdin closes.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import sys
from collections.abc import Iterator
from typing import IO

from assay.profiles._frames import read_frame, write_frame


class _NoPandasForArrow:
    """A meta-path finder that refuses ``import pandas`` while profile tasks run.

    pyarrow imports pandas the first time it converts anything to or from NumPy (its C++
    layer looks up pandas' missing-value sentinels, its Cython layer pandas' types), whether
    or not pandas objects are involved: ~0.37 s of CPU per process here, a sixth of a 1M-row
    pass worker's whole run. A profile task reads Arrow batches and computes with NumPy and
    Polars, so it never needs pandas: refused, pyarrow goes on without its pandas
    integration (it retries the import on its next pandas-specific call, so work sent to the
    worker afterwards — ``("call", …)`` messages — can still use pandas).
    """

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"{name} is not imported during a profile task", name=name)


def loaded(module: str) -> bool:
    """Whether ``module`` is imported in this process (a call for tests and diagnostics)."""
    return module in sys.modules


@contextlib.contextmanager
def _without_pandas() -> Iterator[None]:
    if "pandas" in sys.modules:  # already there: nothing to save
        yield
        return
    sys.meta_path.insert(0, _NoPandasForArrow)
    try:
        yield
    finally:
        sys.meta_path.remove(_NoPandasForArrow)


def serve(source: IO[bytes], sink: IO[bytes], *, eager: bool = True) -> None:
    """Answer messages until the input ends: ``("task", Task)`` and ``("call", fn, args)``
    reply with the result (or the exception raised); ``("warm", modules)`` imports them and
    ``("release",)`` hands freed Arrow memory back to the system, both without a reply.

    ``eager`` imports the profile pass before the first message (a pass worker boots while
    the audit gets ready); a helper, which may never run a task, imports it on demand.
    """
    import pyarrow

    if eager:
        with _without_pandas():
            import assay.profiles.engine  # noqa: F401

    while (frame := read_frame(source)) is not None:
        message = pickle.loads(frame)
        if message[0] == "warm":
            for module in message[1]:
                with contextlib.suppress(ImportError):  # the work that needs it says so
                    importlib.import_module(module)
            continue
        if message[0] == "release":
            # The pass is over and the worker stays up for the rest of the audit: what Arrow
            # freed would otherwise add to the audit's peak memory while the checks run.
            # (Between tasks the memory is kept: the next task reuses it.)
            pyarrow.default_memory_pool().release_unused()
            continue
        try:
            if message[0] == "task":
                from assay.profiles.engine import run_task

                with _without_pandas():
                    outcome: object = run_task(message[1])
            else:
                outcome = message[1](*message[2])
        except Exception as exc:  # the parent re-raises it
            outcome = exc
        try:
            write_frame(sink, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ValueError):  # the audit is gone (or dropped an early task)
            return
        del outcome


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer, eager="--helper" not in sys.argv[1:])
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()
    # Nothing is left to clean up: skipping the interpreter's teardown (freeing every module
    # and object one by one, ~0.3 s with scikit-learn loaded) lets the audit go on sooner.
    os._exit(0)
