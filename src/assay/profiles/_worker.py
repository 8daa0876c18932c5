"""A worker process of the profile pass: reads tasks on stdin, writes results on stdout.

The local engine starts workers as ``python -m assay.profiles._worker`` rather than through
``multiprocessing``: a spawned multiprocessing child re-imports the parent's main module
(an unguarded user script would then crash or run twice), and a forked one would inherit
Arrow's thread pools. Frames are an 8-byte little-endian length and a pickle: a
:class:`~assay.profiles.engine.Task` in, a ``TaskResult`` (or the exception it raised) out.
The worker exits when its stdin closes.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import IO

_LENGTH = struct.Struct("<Q")


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload, or ``None`` at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def serve(source: IO[bytes], sink: IO[bytes]) -> None:
    from assay.profiles.engine import run_task

    while (frame := read_frame(source)) is not None:
        task = pickle.loads(frame)
        try:
            outcome: object = run_task(task)
        except Exception as exc:  # the parent re-raises it
            outcome = exc
        write_frame(sink, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
