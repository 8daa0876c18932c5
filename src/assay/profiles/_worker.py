"""A worker process of the profile pass: reads tasks on stdin, writes results on stdout.

The local engine starts workers as ``python -m assay.profiles._worker`` rather than through
``multiprocessing``: a spawned multiprocessing child re-imports the parent's main module
(an unguarded user script would then crash or run twice), and a forked one would inherit
Arrow's thread pools. Frames are an 8-byte little-endian length and a pickle (see
:func:`serve` for the messages). The worker exits when its stdin closes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import sys
from typing import IO

from assay.profiles._frames import read_frame, write_frame

NO_PANDAS = (
    "{name} is not available in Assay's worker processes: pyarrow would import pandas on its "
    "first NumPy conversion (~0.1–0.3 s of CPU per process) though profile tasks and the "
    "background work sent to workers never need it. Run work that needs pandas in the audit's "
    "own process."
)


class _NoPandas:
    """A meta-path finder that refuses ``import pandas`` in a worker process.

    pyarrow imports pandas the first time it converts anything to or from NumPy (its C++
    layer looks up pandas' missing-value sentinels, its Cython layer pandas' types), whether
    or not pandas objects are involved: 0.1–0.3 s of CPU per process here, against a 1M-row
    pass worker's ~1.5 s. Nothing a worker runs needs pandas (profile tasks read Arrow
    batches and compute with NumPy and Polars; the domain classifier uses NumPy), so it is
    refused for the worker's life and pyarrow goes on without its pandas integration.
    """

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(NO_PANDAS.format(name=name), name=name)


def loaded(module: str) -> bool:
    """Whether ``module`` is imported in this process (a call for tests and diagnostics)."""
    return module in sys.modules


def serve(source: IO[bytes], sink: IO[bytes], *, eager: bool = True) -> None:
    """Answer messages until the input ends: ``("task", Task)`` and ``("call", fn, args)``
    reply with the result (or the exception raised); ``("warm", modules)`` imports them and
    ``("release",)`` hands freed Arrow memory back to the system, both without a reply.

    ``eager`` imports the profile pass before the first message (a pass worker boots while
    the audit gets ready); a helper, which may never run a task, imports it on demand.
    """
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas)
    import pyarrow

    if eager:
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
            from assay.profiles.shared import forget_mappings

            forget_mappings()  # the pass's shared row hashes (the audit keeps its own map)
            continue
        try:
            if message[0] == "task":
                from assay.profiles.engine import run_task

                outcome: object = run_task(message[1])
            else:
                outcome = message[1](*message[2])
        except Exception as exc:  # the parent re-raises it
            outcome = exc
        try:
            write_frame(sink, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        except (BrokenPipeError, ValueError):  # the audit is gone (ended or interrupted)
            return
        del outcome


if __name__ == "__main__":
    # A worker lives for one audit and makes almost no cyclic garbage: no collector pauses
    # (one full collection during its imports cost ~50 ms). See assay._gc.
    gc.disable()
    serve(sys.stdin.buffer, sys.stdout.buffer, eager="--helper" not in sys.argv[1:])
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stdout.flush()
    # Nothing is left to clean up: skipping the interpreter's teardown (freeing every module
    # and object one by one, ~0.3 s with scikit-learn loaded) lets the audit go on sooner.
    os._exit(0)
