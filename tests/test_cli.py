"""Every ``assay`` command end to end, on real files, through the Typer app.

Rich writes findings and verdicts to stdout and errors (and the progress bar) to stderr;
``CliRunner`` keeps the two apart, so each test asserts on the stream a user would read.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _cli_support import (
    add_to_spec,
    error_of,
    flat,
    invoke,
    results_schema,
    snapshot,
)
from _support import write_project, write_spec
from assay._version import __version__
from assay.errors import RUN_NOT_FOUND, SPEC_EXISTS
from assay.evidence import Repository
from assay.evidence import _messages as msg
from assay.evidence.repository import StoredRun
from assay.run import Run

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SPEC = REPO_ROOT / "examples" / "arrests" / "assay.yaml"
FORMATS = {"html": "html", "json": "json", "junit": "xml", "md": "md"}
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
VERDICT = re.compile(r"^ (PASS|FAIL) ", re.MULTILINE)


def stored_runs(repo: Path) -> list[StoredRun]:
    """Every run stored in ``repo``, oldest first."""
    with Repository.open(repo, create=False) as repository:
        return [repository.resolve(str(row.seq)) for row in repository.runs()]


def latest(repo: Path) -> StoredRun:
    return stored_runs(repo)[-1]


def verdict_printed(stdout: str) -> str:
    """``pass`` or ``fail``: the verdict line the command printed."""
    found = VERDICT.findall(stdout)
    assert len(found) == 1, stdout
    return str(found[0]).lower()


def validate_results(text: str) -> dict[str, Any]:
    """Parse ``text`` as JSON results and validate it against docs/results-schema.json."""
    data: dict[str, Any] = json.loads(text)
    schema = results_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    assert data["schema"] == "assay.results/1"
    return data


def rows_of(stdout: str, check_id: str) -> list[str]:
    """The table lines that start a row of ``check_id``."""
    return [line for line in stdout.splitlines() if f" {check_id} " in line]


def write_minor_failure(folder: Path) -> Path:
    """A spec whose only failed finding is minor: half of train's rows repeat another row."""
    folder.mkdir(parents=True, exist_ok=True)
    train = pa.table(
        {
            "id": list(range(20)),
            "age": [20 + i % 10 for i in range(20)],
            "city": ["ab"[i % 2] for i in range(20)],
            "label": [i % 2 for i in range(20)],
        }
    )
    pq.write_table(train, folder / "train.parquet")
    return write_spec(
        folder,
        """
        version: 1
        system: {name: dupes}
        owners:
          default: team@example.org
          integrity: data@example.org
        datasets:
          train:
            path: train.parquet
            target: label
            id: id
        """,
    )


def failed(run: Run) -> set[tuple[str, str]]:
    return {(f.check_id, f.severity.value) for f in run.findings if f.status.value == "fail"}


# audit -------------------------------------------------------------------------------------


def test_audit_without_spec_reads_assay_yaml_and_exits_by_the_stored_verdict(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)

    result = invoke("audit")

    assert result.exception is None or isinstance(result.exception, SystemExit)
    run = latest(project / ".assay")
    assert result.exit_code == (0 if run.run.verdict.passed else 1)
    assert run.run.spec_sha256 == hashlib.sha256((project / "assay.yaml").read_bytes()).hexdigest()
    assert f"run {run.id[:12]}" in result.stdout
    assert verdict_printed(result.stdout) == run.run.verdict.status


def test_audit_table_lists_findings_that_need_attention_with_their_owners(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    add_to_spec(
        project / "assay.yaml",
        """
        checks:
          integrity.missing_values:
            owner: nulls@example.org
        """,
    )

    everything = invoke("audit", "--all")
    attention = invoke("audit")

    run, again = (stored.run for stored in stored_runs(project / ".assay"))
    assert "Findings by domain" in attention.stdout
    assert "Data integrity" in attention.stdout
    for finding in run.findings:
        rows = [
            r
            for r in rows_of(everything.stdout, finding.check_id)
            if f" {finding.subject} " in r and f" {finding.status.value} " in r
        ]
        assert rows, f"no row for {finding.key} in\n{everything.stdout}"
        assert any(finding.owner in r for r in rows)
        needs_attention = finding.status.value in ("fail", "error", "warn", "waived")
        assert bool(rows_of(attention.stdout, finding.check_id)) or not needs_attention
    shown = [f for f in again.findings if f.status.value in ("fail", "error", "warn", "waived")]
    assert f"Findings ({len(shown)} of {len(again.findings)} shown)" in attention.stdout
    owners = {f.owner for f in run.findings if f.check_id == "integrity.missing_values"}
    assert owners == {"nulls@example.org"}
    assert "team@example.org" in everything.stdout


def test_audit_table_names_the_owner_of_a_failed_finding(tmp_path: Path) -> None:
    spec = write_minor_failure(tmp_path)

    result = invoke("audit", spec, "--repo", tmp_path / "repo")

    (row,) = rows_of(result.stdout, "integrity.duplicate_rows")
    assert " train " in row and " fail " in row and " minor " in row
    assert "data@example.org" in row
    assert result.exit_code == 0  # minor is below the default gate (blocker)


def test_audit_table_prints_messages_verbatim(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)

    result = invoke("audit", "--all")

    run = latest(project / ".assay").run
    for finding in run.findings:
        start = " ".join(finding.message.split()[:3])  # the first words fit on one table line
        assert start in result.stdout, finding.message


def test_audit_prints_column_names_that_look_like_markup(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "a[/]b": [1.0, None, 3.0, 4.0],
            "[bold]c": [1, None, 3, 4],
            "label": [0, 1, 0, 1],
        }
    )
    pq.write_table(table, tmp_path / "m.parquet")
    spec = write_spec(
        tmp_path,
        """
        version: 1
        system: {name: markup}
        datasets:
          train:
            path: m.parquet
            target: label
        """,
    )

    result = invoke("audit", spec, "--repo", tmp_path / "repo", "--all")

    assert result.exception is None or isinstance(result.exception, SystemExit)
    run = latest(tmp_path / "repo").run
    assert result.exit_code == (0 if run.verdict.passed else 1)
    assert "a[/]b" in result.stdout
    assert "[bold]c" in result.stdout


def test_quiet_prints_only_the_verdict(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)

    result = invoke("audit", "--quiet")

    run = latest(project / ".assay")
    head, tail = result.stdout.splitlines()
    assert VERDICT.match(head)
    assert ("launch-ready" in head) == run.run.verdict.passed
    assert tail == f"run {run.id[:12]}"
    assert result.stderr == ""


def test_json_to_stdout_is_schema_valid_results_and_nothing_else(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)

    result = invoke("audit", "--json", "-")

    data = validate_results(result.stdout)  # the whole of stdout is one JSON document
    run = latest(project / ".assay")
    assert data["run_id"] == run.id
    assert data["verdict"]["status"] == run.run.verdict.status
    assert len(data["findings"]) == len(run.run.findings)
    assert result.exit_code == (0 if run.run.verdict.passed else 1)
    assert result.stderr == ""


def test_report_options_write_the_four_files(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    out = project / "out" / "deeper"
    paths = {fmt: out / f"r.{ext}" for fmt, ext in FORMATS.items()}

    result = invoke("audit", *[a for fmt, p in paths.items() for a in (f"--{fmt}", p)])

    assert result.exit_code in (0, 1), result.stderr
    for fmt, path in paths.items():
        assert f"wrote {fmt:5} report {path}" in result.stdout
    run_id = latest(project / ".assay").id
    data = validate_results(paths["json"].read_text(encoding="utf-8"))
    assert data["run_id"] == run_id
    junit = ET.parse(paths["junit"]).getroot()
    assert junit.tag == "testsuites"
    assert int(junit.get("tests", "0")) == len(data["findings"])
    html = paths["html"].read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert run_id[:12] in html
    assert run_id[:12] in paths["md"].read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["r.html", "r.json", "r.md", "r.xml"]


@pytest.mark.parametrize(
    "fmt",
    [
        "html",
        "json",
        "junit",
        "md",
    ],
)
def test_audit_reports_equal_assay_report_of_the_stored_run(tmp_path: Path, fmt: str) -> None:
    spec = write_project(tmp_path / "project")
    path = tmp_path / f"report.{FORMATS[fmt]}"

    audited = invoke("audit", spec, "--repo", tmp_path / "repo", f"--{fmt}", path)
    reported = invoke("report", "latest", "--format", fmt, "--repo", tmp_path / "repo")

    assert audited.exit_code in (0, 1), audited.stderr
    assert path.read_text(encoding="utf-8") == reported.stdout


@pytest.mark.parametrize(
    ("fail_on", "code"), [("info", 1), ("minor", 1), ("major", 0), ("blocker", 0)]
)
def test_fail_on_sets_the_gate(tmp_path: Path, fail_on: str, code: int) -> None:
    spec = write_minor_failure(tmp_path)

    result = invoke("audit", spec, "--repo", tmp_path / "repo", "--fail-on", fail_on, "-q")

    run = latest(tmp_path / "repo").run
    # The compliance matrix summarises the failure again, at severity info (it never gates
    # above the finding it summarises).
    assert failed(run) == {
        ("integrity.duplicate_rows", "minor"),
        ("governance.compliance_matrix", "info"),
    }
    assert run.verdict.fail_on.value == fail_on
    assert result.exit_code == code
    assert result.stdout.startswith(" PASS " if code == 0 else " FAIL ")


def test_a_failed_blocker_fails_the_gate(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = write_spec(
        tmp_path,
        """
        version: 1
        system: {name: tiny}
        datasets:
          train:
            path: train.parquet
            target: label
            schema:
              columns:
                age: {type: integer}
                income: {type: float}
        """,
    )

    result = invoke("audit", spec, "--repo", tmp_path / "repo")

    assert result.exit_code == 1, result.stderr
    run = latest(tmp_path / "repo").run
    assert ("integrity.schema", "blocker") in failed(run)
    assert not run.verdict.passed
    (row,) = [r for r in rows_of(result.stdout, "integrity.schema") if " fail " in r]
    assert " blocker " in row
    assert verdict_printed(result.stdout) == "fail"


# baselines ---------------------------------------------------------------------------------


def _duplicate_train_rows(project: Path) -> None:
    """Rewrite train.parquet so that a quarter of its rows repeat others (ids stay unique)."""
    table = pq.read_table(project / "train.parquet")
    rows = table.to_pylist()
    for i in range(10):
        rows[30 + i] = {**rows[i], "id": rows[30 + i]["id"]}
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), project / "train.parquet")


def _regressions(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        f
        for f in data["findings"]
        if f["check_id"] == "governance.baseline_regression" and f["status"] == "fail"
    ]


def test_baseline_approved_and_latest_report_regressions(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert invoke("keygen", "-o", project / "keys" / "signing.key").exit_code == 0
    assert invoke("audit", "-q").exit_code == 0
    approved = latest(project / ".assay")
    approval = invoke("approve", "latest", "--by", "Ada", "--key", project / "keys" / "signing.key")
    assert approval.exit_code == 0, approval.stderr
    _duplicate_train_rows(project)

    against_approved = invoke("audit", "--baseline", "approved", "--json", "-")
    against_latest = invoke("audit", "--baseline", "latest", "--json", "-")

    first = validate_results(against_approved.stdout)
    assert first["baseline"] == approved.id
    regressions = _regressions(first)
    assert regressions, [f for f in first["findings"] if f["check_id"].startswith("governance")]
    assert any(
        "integrity.duplicate_rows [train]" in f["subject"] and f["owner"] == "team@example.org"
        for f in regressions
    )
    assert against_approved.exit_code == (0 if first["verdict"]["status"] == "pass" else 1)

    second = validate_results(against_latest.stdout)
    assert second["baseline"] == first["run_id"]  # 'latest' was the run just stored
    assert not _regressions(second)  # same data as its baseline: nothing got worse
    passed = [f for f in second["findings"] if f["check_id"] == "governance.baseline_regression"]
    assert [f["status"] for f in passed] == ["pass"]


def test_baseline_catches_missing_values_that_appear_after_approval(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert invoke("audit", "-q").exit_code == 0
    table = pq.read_table(project / "train.parquet")
    ages = [None if i % 4 == 0 else v for i, v in enumerate(table["age"].to_pylist())]
    table = table.set_column(1, "age", pa.array(ages, pa.int64()))
    pq.write_table(table, project / "train.parquet")

    result = invoke("audit", "--baseline", "latest", "--json", "-")

    data = validate_results(result.stdout)
    assert any(f["check_id"] == "integrity.missing_values" for f in _regressions(data)) or any(
        "integrity.missing_values" in f["subject"] for f in _regressions(data)
    )


def test_baseline_that_matches_no_run_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    assert invoke("audit", "-q").exit_code == 0
    before = snapshot(project)

    result = invoke("audit", "--baseline", "nosuch")

    assert error_of(result) == RUN_NOT_FOUND.format(
        ref="nosuch", repo=Path(".assay"), hint=msg.HINT_LIST
    )
    assert snapshot(project) == before


# init --------------------------------------------------------------------------------------


def test_init_writes_a_spec_that_audit_accepts(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)

    result = invoke(
        "init",
        "--data",
        "train.parquet",
        "--target",
        "label",
        "--sensitive",
        "city, age",
        "-o",
        "init.yaml",
    )

    assert result.exit_code == 0, result.stderr
    assert "wrote init.yaml" in result.stdout
    audited = invoke("audit", "init.yaml", "-q")
    assert audited.exit_code in (0, 1), audited.stderr
    run = latest(project / ".assay").run
    assert [i["name"] for i in run.inputs] == ["train"]
    assert audited.exit_code == (0 if run.verdict.passed else 1)
    text = (project / "init.yaml").read_text(encoding="utf-8")
    assert "target: label" in text
    assert "- column: city" in text and "- column: age" in text


def test_init_never_overwrites_without_force(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    before = (project / "assay.yaml").read_bytes()

    refused = invoke("init", "--data", "train.parquet", "--target", "label")

    assert error_of(refused) == SPEC_EXISTS.format(path=Path("assay.yaml"))
    assert (project / "assay.yaml").read_bytes() == before

    forced = invoke("init", "--data", "train.parquet", "--target", "label", "--force")

    assert forced.exit_code == 0, forced.stderr
    assert (project / "assay.yaml").read_bytes() != before
    assert invoke("audit", "-q").exit_code in (0, 1)


def test_init_with_an_unknown_target_lists_the_columns(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    before = snapshot(project)

    result = invoke("init", "--data", "train.parquet", "--target", "labels", "-o", "new.yaml")

    assert error_of(result) == (
        "train.parquet: --target names column 'labels', which the file lacks. "
        "Columns that exist: id, age, city, label."
    )
    assert snapshot(project) == before


# runs, verify, approve, keygen, export, report --------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with two audits of changed data; run 2 is approved. Do not modify."""
    base = tmp_path_factory.mktemp("history")
    spec = write_project(base / "project")
    repo = base / "repo"
    assert invoke("audit", spec, "--repo", repo, "-q").exit_code == 0
    test_csv = base / "project" / "test.csv"
    lines = test_csv.read_text(encoding="utf-8").splitlines()
    lines[1:4] = [lines[1]] * 3  # rows 2 and 3 now repeat row 1 (ids too)
    test_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert invoke("audit", spec, "--repo", repo, "-q").exit_code in (0, 1)
    key = base / "keys" / "ada.key"
    assert invoke("keygen", "-o", key).exit_code == 0
    assert (
        invoke("approve", "2", "--by", "Ada Lovelace", "--key", key, "--repo", repo).exit_code == 0
    )
    return repo


@pytest.fixture
def history_copy(history: Path, tmp_path: Path) -> Path:
    """A copy of ``history`` that a test may change."""
    return Path(shutil.copytree(history, tmp_path / "repo"))


@pytest.fixture
def unchanged(history: Path) -> Iterator[None]:
    """Fail the test if it changed the shared repository."""
    before = snapshot(history)
    yield
    assert snapshot(history) == before


def test_runs_list_table_and_json(history: Path, unchanged: None) -> None:
    runs = stored_runs(history)

    table = invoke("runs", "list", "--repo", history)
    listed = invoke("runs", "list", "--repo", history, "--json")

    assert table.exit_code == 0 and listed.exit_code == 0
    assert "Stored runs" in table.stdout
    for stored in runs:
        (row,) = [line for line in table.stdout.splitlines() if stored.id[:12] in line]
        assert row.split()[1] == str(stored.seq)
        assert ("yes" in row) == (stored.seq == 2)
    data = json.loads(listed.stdout)
    assert [(r["seq"], r["run_id"], r["approved"]) for r in data] == [
        (runs[0].seq, runs[0].id, False),
        (runs[1].seq, runs[1].id, True),
    ]
    assert [r["verdict"] for r in data] == [s.run.verdict.status for s in runs]
    assert all(r["system"] == "tiny" and r["version"] == "1.0" for r in data)


@pytest.mark.parametrize("ref", ["latest", "1", "#1", "prefix", "approved"])
def test_runs_show(history: Path, unchanged: None, ref: str) -> None:
    first, second = stored_runs(history)
    expected = second if ref in ("latest", "approved") else first
    if ref == "prefix":
        ref = first.id[:8]

    result = invoke("runs", "show", ref, "--repo", history)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run #{expected.seq} {expected.id}  created {expected.run.created}")
    assert ("approved by Ada Lovelace" in result.stdout) == (expected is second)
    assert f"run {expected.id[:12]}" in result.stdout
    assert "Findings by domain" in result.stdout


def test_runs_diff_text_and_json(history: Path, unchanged: None) -> None:
    first, second = stored_runs(history)

    text = invoke("runs", "diff", "1", "2", "--repo", history)
    data = json.loads(invoke("runs", "diff", "1", "2", "--repo", history, "--json").stdout)

    assert text.exit_code == 0, text.stderr
    assert text.stdout.splitlines()[0] == f"#1 {first.id[:12]} → #2 {second.id[:12]}"
    assert (data["a"], data["b"]) == (first.id, second.id)
    changed = {(c["check_id"], c["subject"]) for c in data["changed"]}
    assert ("integrity.duplicate_rows", "test") in changed
    assert ("integrity.duplicate_ids", "test:id") in changed
    for change in data["changed"]:
        status = change["status"]
        assert status is None or status["old"] != status["new"]
    for check_id, _ in changed:
        assert any(
            line.startswith("changed") and check_id in line for line in text.stdout.splitlines()
        )


def test_runs_diff_text_names_the_subjects(history: Path, unchanged: None) -> None:
    result = invoke("runs", "diff", "1", "2", "--repo", history)

    assert "integrity.duplicate_rows [test]" in result.stdout


def test_verify_passes_on_an_intact_repository(history: Path, unchanged: None) -> None:
    result = invoke("verify", "--repo", history)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"verified {history}: ")
    assert re.search(r"\b2 runs, 1 approvals?\b", flat(result.stdout)), result.stdout


def test_verify_names_a_changed_object(history_copy: Path) -> None:
    sha = stored_runs(history_copy)[0].run.artefacts[0].sha256
    target = history_copy / "objects" / sha[:2] / sha[2:]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.chmod(0o644)
    target.write_bytes(bytes(data))

    result = invoke("verify", "--repo", history_copy)

    assert result.exit_code == 1
    assert result.stdout == ""
    text = flat(result.stderr)
    assert text.startswith(f"verification failed for {history_copy}:")
    assert f"objects/{sha[:2]}/{sha[2:]}" in text
    assert "Traceback" not in result.output


def test_keygen_writes_a_pair_and_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "nested" / "key"

    made = invoke("keygen", "-o", key)

    assert made.exit_code == 0, made.stderr
    assert key.is_file() and key.with_suffix(".pub").is_file()
    assert "-----BEGIN PRIVATE KEY-----" in key.read_text()
    assert "fingerprint ed25519:" in flat(made.stdout)
    before = snapshot(tmp_path)

    again = invoke("keygen", "-o", key)

    assert error_of(again) == msg.KEY_EXISTS.format(path=key)
    assert snapshot(tmp_path) == before


def test_approve_then_runs_list_shows_it(history_copy: Path, tmp_path: Path) -> None:
    key = tmp_path / "k"
    assert invoke("keygen", "-o", key).exit_code == 0

    result = invoke("approve", "latest", "--by", "Grace", "--key", key, "--repo", history_copy)
    again = invoke("approve", "1", "--by", "Grace", "--key", key, "--repo", history_copy)

    first = stored_runs(history_copy)[0]
    assert result.exit_code == 0 and again.exit_code == 0, result.stderr + again.stderr
    assert f"approved run {first.id[:12]} (verdict {first.run.verdict.status}) by Grace" in (
        again.stdout
    )
    data = json.loads(invoke("runs", "list", "--json", "--repo", history_copy).stdout)
    assert [r["approved"] for r in data] == [True, True]
    shown = invoke("runs", "show", "1", "--repo", history_copy).stdout
    assert "approved by Grace" in shown
    assert invoke("verify", "--repo", history_copy).exit_code == 0


def test_export_a_bundle_that_verifies_until_a_byte_changes(
    history: Path, unchanged: None, tmp_path: Path
) -> None:
    bundle = tmp_path / "b.tar"

    exported = invoke("export", "latest", "-o", bundle, "--repo", history)
    verified = invoke("verify", bundle)

    assert exported.exit_code == 0, exported.stderr
    assert flat(exported.stdout).startswith(f"wrote {bundle}; ")
    assert verified.exit_code == 0, verified.stderr
    assert re.search(r"\b1 runs?, 1 approvals?\b", flat(verified.stdout)), verified.stdout

    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data))
    broken = invoke("verify", bundle)

    assert broken.exit_code == 1
    assert flat(broken.stderr).startswith(f"verification failed for {bundle}:")
    assert "Traceback" not in broken.output


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_report_to_stdout_and_to_a_file(
    history: Path, unchanged: None, tmp_path: Path, fmt: str
) -> None:
    path = tmp_path / "sub" / f"report.{FORMATS[fmt]}"

    shown = invoke("report", "latest", "--format", fmt, "--repo", history)
    written = invoke("report", "2", "-f", fmt, "-o", path, "--repo", history)

    assert shown.exit_code == 0 and written.exit_code == 0, shown.stderr + written.stderr
    assert shown.stdout == path.read_text(encoding="utf-8")
    assert written.stdout.strip() == f"wrote {path}"
    second = stored_runs(history)[1]
    if fmt == "json":
        data = validate_results(shown.stdout)
        assert data["run_id"] == second.id
        assert [a["by"] for a in data["approvals"]] == ["Ada Lovelace"]
    elif fmt == "junit":
        assert ET.fromstring(shown.stdout).tag == "testsuites"
    else:
        assert second.id[:12] in shown.stdout


def test_report_with_an_unknown_format_is_a_usage_error(history: Path, unchanged: None) -> None:
    result = invoke("report", "latest", "--format", "pdf", "--repo", history)

    assert error_of(result) == (
        "--format 'pdf' is not a report format. Use one of: html, json, junit, md."
    )


# demo --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    """``assay demo`` run once: (its folder, its repository, the CLI result)."""
    base = tmp_path_factory.mktemp("demo")
    folder, repo = base / "D", base / "R"
    result = invoke("demo", "--dir", folder, "--repo", repo)
    return folder, repo, result


def test_demo_runs_end_to_end(demo: tuple[Path, Path, Any]) -> None:
    folder, repo, result = demo

    assert result.exit_code == 0, result.stderr
    run = latest(repo)
    assert verdict_printed(result.stdout) == run.run.verdict.status
    assert f"run {run.id[:12]}" in result.stdout
    for fmt, ext in FORMATS.items():
        path = folder / "reports" / f"report.{ext}"
        assert path.is_file()
        assert f"wrote {fmt:5} report {path}" in result.stdout
    data = validate_results((folder / "reports" / "report.json").read_text(encoding="utf-8"))
    assert data["run_id"] == run.id
    verified = invoke("verify", "--repo", repo)
    assert verified.exit_code == 0, verified.stderr


def test_demo_finds_something_real_and_shows_a_waiver(demo: tuple[Path, Path, Any]) -> None:
    _, repo, _ = demo
    run = latest(repo).run

    statuses = {f.status.value for f in run.findings}
    assert statuses & {"fail", "warn"}, statuses
    waived = [f for f in run.findings if f.status.value == "waived"]
    assert waived
    assert all(f.waiver is not None and f.waiver.approver for f in waived)
    assert not [f for f in run.findings if f.status.value == "error"]


def test_examples_spec_is_the_demo_spec(demo: tuple[Path, Path, Any]) -> None:
    folder, _, _ = demo

    expected = SHA256.sub("<sha256>", EXAMPLE_SPEC.read_text(encoding="utf-8"))
    written = SHA256.sub("<sha256>", (folder / "assay.yaml").read_text(encoding="utf-8"))

    assert written == expected


# the module entry point --------------------------------------------------------------------


def test_python_m_assay_prints_the_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assay", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"assay {__version__}\n"


def test_the_entry_point_keeps_the_exit_code_and_flushes_the_message(tmp_path: Path) -> None:
    """main() ends the process without interpreter teardown: nothing written may be lost."""
    result = subprocess.run(
        [sys.executable, "-m", "assay", "audit", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 2
    assert "missing.yaml: no such spec file" in result.stderr
    assert "Traceback" not in result.stderr


def test_exit_codes_of_the_entry_point() -> None:
    from assay.cli import _exit_code

    assert (_exit_code(None), _exit_code(0), _exit_code(1), _exit_code(2)) == (0, 0, 1, 2)
