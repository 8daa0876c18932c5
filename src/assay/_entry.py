"""The ``assay`` executable: pause the garbage collector for commands that audit or profile
data (see :mod:`assay._gc`), then run the command line."""

from __future__ import annotations

import sys

DATA_COMMANDS = ("audit", "profile", "demo")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in DATA_COMMANDS:
        from assay import _gc

        _gc.pause()
    from assay.cli import main as cli_main

    cli_main()
