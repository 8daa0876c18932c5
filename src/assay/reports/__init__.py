"""Render a stored run as HTML, JSON results, JUnit XML or Markdown.

Reports read what a run recorded and never recompute anything from data: counts are tallies of
the stored findings, and artefact contents (dataset manifests, JSON evidence) come from the
``load`` callable the evidence repository provides.

Example::

    from assay.reports import render, write_report

    text = render(run, "md", run_id=run_id, load=repo.load)
    write_report(run, "html", "report.html", run_id=run_id, load=repo.load)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

from assay._files import atomic_write
from assay.reports.html import render_html
from assay.reports.json_report import RESULTS_SCHEMA, render_json
from assay.reports.junit import render_junit
from assay.reports.markdown import render_markdown
from assay.run import Run

Format = Literal["html", "json", "junit", "md"]

FORMATS: tuple[Format, ...] = get_args(Format)
"""The formats :func:`render` knows, in the order the command line lists them."""

SUFFIXES: Mapping[Format, str] = {"html": ".html", "json": ".json", "junit": ".xml", "md": ".md"}
"""The usual file suffix of each format."""

UNKNOWN_FORMAT = "Unknown report format {fmt!r}. Use one of: {formats}."


def render(
    run: Run,
    fmt: Format,
    *,
    run_id: str,
    load: Callable[[str], bytes],
    approvals: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report of a stored run in format ``fmt``.

    ``run_id`` is the id the run is stored under. ``load(sha256_hex)`` returns the bytes of one
    of ``run.artefacts``. ``approvals`` are the run's recorded approvals, each a mapping with
    ``by``, ``at``, ``verdict`` and, when signed, ``public_key``.
    """
    if fmt == "html":
        return render_html(run, run_id=run_id, load=load, approvals=approvals)
    if fmt == "json":
        return render_json(run, run_id=run_id, approvals=approvals)
    if fmt == "junit":
        return render_junit(run, run_id=run_id)
    if fmt == "md":
        return render_markdown(run, run_id=run_id, approvals=approvals)
    raise ValueError(UNKNOWN_FORMAT.format(fmt=fmt, formats=", ".join(FORMATS)))


def write_report(
    run: Run,
    fmt: Format,
    path: str | os.PathLike[str],
    *,
    run_id: str,
    load: Callable[[str], bytes],
    approvals: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Render and write a report to ``path`` atomically; returns the path written.

    The text goes to a temporary file in the same folder, is flushed to disk and then renamed
    over ``path``: a reader sees the old report or the new one, never half of one.
    """
    text = render(run, fmt, run_id=run_id, load=load, approvals=approvals)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, text.encode("utf-8"))
    return target


__all__ = ["FORMATS", "RESULTS_SCHEMA", "SUFFIXES", "Format", "render", "write_report"]
