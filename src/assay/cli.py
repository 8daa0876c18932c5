"""The ``assay`` command line: parse, call the library, print, exit.

Exit codes: 0 launch-ready (or the command succeeded), 1 the gate failed (or verification
failed), 2 bad input or usage. Errors print one message to stderr, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.text import Text

from assay import _console
from assay._files import atomic_write
from assay._version import __version__
from assay.checks._registry import Severity
from assay.errors import REPORT_NOT_WRITABLE, SPEC_EXISTS, AssayError, SpecError

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


PRESTART_BYTES = 20_000_000
"""Data at least this large starts the profile pass's worker before the audit's imports."""


def _prestart_for(spec: Path, engine: str) -> None:
    """Boot the local engine's worker early when the data is large enough to use it."""
    if engine != "local":
        return
    try:
        from assay.spec import load_spec

        parsed = load_spec(spec)
    except AssayError:
        return  # the audit reports it, with the full message
    sizes = 0
    for ds in parsed.datasets.values():
        if ds.path is not None:
            path = parsed.resolve(ds.path)
            sizes += path.stat().st_size if path.is_file() else 0
    if sizes >= PRESTART_BYTES:
        from assay.profiles.pool import prestart

        prestart(min(2, os.cpu_count() or 1) - 1)


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


# runs -------------------------------------------------------------------------------------


def _open_repo(repo: Path) -> Any:
    from assay.evidence import Repository

    return Repository.open(repo, create=False)


@runs_app.command("list")
@_guarded
def runs_list(
    repo: RepoOption = Path(DEFAULT_REPO),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stored runs, oldest first."""
    rows = _open_repo(repo).runs()
    if as_json:
        print(json.dumps([_row_json(r) for r in rows], indent=2))
    elif not rows:
        _console.out.print(f"no runs stored in {repo} yet: run `assay audit`")
    else:
        _console.out.print(_console.runs_table(rows))


def _row_json(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "run_id": row.id,
        "created": row.created,
        "system": row.system,
        "version": row.version,
        "verdict": row.verdict,
        "counts": row.counts,
        "approved": row.approved,
    }


@runs_app.command("show")
@_guarded
def runs_show(
    run: Annotated[
        str, typer.Argument(help="'latest', 'approved', a number or an id prefix.")
    ] = "latest",
    repo: RepoOption = Path(DEFAULT_REPO),
    show_all: Annotated[
        bool, typer.Option("--all", help="List passing and skipped findings too.")
    ] = False,
) -> None:
    """Show one stored run: its findings and verdict."""
    repository = _open_repo(repo)
    stored = repository.resolve(run)
    _console.out.print(f"run #{stored.seq} {stored.id}  created {stored.run.created}")
    for approval in repository.approvals(stored.id):
        _console.out.print(
            f"approved by {approval.by} at {approval.at} (key {approval.key_fingerprint[:16]})"
        )
    _print_run(stored.run, stored.id, quiet=False, show_all=show_all)


@runs_app.command("diff")
@_guarded
def runs_diff(
    run_a: Annotated[str, typer.Argument(help="The earlier run.")],
    run_b: Annotated[str, typer.Argument(help="The later run.")] = "latest",
    repo: RepoOption = Path(DEFAULT_REPO),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Findings whose status or metrics changed between two runs, and new and gone findings."""
    from assay.evidence import diff_runs

    repository = _open_repo(repo)
    a, b = repository.resolve(run_a), repository.resolve(run_b)
    diff = diff_runs(a.run, b.run)
    if as_json:
        print(json.dumps({"a": a.id, "b": b.id, **diff.to_json()}, indent=2))
        return
    _console.out.print(f"#{a.seq} {a.id[:12]} → #{b.seq} {b.id[:12]}")
    if diff.is_empty:
        _console.out.print("no differences in findings")
        return
    for change in diff.changed:
        _console.out.print(Text.assemble(("changed ", "yellow"), change.describe()))
    for label, style, findings in (("new     ", "green", diff.new), ("gone    ", "red", diff.gone)):
        for f in findings:
            line = f"{f.check_id} [{f.subject}] {f.status.value}"
            _console.out.print(Text.assemble((label, style), line))


# verify, approve, keygen, export, report ---------------------------------------------------


@app.command()
@_guarded
def verify(
    bundle: Annotated[
        Path | None, typer.Argument(help="An exported bundle; omit to verify the repository.")
    ] = None,
    repo: RepoOption = Path(DEFAULT_REPO),
) -> None:
    """Re-hash every object and walk the chain; exit 1 at the first broken object or link."""
    from assay.evidence import verify_bundle

    report = verify_bundle(bundle) if bundle is not None else _open_repo(repo).verify()
    target = bundle or repo
    if report.ok:
        _console.out.print(Text.assemble(("verified", "green"), f" {target}: {report.summary()}"))
        return
    _console.err.print(Text.assemble(("verification failed", "bold red"), f" for {target}:"))
    for problem in report.problems:
        _console.err.print(f"  {problem}")
    raise typer.Exit(1)


def _key_path(key: Path | None) -> Path:
    if key is not None:
        return key
    env = os.environ.get("ASSAY_SIGNING_KEY")
    return Path(env) if env else DEFAULT_KEY.expanduser()


@app.command()
@_guarded
def approve(
    run: Annotated[
        str, typer.Argument(help="The run to approve: 'latest', a number or an id prefix.")
    ],
    by: Annotated[str, typer.Option("--by", help="Who approves (name or e-mail).")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Ed25519 private key (default $ASSAY_SIGNING_KEY or ~/.config/assay/signing.key).",
        ),
    ] = None,
    repo: RepoOption = Path(DEFAULT_REPO),
) -> None:
    """Record a signed, timestamped approval of a run's verdict."""
    repository = _open_repo(repo)
    approval = repository.approve(run, by=by, private_key_path=_key_path(key))
    _console.out.print(
        f"approved run {approval.run[:12]} (verdict {approval.verdict}) "
        f"by {approval.by} at {approval.at}"
    )


@app.command()
@_guarded
def keygen(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Private key path; the public key gets '.pub'."),
    ] = None,
) -> None:
    """Make an Ed25519 key pair for signing approvals."""
    from assay.evidence import generate_keypair

    private = _key_path(out)
    public = private.with_suffix(".pub")
    private.parent.mkdir(parents=True, exist_ok=True)
    fingerprint = generate_keypair(private, public)
    _console.out.print(f"wrote {private} (keep it secret) and {public}; fingerprint {fingerprint}")


@app.command()
@_guarded
def export(
    run: Annotated[str, typer.Argument(help="The run to export.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write.")],
    repo: RepoOption = Path(DEFAULT_REPO),
) -> None:
    """Write a self-contained bundle of a run that `assay verify BUNDLE` checks anywhere."""
    repository = _open_repo(repo)
    repository.export(run, output)
    _console.out.print(f"wrote {output}; check it anywhere with `assay verify {output}`")


@app.command()
@_guarded
def report(
    run: Annotated[
        str, typer.Argument(help="The run: 'latest', 'approved', a number or an id prefix.")
    ] = "latest",
    fmt: Annotated[str, typer.Option("--format", "-f", help="html, json, junit or md.")] = "html",
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write; '-' for stdout.")
    ] = "-",
    repo: RepoOption = Path(DEFAULT_REPO),
) -> None:
    """Render a stored run as a report (read from the repository, never recomputed)."""
    from assay.api import AuditResult

    if fmt not in FORMATS:
        raise AssayError(
            f"--format {fmt!r} is not a report format. Use one of: {', '.join(FORMATS)}."
        )
    repository = _open_repo(repo)
    stored = repository.resolve(run)
    result = AuditResult(stored.run, stored.id, repository, {})
    text = _render(result, fmt)
    if output == "-":
        sys.stdout.write(text)
    else:
        _write_text(Path(output), text)
        _console.out.print(f"wrote {output}")


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


def main() -> None:
    """Entry point of the ``assay`` console script."""
    app()
