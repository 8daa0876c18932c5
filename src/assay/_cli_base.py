"""What every ``assay`` command shares: the Typer app, common options, error handling,
and printing and writing a run. The commands live in :mod:`assay.cli` and
:mod:`assay._cli_evidence`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.text import Text

from assay import _console
from assay._files import atomic_write
from assay._version import __version__
from assay.checks._registry import Severity
from assay.errors import REPORT_NOT_WRITABLE, AssayError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="assay",
    help="Audit an AI system before launch, and watch it after launch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
runs_app = typer.Typer(help="List, show and compare stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

DEFAULT_REPO = ".assay"
DEFAULT_KEY = Path("~/.config/assay/signing.key")
FORMATS = ("html", "json", "junit", "md")

RepoOption = Annotated[
    Path,
    typer.Option(
        "--repo", envvar="ASSAY_REPO", help="Evidence repository folder (default .assay)."
    ),
]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the profile pass runs: local (this machine, both cores) or dask.",
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="Dask scheduler address (tcp://HOST:PORT); none starts a local cluster."
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and the verdict.")
]


def _guarded(command: F) -> F:
    """Turn Assay's errors into one message on stderr and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AssayError as exc:
            _console.err.print(Text.assemble(("error:", "bold red"), f" {exc}"))
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"assay {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Audit an AI system before launch, and watch it after launch."""


def _severity(value: str | None) -> str | None:
    if value is not None and value not in {s.value for s in Severity}:
        names = ", ".join(s.value for s in Severity)
        raise typer.BadParameter(f"{value!r} is not a severity. Use one of {names}.")
    return value


def _render(result: Any, fmt: str) -> str:
    from assay.reports import render

    approvals = (
        [a.to_json() for a in result.repository.approvals(result.run_id)]
        if result.repository
        else []
    )
    return render(result.run, fmt, run_id=result.run_id, load=result.load, approvals=approvals)  # type: ignore[arg-type]


def _write_reports(result: Any, paths: dict[str, Path], quiet: bool) -> None:
    for fmt, path in paths.items():
        _write_text(path, _render(result, fmt))
        if not quiet:
            _console.out.print(f"wrote {fmt:5} report {path}")


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise AssayError(REPORT_NOT_WRITABLE.format(path=path, problem=problem)) from None


def _print_run(run: Any, run_id: str, *, quiet: bool, show_all: bool = False) -> None:
    if not quiet:
        _console.out.print(_console.summary_table(run))
        _console.out.print(_console.findings_table(run.findings, everything=show_all))
    _console.out.print(_console.verdict_line(run, run_id))


def _open_repo(repo: Path) -> Any:
    from assay.evidence import Repository

    return Repository.open(repo, create=False)
