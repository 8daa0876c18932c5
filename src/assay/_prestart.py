"""Starting the profile pass's worker — and the hashing of the input files on it — before
``assay audit`` has imported what it needs.

The worker needs a few tenths of a second to import what it runs, and the audit's own
imports take about half a second; started first, the worker boots meanwhile and then hashes
the input files (:func:`assay.sources.digests.prestart`), which the audit adopts if the files
have not changed. Only for data of :data:`PRESTART_BYTES` or more: below that the pass runs
without workers, or finishes too soon to gain.

:func:`from_argv` runs first, from ``assay``'s entry point before the command line is even
imported: for ``assay audit SPEC …`` it reads the spec as plain YAML (no validation) for the
dataset paths and the digests wanted, and does nothing if anything is unclear — the audit
then validates the spec and reports what is wrong. :func:`from_spec` does the same from a
validated spec (``assay audit`` calls it in any case; whatever already started is not
started twice).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.sources.digests import Algorithm
    from assay.spec.models import Spec

PRESTART_BYTES = 20_000_000
"""Data at least this large starts the profile pass's worker before the audit's imports."""


def from_argv(argv: list[str]) -> None:
    """For ``assay audit SPEC [options]`` with a local engine (see the module doc)."""
    if len(argv) < 3 or argv[1] != "audit" or argv[2].startswith("-"):
        return
    engine = next((v for k, v in itertools.pairwise(argv) if k == "--engine"), None)
    if engine not in (None, "local") or any(a.startswith("--engine=") for a in argv):
        return
    spec = Path(argv[2])
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        raw = yaml.load(spec.read_bytes(), Loader=loader)  # a safe loader
        files = _wanted(raw, spec.resolve().parent)
    except Exception:  # the audit reads the spec again and reports what is wrong
        return
    _start(files)


def _wanted(raw: Any, base: Path) -> dict[Path, tuple[Algorithm, ...]]:
    """Dataset file → digests wanted, from the spec's plain YAML (empty if unclear)."""
    from assay.sources.digests import ALGORITHMS, wanted_from

    fingerprint = raw.get("fingerprint", "blake3")
    if fingerprint not in ALGORITHMS:
        return {}
    files: dict[Path, tuple[Algorithm, ...]] = {}
    for ds in (raw.get("datasets") or {}).values():
        if isinstance(ds, dict) and isinstance(ds.get("path"), str):
            path = Path(ds["path"])
            files[path if path.is_absolute() else base / path] = wanted_from(
                fingerprint,
                sha256=ds.get("sha256") is not None,
                blake3=ds.get("blake3") is not None,
                lineage=bool(raw.get("lineage")),
            )
    return files


def from_spec(spec: Spec) -> bool:
    """The same from a validated spec; whether the data was large enough."""
    from assay.sources.digests import wanted_digests

    return _start(
        {
            spec.resolve(ds.path): wanted_digests(spec, ds)
            for ds in spec.datasets.values()
            if ds.path is not None
        }
    )


def _start(files: dict[Path, tuple[Algorithm, ...]]) -> bool:
    present = {path: wanted for path, wanted in files.items() if path.is_file()}
    if sum(path.stat().st_size for path in present) < PRESTART_BYTES:
        return False
    from assay.profiles.pool import prestart, prestarted_call
    from assay.sources import digests

    prestart(worker_count())
    for path, wanted in present.items():
        digests.prestart(path, wanted, prestarted_call)
    return True


def worker_count() -> int:
    """The local engine's worker processes (all its processes but this one)."""
    from assay.profiles.pool import local_processes

    return local_processes() - 1
