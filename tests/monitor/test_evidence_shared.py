"""Shared evidence: the repository's attach interface over the monitor's database, replayed
into an evidence folder's ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from _service_support import audited

from _cli_support import invoke
from assay.monitor.evidence import SharedEvidence
from assay.monitor.store.db import Database

WHEN = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_attach_read_and_sync_into_the_folder(tmp_path: Path, db: Database) -> None:
    _, repo, run_id = audited(tmp_path)
    shared = SharedEvidence(db)
    record = json.dumps({"scenario": "input_shift", "passed": True, "finished": 1.0}).encode()
    stored = shared.attach(
        run_id, "monitor_drill", [("drill-input_shift.json", "application/json", record)], now=WHEN
    )
    again = shared.attach(
        run_id, "monitor_drill", [("drill-input_shift.json", "application/json", record)], now=WHEN
    )
    assert again.id == stored.id and again.seq == stored.seq  # the same record, stored once
    (found,) = shared.attachments_of_kind("monitor_drill")
    assert found.attachment == stored.attachment
    assert shared.get(found.attachment.files[0].sha256) == record
    assert repo.attachments_of_kind("monitor_drill") == []

    assert shared.sync(repo) == 1
    assert shared.sync(repo) == 0  # idempotent
    (synced,) = repo.attachments_of_kind("monitor_drill")
    assert synced.attachment.created == "2027-01-02T03:04:05Z"
    assert synced.id == stored.id  # the same assay.attachment/1 bytes in the ledger
    assert repo.get(synced.attachment.files[0].sha256) == record
    assert repo.verify().ok


def test_sync_leaves_runs_the_folder_does_not_hold(tmp_path: Path, db: Database) -> None:
    _, repo, _ = audited(tmp_path)
    shared = SharedEvidence(db)
    shared.attach("ab" * 32, "monitor_snapshot", [("s.jsonl", "application/x-ndjson", b"{}\n")])
    assert shared.sync(repo) == 0
    assert repo.attachments_of_kind("monitor_snapshot") == []


def test_the_sync_command(tmp_path: Path, db: Database, db_url: str) -> None:
    _, repo, run_id = audited(tmp_path)
    SharedEvidence(db).attach(run_id, "monitor_snapshot", [("s.jsonl", "text/plain", b"x")])
    result = invoke("monitor", "evidence-sync", "--db", db_url, "--repo", repo.path)
    assert result.exit_code == 0, result.stderr
    assert "synced 1 attachment(s)" in result.stdout
    assert len(repo.attachments_of_kind("monitor_snapshot")) == 1
