"""The runner: planning, errors as findings, policy (thresholds, waivers, verdict), secrets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from assay import Severity, Status
from assay.api import execute
from assay.checks._registry import REGISTRY, check
from assay.runner import REDACTED, plan, run_audit
from assay.spec import spec_from_mapping

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def table(rows: int = 40) -> pa.Table:
    return pa.table(
        {
            "x": [float(i % 7) if i % 10 else None for i in range(rows)],
            "group": ["a", "b"] * (rows // 2),
            "y": [i % 2 for i in range(rows)],
        }
    )


def spec_of(**extra: Any) -> Any:
    data: dict[str, Any] = {
        "version": 1,
        "system": {"name": "runner-test"},
        "owners": {"default": "owner@example.org"},
        "datasets": {"train": {"data": table(), "target": "y"}},
    }
    data.update(extra)
    return spec_from_mapping(data)


def by_id(findings: Any, check_id: str) -> list[Any]:
    return [f for f in findings if f.check_id == check_id]


def test_plan_skips_checks_whose_inputs_are_missing_and_says_why() -> None:
    spec = spec_of(datasets={"train": {"data": table()}})  # no target
    planned = {p.info.id: p.skip for p in plan(spec)}
    assert planned["integrity.missing_values"] is None
    assert (
        planned["integrity.class_balance"]
        == "not applicable: needs a dataset with a `target:` column"
    )
    run = run_audit(spec, now=NOW).run
    (skipped,) = by_id(run.findings, "integrity.class_balance")
    assert skipped.status is Status.SKIPPED
    assert "needs a dataset with a `target:` column" in skipped.message


def test_disabled_check_is_skipped_not_silent() -> None:
    spec = spec_of(checks={"integrity.missing_values": {"enabled": False}})
    (finding,) = by_id(run_audit(spec, now=NOW).run.findings, "integrity.missing_values")
    assert finding.status is Status.SKIPPED
    assert "disabled in the spec" in finding.message


@pytest.fixture
def exploding_check() -> Iterator[str]:
    @check("governance.test_explodes", domain="governance", title="raises", requires=("datasets",))
    def explodes(ctx: Any, params: Any) -> list[Any]:
        raise ZeroDivisionError("division by zero in a test check")

    yield "governance.test_explodes"
    del REGISTRY["governance.test_explodes"]


def test_a_check_that_raises_becomes_an_error_finding_and_the_audit_goes_on(
    exploding_check: str,
) -> None:
    run = run_audit(spec_of(), now=NOW).run
    (error,) = by_id(run.findings, exploding_check)
    assert error.status is Status.ERROR
    assert "the check raised ZeroDivisionError: division by zero in a test check" in error.message
    assert by_id(run.findings, "integrity.missing_values")  # the others still ran
    assert run.verdict.status == "pass"  # the error is major, below the default fail-on
    assert run_audit(spec_of(policy={"fail_on": "major"}), now=NOW).run.verdict.status == "fail"


def test_threshold_override_changes_the_status() -> None:
    default = by_id(run_audit(spec_of(), now=NOW).run.findings, "integrity.missing_values")
    assert {f.status for f in default if f.subject == "train:x"} == {Status.WARN}  # 10% missing
    strict = spec_of(checks={"integrity.missing_values": {"thresholds": {"missing_ratio": 0.04}}})
    (finding,) = [f for f in run_audit(strict, now=NOW).run.findings if f.subject == "train:x"]
    assert finding.status is Status.FAIL
    assert finding.threshold is not None and finding.threshold.fail == 0.04
    assert finding.threshold.warn is None  # a warn level above the fail level is dropped


def test_severity_and_owner_overrides() -> None:
    spec = spec_of(
        checks={"integrity.missing_values": {"severity": "blocker", "owner": "data@example.org"}},
        owners={"default": "owner@example.org", "integrity": "integrity@example.org"},
    )
    findings = run_audit(spec, now=NOW).run.findings
    (missing,) = [f for f in findings if f.subject == "train:x"]
    assert (missing.severity, missing.owner) == (Severity.BLOCKER, "data@example.org")
    (manifest,) = by_id(findings, "integrity.manifest")
    assert manifest.owner == "integrity@example.org"


def test_min_rows_override_turns_a_small_sample_into_a_skip() -> None:
    spec = spec_of(checks={"integrity.class_balance": {"min_rows": 1000}})
    (finding,) = by_id(run_audit(spec, now=NOW).run.findings, "integrity.class_balance")
    assert finding.status is Status.SKIPPED
    assert finding.message.startswith("insufficient data: n=40, need 1000")


@pytest.mark.parametrize(("expires", "waived"), [("2026-11-26", True), ("2026-11-25", False)])
def test_waiver_applies_until_it_expires(expires: str, waived: bool) -> None:
    waiver = {
        "check": "integrity.missing_values",
        "subject": "train:*",
        "reason": "x is optional",
        "approver": "lead@example.org",
        "expires": expires,
    }
    strict = {
        "integrity.missing_values": {"thresholds": {"missing_ratio": 0.05}, "severity": "blocker"}
    }
    run = run_audit(spec_of(checks=strict, waivers=[waiver]), now=NOW).run
    (finding,) = [f for f in run.findings if f.subject == "train:x"]
    if waived:
        assert finding.status is Status.WAIVED
        assert finding.waiver is not None and finding.waiver.approver == "lead@example.org"
        assert run.verdict.status == "pass"
    else:
        assert finding.status is Status.FAIL
        assert "expired on 2026-11-25 and no longer applies" in finding.message
        assert run.verdict.status == "fail"
        assert run.verdict.blocking == (("integrity.missing_values", "train:x"),)


def test_verdict_counts_every_status() -> None:
    run = run_audit(spec_of(), now=NOW).run
    assert sum(run.verdict.counts.values()) == len(run.findings)
    assert run.verdict.fail_on is Severity.BLOCKER


def test_same_spec_gives_the_same_findings() -> None:
    first = run_audit(spec_of(), now=NOW).run
    second = run_audit(spec_of(), now=NOW).run
    assert [f.to_json() for f in first.findings] == [f.to_json() for f in second.findings]
    assert first.id == second.id or first.environment == second.environment


def test_the_spec_is_stored_byte_for_byte_when_it_holds_no_secret(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table(), tmp_path / "train.parquet")
    text = (
        "# my spec\nversion: 1\nsystem: {name: s}\n"
        "datasets:\n  train: {path: train.parquet, target: y}\n"
    )
    (tmp_path / "assay.yaml").write_text(text)
    result = execute(tmp_path / "assay.yaml", repo=tmp_path / "repo", now=NOW)
    (stored,) = [a for a in result.run.artefacts if a.name == "spec/assay.yaml"]
    assert result.repository is not None
    assert result.repository.get(stored.sha256) == text.encode()
    assert result.run.spec_sha256 == stored.sha256


def test_a_spec_with_a_secret_is_stored_redacted() -> None:
    from assay.runner import _stored_spec

    spec = spec_of()
    spec._raw = b"version: 1\nsystem: {name: s}\nmodel: {url: 'http://x', api_key: sk-live-123}\n"
    stored, media = _stored_spec(spec)
    assert b"sk-live-123" not in stored and REDACTED.encode() in stored
    assert media == "application/yaml"


def test_redaction_replaces_secret_values() -> None:
    from assay.runner import _redact

    data = {
        "model": {"api_key": "sk-123", "url": "http://x", "api_key_env": "OPENAI_API_KEY"},
        "list": [{"password": "p"}],
        "token": "",
    }
    redacted, changed = _redact(data)
    assert changed
    assert redacted == {
        "model": {"api_key": REDACTED, "url": "http://x", "api_key_env": "OPENAI_API_KEY"},
        "list": [{"password": REDACTED}],
        "token": "",
    }


def test_the_documents_folder_is_stored_with_the_run(tmp_path: Path) -> None:
    docs = tmp_path / "documents"
    (docs / "sub").mkdir(parents=True)
    (docs / "model_card.md").write_text("# Model card\n")
    (docs / "sub" / "notes.txt").write_text("notes\n")
    (docs / ".hidden").write_text("not evidence\n")
    (docs / "big.bin").write_bytes(b"\0" * (2_000_001))
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "docs"},
            "datasets": {"train": {"data": table(), "target": "y"}},
            "documents": "documents",
        },
        base_dir=tmp_path,
    )
    outcome = run_audit(spec, now=NOW)
    stored = {a.name: a for a in outcome.run.artefacts}
    assert outcome.blobs[stored["documents/model_card.md"].sha256] == b"# Model card\n"
    assert stored["documents/model_card.md"].media_type == "text/markdown"
    assert outcome.blobs[stored["documents/sub/notes.txt"].sha256] == b"notes\n"
    assert "documents/.hidden" not in stored and "documents/big.bin" not in stored
    listed = outcome.blobs[stored["documents/_not_stored.json"].sha256]
    assert b'"path":"big.bin"' in listed


def test_an_audit_result_loads_evidence_by_a_findings_reference() -> None:
    result = execute(spec_of())
    finding = next(f for f in result.run.findings if f.evidence)
    reference = finding.evidence[0]
    assert result.load(reference) == result.load(reference.removeprefix("sha256:"))
