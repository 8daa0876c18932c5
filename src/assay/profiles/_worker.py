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
from typing import IO

from assay.profiles._frames import read_frame, write_frame


def serve(source: IO[bytes], sink: IO[bytes], *, eager: bool = True) -> None:
    """Answer messages until the input ends: ``("task", Task)`` and ``("call", fn, args)``
    reply with the result (or the exception raised); ``("warm", modules)`` imports them and
    ``("release",)`` hands freed Arrow memory back to the system, both without a reply.

    ``eager`` imports the profile pass before the first message (a pass worker boots while
    the audit gets ready); a helper, which may never run a task, imports it on demand.
    """
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
            continue
        try:
            if message[0] == "task":
                from assay.profiles.engine import run_task

                outcome: object = run_task(message[1])
            else:
                outcome = message[1](*message[2])
        except Exception as exc:  # the parent re-raises it
            outcome = exc
        write_frame(sink, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        del outcome


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer, eager="--helper" not in sys.argv[1:])
    sys.stdout.flush()
    # Nothing is left to clean up: skipping the interpreter's teardown (freeing every module
    # and object one by one, ~0.3 s with scikit-learn loaded) lets the audit go on sooner.
    os._exit(0)
