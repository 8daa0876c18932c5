"""The ``assay`` command line: parse, call the library, print, exit.

Exit codes: 0 launch-ready (or the command succeeded), 1 the gate failed (or verification
failed), 2 bad input or usage. Errors print one message to stderr, never a traceback.
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from assay import _console
from assay._cli_base import (
    DEFAULT_REPO,
    FORMATS,
    EngineOption,
    QuietOption,
    RepoOption,
    SchedulerOption,
    _guarded,
    _print_run,
    _render,
    _severity,
    _write_reports,
    app,
)
from assay.errors import SPEC_EXISTS, AssayError, SpecError

# audit ------------------------------------------------------------------------------------


@app.command()
@_guarded
def audit(
    spec: Annotated[Path, typer.Argument(help="The spec file.")] = Path("assay.yaml"),
    repo: RepoOption = Path(DEFAULT_REPO),
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            callback=_severity,
            help="Fail the gate on a failed finding at or above this severity: "
            "blocker, major, minor or info.",
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline", help="Compare with a stored run: 'approved', 'latest', a number or an id."
        ),
    ] = None,
    html: Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")] = None,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write JSON results here ('-' for stdout).")
    ] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    md: Annotated[Path | None, typer.Option("--md", help="Write a Markdown summary here.")] = None,
    quiet: QuietOption = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List passing and skipped findings too.")
    ] = False,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Audit SPEC and store the run; exit 0 if launch-ready, 1 if the gate failed."""
    _prestart_for(spec, engine)
    from assay.api import execute

    machine = json_out == "-"
    with _console.progress_bar(not quiet and not machine) as progress:
        result = execute(
            spec,
            repo=repo,
            fail_on=fail_on,
            baseline=baseline,
            progress=progress,
            engine=engine,
            scheduler=scheduler,
        )
    outputs = {"html": html, "json": None if machine else json_out, "junit": junit, "md": md}
    _write_reports(
        result, {fmt: Path(p) for fmt, p in outputs.items() if p is not None}, quiet or machine
    )
    if machine:
        sys.stdout.write(_render(result, "json"))
    else:
        _print_run(result.run, result.run_id, quiet=quiet, show_all=show_all)
    raise typer.Exit(0 if result.run.verdict.passed else 1)


def _prestart_for(spec: Path, engine: str) -> None:
    """Boot the local engine's worker early, and hash the inputs on it, when the data is large
    enough to use it (see :mod:`assay._prestart`; ``assay``'s entry point may have done so
    already), and the helper that imports what the planned checks need."""
    if engine != "local":
        return
    try:
        from assay.spec import load_spec

        parsed = load_spec(spec)
    except AssayError:
        return  # the audit reports it, with the full message
    from assay import _prestart

    if not _prestart.from_spec(parsed):
        return
    from assay.profiles.pool import prestart
    from assay.runner import plan

    try:
        warm = [module for p in plan(parsed) if p.skip is None for module in p.info.imports]
    except AssayError:
        return
    prestart(_prestart.worker_count(), warm=warm)


# init -------------------------------------------------------------------------------------


@app.command()
@_guarded
def init(
    data: Annotated[
        Path, typer.Option("--data", help="A Parquet, CSV or Arrow file of training data.")
    ],
    target: Annotated[str | None, typer.Option("--target", help="The label column.")] = None,
    sensitive: Annotated[
        str | None, typer.Option("--sensitive", help="Protected attributes, comma-separated.")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the spec.")] = Path(
        "assay.yaml"
    ),
    name: Annotated[str | None, typer.Option("--name", help="The system's name.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing spec.")] = False,
) -> None:
    """Write a commented starter assay.yaml with a schema pinned from DATA."""
    from assay.spec.init import starter_spec, write_starter_spec

    if output.exists() and not force:
        raise SpecError(SPEC_EXISTS.format(path=output))
    columns = [c.strip() for c in sensitive.split(",") if c.strip()] if sensitive else []
    text = starter_spec(data, target=target, sensitive=columns, output=output, name=name)
    write_starter_spec(text, output, force=force)
    _console.out.print(f"wrote {output}: review the pinned schema, then run `assay audit {output}`")


# profile ----------------------------------------------------------------------------------


@app.command("profile")
@_guarded
def profile_command(
    data: Annotated[Path, typer.Argument(help="A Parquet, CSV or Arrow IPC file.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Profile file to write (default DATA.assayprofile)."),
    ] = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
    quiet: QuietOption = False,
) -> None:
    """Profile DATA in one streaming pass and write a versioned .assayprofile file."""
    from assay.api import profile

    result = profile(data, engine=engine, scheduler=scheduler)
    target = output or Path(data.name).with_suffix(".assayprofile")
    try:
        result.save(target)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise AssayError(
            f"{target}: cannot write the profile ({problem}). Choose another -o."
        ) from None
    if not quiet:
        _console.out.print(_console.profile_table(result))
    _console.out.print(f"wrote {target} ({result.rows:,} rows, {len(result.columns)} columns)")


# digest -----------------------------------------------------------------------------------


@app.command("digest")
@_guarded
def digest_command(
    files: Annotated[list[Path], typer.Argument(help="Files to fingerprint.")],
    algorithm: Annotated[
        str, typer.Option("--algorithm", "-a", help="blake3 (the default) or sha256.")
    ] = "blake3",
) -> None:
    """Print each file's digest as a run records it (`HEX  FILE`, as b3sum and sha256sum do)."""
    from assay.sources.digests import ALGORITHMS, file_digest

    if algorithm not in ALGORITHMS:
        raise AssayError(
            f"--algorithm {algorithm}: unknown digest. Use one of: {', '.join(ALGORITHMS)}."
        )
    for path in files:
        if not path.is_file():
            raise AssayError(f"{path}: no such file. Name a file to fingerprint.")
        try:
            digest = file_digest(path, "sha256" if algorithm == "sha256" else "blake3")
        except OSError as exc:
            raise AssayError(
                f"{path}: cannot read it ({exc.strerror or exc}). Check its permissions."
            ) from None
        _console.out.print(f"{digest}  {path}", highlight=False, soft_wrap=True)


# demo -------------------------------------------------------------------------------------


@app.command()
@_guarded
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write the demo's data and reports.")
    ] = Path("demo"),
    repo: RepoOption = Path(DEFAULT_REPO),
    quiet: QuietOption = False,
) -> None:
    """Audit a model trained on real public data (scikit-lego's Arrests table), end to end."""
    from assay.api import execute
    from assay.demo import prepare

    if not quiet:
        _console.out.print(
            f"preparing the demo in {directory}/ (data, model scores, documents, assay.yaml)"
        )
    spec_path = prepare(directory)
    with _console.progress_bar(not quiet) as progress:
        result = execute(spec_path, repo=repo, progress=progress)
    reports = directory / "reports"
    paths = {
        fmt: reports / f"report.{ext}"
        for fmt, ext in zip(FORMATS, ("html", "json", "xml", "md"), strict=True)
    }
    _write_reports(result, paths, quiet)
    _print_run(result.run, result.run_id, quiet=quiet)
    if not quiet:
        where = "" if repo == Path(DEFAULT_REPO) else f" --repo {repo}"
        _console.out.print(
            f"stored in {repo}/ — next: `assay runs list{where}`, `assay verify{where}`, "
            f"`assay audit {spec_path}{where}` (the gate: exit 0 or 1)"
        )


# The evidence commands (runs, verify, approve, keygen, export, report, card, datasheet)
# register after these, so `assay --help` lists audit first.
from assay import (  # noqa: E402, F401
    _cli_documents,
    _cli_evidence,
    _cli_loadtest,
    _cli_mask,
    _cli_monitor,
    _cli_monitor_drill,
    _cli_serve,
)


def main() -> None:
    """Entry point of the ``assay`` console script.

    When the command is done, exit handlers run and the output is flushed, and then the
    process ends without the interpreter's teardown, which frees every module and array one
    at a time (~0.2 s after a large audit) and has nothing left to do for a finished command.
    """
    try:
        app()  # Click's standalone mode ends with SystemExit, also on success
        code = 0
    except SystemExit as done:
        code = _exit_code(done.code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message") prints it and exits with 1
    return 1
