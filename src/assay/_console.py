"""Terminal output for the CLI: Rich tables of findings and runs, and the progress bar."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from assay.checks._registry import DOMAIN_TITLES, DOMAINS, Finding, Status
from assay.run import Run

STATUS_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIPPED: "dim",
    Status.WAIVED: "cyan",
}
_SHOWN = (Status.FAIL, Status.ERROR, Status.WARN, Status.WAIVED)


def _console(*, stderr: bool) -> Console:
    """A console; in a log (no terminal, no COLUMNS) wide enough for the findings table."""
    # Finding text is data, not markup: a subject like "a[/]b" or ":id:" prints as written.
    console = Console(stderr=stderr, highlight=False, markup=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160
    return console


out = _console(stderr=False)
err = _console(stderr=True)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress callback for the runner that draws a bar on stderr (or nothing)."""
    if not enabled or not err.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task("", total=None)

    def update(description: str, done: int, total: int) -> None:
        bar.update(task, description=description, completed=done, total=total)

    with bar:
        yield update


def summary_table(run: Run) -> Table:
    """Counts per status for each domain that has findings."""
    table = Table(title="Findings by domain", title_justify="left")
    table.add_column("Domain")
    for status in Status:
        table.add_column(status.value, justify="right", style=STATUS_STYLE[status])
    by_domain: dict[str, Counter[Status]] = {}
    for f in run.findings:
        by_domain.setdefault(f.domain, Counter())[f.status] += 1
    for domain in DOMAINS:
        if domain in by_domain:
            counts = by_domain[domain]
            table.add_row(DOMAIN_TITLES[domain], *(str(counts[s] or "") for s in Status))
    return table


def findings_table(findings: Sequence[Finding], *, everything: bool = False) -> Table:
    """Findings that need attention (or all of them), grouped by domain, with owners."""
    shown = [f for f in findings if everything or f.status in _SHOWN]
    table = Table(title=f"Findings ({len(shown)} of {len(findings)} shown)", title_justify="left")
    for name in ("Domain", "Check", "Subject", "Status", "Severity", "Owner", "Message"):
        table.add_column(name, overflow="fold", max_width=70 if name == "Message" else None)
    order = {s: i for i, s in enumerate((*_SHOWN, Status.PASS, Status.SKIPPED))}
    shown.sort(
        key=lambda f: (
            DOMAINS.index(f.domain),
            order[f.status],
            -f.severity.rank,
            f.check_id,
            f.subject,
        )
    )
    for f in shown:
        table.add_row(
            DOMAIN_TITLES[f.domain],
            f.check_id,
            f.subject,
            Text(f.status.value, style=STATUS_STYLE[f.status]),
            f.severity.value,
            f.owner,
            f.message,
        )
    return table


def verdict_line(run: Run, run_id: str) -> Text:
    v = run.verdict
    counts = ", ".join(f"{n} {s}" for s, n in v.counts.items() if n)
    if v.passed:
        head = Text(" PASS ", style="bold white on green")
        tail = f" launch-ready: no failed finding at or above {v.fail_on.value} ({counts})"
    else:
        head = Text(" FAIL ", style="bold white on red")
        tail = f" {len(v.blocking)} finding(s) at or above {v.fail_on.value} failed ({counts})"
    return Text.assemble(head, tail, f"\nrun {run_id[:12]}")


def runs_table(rows: Sequence[Any]) -> Table:
    table = Table(title="Stored runs", title_justify="left")
    for name in ("#", "Run", "Created", "System", "Verdict", "Fail", "Warn", "Approved"):
        table.add_column(name)
    for r in rows:
        style = "green" if r.verdict == "pass" else "red"
        table.add_row(
            str(r.seq),
            r.id[:12],
            r.created,
            f"{r.system} {r.version}",
            Text(r.verdict, style=style),
            str(r.counts.get("fail", 0)),
            str(r.counts.get("warn", 0)),
            "yes" if r.approved else "",
        )
    return table


def profile_table(profile: Any) -> Table:
    """One line per column of a table profile."""
    table = Table(title=f"Profile ({profile.rows:,} rows)", title_justify="left")
    for name in ("Column", "Kind", "Missing", "Distinct", "Mean", "Std", "Min", "Median", "Max"):
        table.add_column(name, justify="left" if name in ("Column", "Kind") else "right")
    for c in profile:
        median = c.quantiles([0.5]) if c.logical in ("integer", "float") else None
        distinct = f"{c.distinct_count:,.0f}" + ("" if c.distinct_exact else " ≈")
        table.add_row(
            c.name,
            c.kind,
            f"{c.missing:,}",
            distinct,
            _num(c.mean if c.n_finite else None),
            _num(c.std),
            _num(c.min),
            _num(median[0] if median else None),
            _num(c.max),
        )
    return table


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
