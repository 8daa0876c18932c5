"""governance.documents and security.threat_model: documents present, filled, versioned, current."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _governance_docs import COMPLETE, MODEL_CARD, THREATS
from assay.api import execute
from assay.checks._registry import Finding, Status
from assay.spec.loader import spec_from_mapping


def audit(root: Path, docs: dict[str, Any], *, data_newer: bool = False) -> list[Finding]:
    folder = root / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        path = folder / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        os.utime(path, (1_700_000_000, 1_700_000_000))
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0]}), root / "train.parquet")
    stamp = 1_800_000_000 if data_newer else 1_600_000_000
    os.utime(root / "train.parquet", (stamp, stamp))
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "docs"},
            "owners": {"default": "ml@example.org"},
            "datasets": {"train": {"path": "train.parquet"}},
            "documents": "documents",
        },
        base_dir=root,
    )
    return [
        f
        for f in execute(spec).run.findings
        if f.check_id in ("governance.documents", "security.threat_model")
    ]


def by_subject(findings: list[Finding]) -> dict[str, Finding]:
    return {f.subject: f for f in findings}


def test_complete_documents_pass(tmp_path: Path) -> None:
    found = by_subject(audit(tmp_path, COMPLETE))
    assert len(found) == 8 + 6
    assert {f.status for f in found.values()} == {Status.PASS}, [
        f.message for f in found.values() if f.status is not Status.PASS
    ]
    assert found["threat_model:evasion"].message == (
        "evasion: inputs validated against the schema (owner: platform@example.org)."
    )
    assert "the rollback section of runbook.md" in found["documents:rollback"].message


def test_missing_documents_fail_naming_the_owner(tmp_path: Path) -> None:
    docs = {k: v for k, v in COMPLETE.items() if k not in ("training_log.md", "threat_model.md")}
    found = by_subject(audit(tmp_path, docs))
    log = found["documents:training_log"]
    assert log.status is Status.FAIL and log.metrics == {"missing_count": 1}
    assert log.message.endswith("owner: ml@example.org.")
    assert found["threat_model"].status is Status.FAIL
    assert found["threat_model"].metrics["missing_threats"] == 6


def test_unfilled_sections_and_placeholders_warn(tmp_path: Path) -> None:
    card = MODEL_CARD.replace("Not for pricing.", "TODO").replace(
        "## Ethical considerations\nAudited for parity by region.\n", ""
    )
    card += "\nContact: <fill in the owner's name>\n"
    found = by_subject(audit(tmp_path, {**COMPLETE, "model_card.md": card}))
    finding = found["documents:model_card"]
    assert finding.status is Status.WARN
    assert finding.metrics["missing_sections"] == 1 and finding.metrics["placeholder_count"] == 2
    assert "missing section(s): ethical considerations" in finding.message


def test_a_document_older_than_the_data_is_stale(tmp_path: Path) -> None:
    found = by_subject(audit(tmp_path, COMPLETE, data_newer=True))
    card = found["documents:model_card"]
    assert card.status is Status.WARN and card.metrics["stale_count"] == 1
    assert "before train.parquet" in card.message
    assert found["documents:training_log"].status is Status.PASS  # a log need not be current


def test_an_unreadable_document_is_named(tmp_path: Path) -> None:
    found = by_subject(audit(tmp_path, {**COMPLETE, "notes.md": b"caf\xe9\n"}))
    bad = found["documents/notes.md"]
    assert bad.status is Status.FAIL
    assert bad.message.startswith("documents/notes.md is not UTF-8 text (byte 3: b'\\xe9')")


def test_incomplete_threats_fail(tmp_path: Path) -> None:
    threats = THREATS.replace("| data pinned by sha256 |", "| |")
    found = by_subject(audit(tmp_path, {**COMPLETE, "threat_model.md": threats}))
    poisoning = found["threat_model:data poisoning"]
    assert poisoning.status is Status.FAIL and "without mitigation" in poisoning.message


@pytest.mark.skipif(
    subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
    reason="git is not installed",
)
def test_git_state_is_the_version(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    found = by_subject(audit(tmp_path, COMPLETE))
    assert found["documents:model_card"].status is Status.WARN
    assert "not committed to git" in found["documents:model_card"].message
    git("add", "documents")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "docs")
    (tmp_path / "documents" / "runbook.md").write_text(COMPLETE["runbook.md"] + "\nmore\n")
    found = by_subject(audit(tmp_path, {}))
    assert found["documents:model_card"].status is Status.PASS
    assert "committed in git" in found["documents:model_card"].message
    runbook = found["documents:runbook"]
    assert runbook.status is Status.WARN and "changed since its last git commit" in runbook.message
