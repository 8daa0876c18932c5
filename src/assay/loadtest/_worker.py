"""A load-generator worker process: ``python -m assay.loadtest._worker``.

Started as a plain subprocess, not through ``multiprocessing``, for the reason
:mod:`assay.profiles._worker` gives (a spawned child re-imports the caller's main module).
Frames on stdin/stdout are an 8-byte length and a pickle:

* in: ``Job`` — the worker connects, then answers ``("ready",)``;
* in: ``("go", wall_start)`` — the common start time (``time.time()`` seconds);
* out: ``("tick", counts)`` every quarter second, then ``("done", result)`` or
  ``("error", message)``.
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import IO, Any

from assay.loadtest.engine import Job, run_job
from assay.profiles._frames import read_frame, write_frame


def _send(sink: IO[bytes], message: tuple[Any, ...]) -> None:
    write_frame(sink, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    frame = read_frame(source)
    if frame is None:
        return
    job: Job = pickle.loads(frame)

    def ready() -> float:
        _send(sink, ("ready",))
        go = read_frame(source)
        if go is None:
            raise SystemExit(0)  # the parent went away
        return float(pickle.loads(go)[1])

    def tick(counts: dict[str, Any]) -> None:
        _send(sink, ("tick", counts))

    try:
        result = run_job(job, ready, tick)
    except Exception as exc:
        _send(sink, ("error", f"{type(exc).__name__}: {exc}"))
        return
    _send(sink, ("done", result))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout.flush()
    os._exit(0)
