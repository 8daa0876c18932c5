"""A Markdown summary of a stored run, sized for a pull-request comment.

Layout: a title with the verdict as a bold word, the run's short id, a table of counts per
status, a table of failing and erroring findings, one of warnings, and everything else folded in
a ``<details>`` block. Cells are escaped (pipes, backslashes, HTML) and cut to
:data:`CELL_LIMIT` characters; when the whole would pass GitHub's comment limit, rows are left
out from the end and a note says how many.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from assay.checks._registry import Finding, Status
from assay.reports._common import (
    STATUS_ORDER,
    fail_on_text,
    short_id,
    signature_status,
    sorted_findings,
    verdict_counts,
)
from assay.run import Run

COMMENT_LIMIT = 65_536
"""GitHub's limit on the characters of one issue or pull-request comment."""

CELL_LIMIT = 300
"""Longest text kept in one table cell; longer text is cut with an ellipsis."""

TITLE = "## Assay audit: **{verdict}** · {system}"
GATE_PASSED = "The launch gate passed: no finding of severity {fail_on} failed or errored."
GATE_FAILED = "The launch gate failed: {n} finding(s) of severity {fail_on} failed or errored."
TRUNCATED = (
    "\n_{n} more finding(s) not shown, to stay within GitHub's {limit:,}-character comment "
    "limit. The HTML report and the JSON results list every finding._\n"
)
COLUMNS = ("status", "severity", "check", "subject", "owner", "message")


def render_markdown(
    run: Run,
    *,
    run_id: str,
    approvals: Sequence[Mapping[str, Any]] = (),
    max_chars: int = COMMENT_LIMIT,
) -> str:
    """The run as a Markdown comment of at most ``max_chars`` characters."""
    findings = sorted_findings(run.findings)
    failing = [f for f in findings if f.status in (Status.FAIL, Status.ERROR)]
    warnings = [f for f in findings if f.status is Status.WARN]
    others = [f for f in findings if f.status not in (Status.FAIL, Status.ERROR, Status.WARN)]
    blocking = set(run.verdict.blocking)

    note_room = len(TRUNCATED.format(n=len(findings), limit=max_chars))
    out = _Writer(max_chars - note_room, blocking)
    out.text(_head(run, run_id, approvals))
    out.table(f"### Failing and erroring ({len(failing)})\n\n", failing, "\n")
    out.table(f"### Warnings ({len(warnings)})\n\n", warnings, "\n")
    summary = ", ".join(
        f"{s.value} {n}" for s in STATUS_ORDER if (n := sum(f.status is s for f in others))
    )
    opening = f"<details>\n<summary>Other findings ({len(others)}): {summary}</summary>\n\n"
    out.table(opening, others, "\n</details>\n")
    text = "".join(out.parts)
    if out.omitted:
        text += TRUNCATED.format(n=out.omitted, limit=max_chars)
    return text


def _head(run: Run, run_id: str, approvals: Sequence[Mapping[str, Any]]) -> str:
    verdict = run.verdict
    system = " ".join(str(run.system.get(k, "")) for k in ("name", "version")).strip()
    fail_on = fail_on_text(verdict.fail_on)
    gate = (
        GATE_PASSED.format(fail_on=fail_on)
        if verdict.passed
        else GATE_FAILED.format(n=len(verdict.blocking), fail_on=fail_on)
    )
    lines = [
        TITLE.format(verdict=verdict.status.upper(), system=cell(system or "unnamed system")),
        "",
        f"Run `{short_id(run_id)}` · created {cell(run.created)} · Assay {cell(run.tool_version)}",
        "",
        gate,
        "",
    ]
    if approvals:
        lines.extend(
            f"Approved by {cell(str(a.get('by')))} at {cell(str(a.get('at')))}: "
            f"{cell(str(a.get('verdict')))} (signature {signature_status(a, run_id)}).  "
            for a in approvals
        )
        lines.append("")
    counts = verdict_counts(run)
    lines += ["| status | findings |", "| --- | ---: |"]
    lines += [f"| {s.value} | {counts[s.value]} |" for s in STATUS_ORDER]
    return "\n".join(lines) + "\n\n"


class _Writer:
    """Collects the comment's parts, leaving out table rows that would pass ``budget``."""

    def __init__(self, budget: int, blocking: set[tuple[str, str]]) -> None:
        self.parts: list[str] = []
        self.used = 0
        self.omitted = 0
        self.budget = budget
        self.blocking = blocking

    def text(self, part: str) -> None:
        self.parts.append(part)
        self.used += len(part)

    def table(self, opening: str, findings: Sequence[Finding], closing: str) -> None:
        """A headed table of ``findings``, with as many rows as fit before the budget."""
        if not findings:
            return
        header = "| " + " | ".join(COLUMNS) + " |\n" + "| --- " * len(COLUMNS) + "|\n"
        rows = [self._row(f) for f in findings]
        if self.used + len(opening) + len(header) + len(rows[0]) + len(closing) > self.budget:
            self.omitted += len(rows)
            return
        self.text(opening + header)
        for index, row in enumerate(rows):
            if self.used + len(row) + len(closing) > self.budget:
                self.omitted += len(rows) - index
                break
            self.text(row)
        self.text(closing)

    def _row(self, finding: Finding) -> str:
        severity = finding.severity.value
        if finding.key in self.blocking:
            severity += " (gate)"
        cells = (
            finding.status.value,
            severity,
            code(finding.check_id),
            cell(finding.subject),
            cell(finding.owner),
            cell(finding.message),
        )
        return "| " + " | ".join(cells) + " |\n"


def cell(text: str) -> str:
    """``text`` safe inside a GitHub table cell: one line, escaped, at most CELL_LIMIT long."""
    text = " ".join(text.split())
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 1] + "…"
    return html.escape(text, quote=False).replace("\\", "\\\\").replace("|", "\\|")


def code(text: str) -> str:
    """``text`` as inline code when it can be, otherwise as an escaped cell."""
    if "`" in text or "|" in text or len(text) > CELL_LIMIT:
        return cell(text)
    return f"`{text}`"
