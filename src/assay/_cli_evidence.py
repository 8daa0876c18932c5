"""``assay runs``, ``verify``, ``approve``, ``keygen``, ``export``, ``report``: the evidence
repository from the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from assay import _console
from assay._cli_base import (
    DEFAULT_KEY,
    DEFAULT_REPO,
    FORMATS,
    RepoOption,
    _guarded,
    _open_repo,
    _print_run,
    _render,
    _write_text,
    app,
    runs_app,
)
from assay.errors import AssayError

# runs -------------------------------------------------------------------------------------


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
