"""The ``assay`` executable: set up the process for commands that audit or profile data,
then run the command line.

For those commands the garbage collector pauses during start-up and the profile pass (see
:mod:`assay._gc`), and OpenBLAS runs single-threaded unless the environment says otherwise:
the audit already runs one process per core, and OpenBLAS's threads spin up at NumPy's import
(~0.05 s of CPU) for matrix products an audit barely makes.
"""

from __future__ import annotations

import os
import sys

DATA_COMMANDS = ("audit", "profile", "demo")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in DATA_COMMANDS:
        from assay import _gc, _prestart

        _gc.pause()
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        _prestart.from_argv(sys.argv)  # large data: the pass worker and the hashing start now
    from assay.cli import main as cli_main

    cli_main()
