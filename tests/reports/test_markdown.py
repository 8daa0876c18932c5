"""Markdown for a pull-request comment: verdict first, escaped cells, under GitHub's limit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from report_fixtures import Stored

from assay.checks._registry import Finding, Severity, Status
from assay.reports.markdown import CELL_LIMIT, COMMENT_LIMIT, cell, code, render_markdown


def test_title_marks_the_verdict_and_the_run(stored: Stored) -> None:
    text = stored.render("md")
    first = text.splitlines()[0]
    assert first == "## Assay audit: **FAIL** · credit-risk &lt;scorer&gt; 2.3.1"
    assert f"Run `{stored.run_id[:12]}`" in text
    assert stored.run_id not in text
    assert "2 finding(s) of severity major or worse failed or errored" in text


def test_passing_run(passing: Stored) -> None:
    text = passing.render("md")
    assert "**PASS**" in text
    assert "The launch gate passed" in text
    assert "### Failing" not in text and "### Warnings" not in text


def test_counts_table(stored: Stored) -> None:
    text = stored.render("md")
    for status, n in stored.run.verdict.counts.items():
        assert f"| {status} | {n} |" in text


def section(text: str, start: str, end: str) -> list[str]:
    body = text.split(start, 1)[1].split(end, 1)[0]
    return [line for line in body.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_failing_then_warnings_then_the_rest_folded(stored: Stored) -> None:
    text = stored.render("md")
    failing = section(text, "### Failing and erroring (3)", "### Warnings")
    assert [row.split(" | ")[0] for row in failing] == ["| fail", "| fail", "| error"]
    assert failing[0] == (
        "| fail | blocker (gate) | `integrity.missing_values` | income | data-eng "
        "| 31% of income values are missing. |"
    )
    warnings = section(text, "### Warnings (2)", "<details>")
    checks = [row.split(" | ")[2] for row in warnings]
    assert checks == ["`drift.feature`", "`governance.model_card`"]
    assert "<summary>Other findings (5): waived 1, skipped 1, pass 3</summary>" in text
    rest = section(text, "</summary>", "</details>")
    assert len(rest) == 5
    assert text.rstrip().endswith("</details>")


def test_cells_are_escaped(stored: Stored) -> None:
    text = stored.render("md")
    assert "| zip\\|code | ml-team | zip\\|code is stable. |" in text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in text
    assert "<script>" not in text and "<b>" not in text
    assert "sec &amp; privacy" in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a|b", "a\\|b"),
        ("back\\slash|pipe", "back\\\\slash\\|pipe"),
        ("two\nlines\r\nhere", "two lines here"),
        ("<details>", "&lt;details&gt;"),
        ("x" * (CELL_LIMIT + 50), "x" * (CELL_LIMIT - 1) + "…"),
    ],
)
def test_cell(raw: str, expected: str) -> None:
    assert cell(raw) == expected


def test_code_falls_back_to_an_escaped_cell() -> None:
    assert code("drift.feature") == "`drift.feature`"
    assert code("odd`id|x") == "odd`id\\|x"


def many(stored: Stored, n: int) -> Stored:
    findings = [
        Finding(
            "drift.feature",
            "drift",
            f"column_{i}",
            Status.FAIL if i % 3 else Status.PASS,
            Severity.MAJOR,
            "ml-team",
            "A long message about drift. " * 12,
        )
        for i in range(n)
    ]
    return Stored(replace(stored.run, findings=findings), stored.blobs)


def test_a_huge_run_is_truncated_under_githubs_limit(stored: Stored) -> None:
    big = many(stored, 3000)
    text = big.render("md")
    assert len(text) <= COMMENT_LIMIT
    assert "more finding(s) not shown" in text
    rows = [line for line in text.splitlines() if "| `drift.feature` |" in line]
    omitted = int(text.split("\n_", 1)[1].split(" ", 1)[0])
    assert len(rows) > 100 and len(rows) + omitted == 3000
    assert text.count("<details>") == text.count("</details>")


@pytest.mark.parametrize("limit", [2_000, 5_000, 20_000])
def test_truncation_respects_any_limit(stored: Stored, limit: int) -> None:
    big = many(stored, 200)
    text = render_markdown(big.run, run_id=big.run_id, max_chars=limit)
    assert len(text) <= limit
    assert "more finding(s) not shown" in text
    assert text.count("<details>") == text.count("</details>")


def test_no_truncation_note_when_everything_fits(stored: Stored) -> None:
    assert "not shown" not in stored.render("md")


def test_approvals_are_mentioned(stored: Stored) -> None:
    text = stored.render("md")
    assert "Approved by Dana Reviewer at 2025-03-05T09:00:00Z: fail (signature valid)." in text


def test_empty_run(empty: Stored) -> None:
    text = empty.render("md")
    assert "**PASS**" in text and "<details>" not in text and "| pass | 0 |" in text
