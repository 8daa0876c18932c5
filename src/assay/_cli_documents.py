"""``assay card`` and ``assay datasheet``: documents built from a stored run, attached to it.

Each command builds its document from the run's evidence (Markdown and HTML), attaches both
to the run as a new ledger entry — the run itself is never rewritten — and prints or writes
the format asked for. Building again from the same run gives the same bytes, so a second
call attaches nothing new.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from assay import _console
from assay._cli_base import DEFAULT_REPO, RepoOption, _guarded, _open_repo, _write_text, app
from assay.errors import AssayError

RunArgument = Annotated[
    str, typer.Argument(help="The run: 'latest', 'approved', a number or an id prefix.")
]
FormatOption = Annotated[str, typer.Option("--format", "-f", help="md or html.")]
OutputOption = Annotated[str, typer.Option("--output", "-o", help="File to write; '-' for stdout.")]
NoStoreOption = Annotated[
    bool,
    typer.Option("--no-store", help="Only print or write it; attach nothing to the run."),
]


@app.command()
@_guarded
def card(
    run: RunArgument = "latest",
    fmt: FormatOption = "md",
    output: OutputOption = "-",
    repo: RepoOption = Path(DEFAULT_REPO),
    no_store: NoStoreOption = False,
) -> None:
    """Build the run's model card (Mitchell et al.) and attach it to the run."""
    from assay.reports.card import model_card

    _document("model_card", "Model card", model_card, run, fmt, output, repo, no_store)


@app.command()
@_guarded
def datasheet(
    run: RunArgument = "latest",
    fmt: FormatOption = "md",
    output: OutputOption = "-",
    repo: RepoOption = Path(DEFAULT_REPO),
    no_store: NoStoreOption = False,
) -> None:
    """Build the datasheet of the run's data (Gebru et al.) and attach it to the run."""
    from assay.reports.datasheet import datasheet as build

    _document("datasheet", "Datasheet", build, run, fmt, output, repo, no_store)


def _document(
    kind: str,
    title: str,
    build: Callable[..., str],
    run: str,
    fmt: str,
    output: str,
    repo: Path,
    no_store: bool,
) -> None:
    from assay.reports._documents import to_html

    if fmt not in ("md", "html"):
        raise AssayError(f"--format {fmt!r} is not a document format. Use md or html.")
    repository = _open_repo(repo)
    stored = repository.resolve(run)
    markdown = build(stored.run, run_id=stored.id, load=repository.get)
    page = to_html(markdown, f"{title}: {stored.run.system.get('name', '')}".strip())
    files = [
        (f"{kind}.md", "text/markdown", markdown.encode()),
        (f"{kind}.html", "text/html", page.encode()),
    ]
    note = None
    if not no_store:
        note = _attach(repository, stored.id, kind, files, title)
    text = markdown if fmt == "md" else page
    if output == "-":
        sys.stdout.write(text)
    else:
        _write_text(Path(output), text)
        _console.out.print(f"wrote {output}")
    if note:
        _console.err.print(note)


def _attach(
    repository: Any, run_id: str, kind: str, files: list[tuple[str, str, bytes]], title: str
) -> str:
    """Attach ``files`` unless the latest attachment of ``kind`` holds exactly them."""
    from assay.run import sha256_hex

    latest = repository.latest_attachment(run_id, kind)
    if latest is not None:
        held = {(f.name, f.sha256) for f in latest.attachment.files}
        if held == {(name, sha256_hex(data)) for name, _, data in files}:
            return f"{title} unchanged: already attached to run {run_id[:12]} (#{latest.seq})."
    try:
        added = repository.attach(run_id, kind, files)
    except ValueError as exc:  # a bad name or media type: a bug here, not the user's input
        raise AssayError(f"cannot attach the {title.lower()}: {exc}") from None
    return f"attached the {title.lower()} to run {run_id[:12]} (ledger entry #{added.seq})."
