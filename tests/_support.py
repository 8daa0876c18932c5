"""Helpers shared by tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_spec(folder: Path, body: str) -> Path:
    """Write ``body`` (dedented) to ``folder/assay.yaml`` and return the path."""
    path = folder / "assay.yaml"
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path
