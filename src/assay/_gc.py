"""Pausing Python's cyclic garbage collector while a command starts up and runs its pass.

An audit imports some 1,300 modules and builds a few hundred thousand objects that live as
long as the process; every full collection walks all of them (30–50 ms each here, two or
three per audit in the main process and one in each worker). Start-up and the profile pass
make almost no cyclic garbage (4,000 objects in a whole 1M-row audit, the same at 5M), so
the command line pauses the collector while they run. :func:`resume` then freezes what
exists — later collections skip it — and switches the collector back on, so checks that make
cyclic garbage per request (load tests) are collected as usual. Code that calls the library
directly never pauses it.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Switch the collector off, if it is on, until :func:`resume`."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Undo :func:`pause`: freeze the objects that exist and switch the collector on."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
