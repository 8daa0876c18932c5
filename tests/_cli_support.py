"""Helpers shared by the command-line tests: invoke the app, snapshot folders, read errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from assay import _console
from assay.cli import app

ENV = {"COLUMNS": "200"}
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "results-schema.json"


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run ``assay ARGS`` in-process; stdout and stderr are captured apart.

    The consoles fix their width when assay._console is imported (from COLUMNS, else 160
    when not on a terminal), so COLUMNS in ``env`` alone would not reach them: they are set
    to 200 columns for the call and restored after.
    """
    consoles = (_console.out, _console.err)
    saved = [console._width for console in consoles]
    for console in consoles:
        console.width = int(ENV["COLUMNS"])
    try:
        return CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})
    finally:
        for console, width in zip(consoles, saved, strict=True):
            console._width = width


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space (Rich wraps long lines)."""
    return " ".join(text.split())


def error_of(result: Result) -> str:
    """The single message of a command that refused bad input: exit 2, one line on stderr."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    assert result.stdout == ""
    text = flat(result.stderr)
    assert text.startswith("error: "), result.stderr
    assert text.count("error:") == 1, result.stderr
    return text.removeprefix("error: ")


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file (with its bytes) and folder under ``folder``; ``None`` if it does not exist."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)) + ("/" if p.is_dir() else ""): (
            b"" if p.is_dir() else p.read_bytes()
        )
        for p in sorted(folder.rglob("*"))
    }


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the first line of ``text`` that contains ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} is not in the text")


def add_to_spec(spec: Path, body: str) -> str:
    """Append the dedented YAML ``body`` to ``spec``; returns the new text."""
    text = spec.read_text(encoding="utf-8") + textwrap.dedent(body).lstrip()
    spec.write_text(text, encoding="utf-8")
    return text


def results_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded
