"""A per-user cache of the report templates' compiled code.

Jinja2 compiles a template to Python source and then to bytecode on every first use in a
process: ~0.15 s for the report's templates here, a tenth of a whole 1M-row audit. Jinja2's
own :class:`~jinja2.FileSystemBytecodeCache` keeps the compiled code between processes; each
entry carries a checksum of the template's source and the Python version, so an upgraded
Assay or interpreter recompiles instead of reusing stale code.

The folder is ``$ASSAY_CACHE_DIR/templates`` when that variable is set, else
``$XDG_CACHE_HOME/assay/templates`` (``~/.cache/assay/templates``), created private to the
user (mode 0700). A folder that cannot be created, read or written only costs the compile
time: the report is never refused for it.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

from jinja2 import FileSystemBytecodeCache
from jinja2.bccache import Bucket

__all__ = ["cache_folder", "template_cache"]


class _QuietCache(FileSystemBytecodeCache):
    """Jinja2's file cache, with failures to read or write an entry ignored."""

    def load_bytecode(self, bucket: Bucket) -> None:
        with suppress(OSError, EOFError, ValueError, TypeError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with suppress(OSError):
            super().dump_bytecode(bucket)


def cache_folder() -> Path:
    """Where compiled templates are kept (see the module's docstring)."""
    explicit = os.environ.get("ASSAY_CACHE_DIR")
    if explicit:
        return Path(explicit) / "templates"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path("~/.cache").expanduser()
    return base / "assay" / "templates"


def template_cache() -> FileSystemBytecodeCache | None:
    """The cache for a Jinja2 ``Environment``, or ``None`` when its folder is unusable."""
    folder = cache_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        return None
    return _QuietCache(str(folder))
