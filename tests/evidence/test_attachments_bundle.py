"""Attachments in exported bundles, and attaching under SIGKILL."""

from __future__ import annotations

import io
import json
import random
import signal
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assay.evidence import Attachment, Repository, StoredAttachment, verify_bundle
from assay.evidence import _messages as msg
from assay.evidence.bundle import write_canonical
from assay.run import sha256_hex

MOMENT = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
CARD = [
    ("model_card.md", "text/markdown", b"# Model card\n"),
    ("model_card.html", "text/html", b"<h1>Model card</h1>"),
]
SHEET = [("datasheet.md", "text/markdown", b"# Datasheet\n")]


def obj(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha[2:]}"


def short(sha: str) -> str:
    return f"{sha[:12]}…"


def members_of(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def write_members(path: Path, members: dict[str, bytes]) -> None:
    with path.open("wb") as handle:
        write_canonical(
            handle, [(n, len(d), lambda d=d: io.BytesIO(d)) for n, d in members.items()]
        )


@pytest.fixture
def attached(
    repo: Repository, make_run, keypair, tmp_path: Path
) -> tuple[Repository, list[StoredAttachment], Path]:
    """Run 1; run 2 (2 artefacts) with a card (3), a card of run 1 (4), approval of run 2 (5),
    a datasheet of run 2 (6), run 3 (7). Run 2 exported."""
    repo.store_run(*make_run(1))
    repo.store_run(*make_run(2, artefacts=2))
    card = repo.attach("#2", "model_card", CARD, now=MOMENT)
    repo.attach("#1", "model_card", CARD, now=MOMENT)
    repo.approve("#2", by="Ada", private_key_path=keypair[0], now=MOMENT)
    sheet = repo.attach("#2", "datasheet", SHEET, now=MOMENT)
    repo.store_run(*make_run(3))
    bundle = repo.export("#2", tmp_path / "run2.tar")
    return repo, [card, sheet], bundle


def test_a_bundle_carries_the_runs_attachments(attached) -> None:
    repo, (card, sheet), bundle = attached
    run = repo.resolve("#2")
    other = repo.attachments("#1")[0]
    members = members_of(bundle)

    expected = {"bundle.json", *(f"ledger/{s:08d}.json" for s in range(1, 7))}
    expected |= {obj(run.id), *(obj(a.sha256) for a in run.run.artefacts)}
    expected |= {obj(repo.approvals("#2")[0].id), obj(card.id), obj(sheet.id)}
    expected |= {obj(f.sha256) for a in (card, sheet) for f in a.attachment.files}
    assert set(members) == expected
    assert obj(other.id) not in members  # run 1's card stays out; its entry is a link only
    manifest = json.loads(members["bundle.json"])
    assert manifest["version"] == 2
    assert (manifest["run_seq"], manifest["approvals"], manifest["attachments"]) == (2, [5], [3, 6])
    roles = {o["sha256"]: o["role"] for o in manifest["objects"]}
    assert roles[card.id] == roles[sheet.id] == "attachment"
    assert {roles[f.sha256] for a in (card, sheet) for f in a.attachment.files} == {
        "attachment_file"
    }
    assert members[obj(card.attachment.file("model_card.md").sha256)] == CARD[0][2]


def test_a_bundle_with_attachments_verifies_on_its_own(attached, tmp_path: Path) -> None:
    _, _, bundle = attached
    moved = tmp_path / "elsewhere.tar"
    bundle.rename(moved)

    report = verify_bundle(moved)

    assert report.problems == []
    assert report.checked == {
        "members": 16,
        "objects": 9,
        "entries": 6,
        "runs": 1,
        "approvals": 1,
        "artefacts": 2,
        "attachments": 2,
        "attachment_files": 3,
    }


def test_export_with_attachments_is_deterministic(attached, tmp_path: Path) -> None:
    repo, _, bundle = attached
    again = repo.export(repo.resolve("#2").id, tmp_path / "again.tar")
    assert again.read_bytes() == bundle.read_bytes()


def test_a_run_without_attachments_gives_a_version_1_bundle(attached, tmp_path: Path) -> None:
    repo, _, _ = attached
    bundle = repo.export("latest", tmp_path / "run3.tar")
    manifest = json.loads(members_of(bundle)["bundle.json"])
    assert manifest["version"] == 1 and "attachments" not in manifest
    assert verify_bundle(bundle).ok


def test_a_flipped_byte_in_an_attached_file_is_caught(attached) -> None:
    _, (card, _), bundle = attached
    sha = card.attachment.file("model_card.html").sha256
    members = members_of(bundle)
    changed = bytearray(members[obj(sha)])
    changed[len(changed) // 2] ^= 0x01
    members[obj(sha)] = bytes(changed)
    write_members(bundle, members)  # the same tar layout: only the member's bytes differ

    report = verify_bundle(bundle)

    assert report.problems[0] == msg.V_ATTACHED_CHANGED.format(
        path=f"{bundle.name}:ledger/00000003.json",
        kind="model_card",
        name="model_card.html",
        object_path=f"{bundle.name}:{obj(sha)}",
        actual=short(sha256_hex(bytes(changed))),
    )


def test_a_flipped_byte_anywhere_in_the_file_is_caught(attached) -> None:
    _, (card, _), bundle = attached
    data = bytearray(bundle.read_bytes())
    sha = card.attachment.file("model_card.md").sha256
    with tarfile.open(bundle) as tar:
        offset = tar.getmember(obj(sha)).offset_data
    data[offset] ^= 0x01
    bundle.write_bytes(bytes(data))

    report = verify_bundle(bundle)

    assert not report.ok
    assert any("model_card.md" in p and "(the file was changed)" in p for p in report.problems)


def test_a_missing_attached_file_is_caught(attached) -> None:
    _, (_, sheet), bundle = attached
    sha = sheet.attachment.file("datasheet.md").sha256
    members = members_of(bundle)
    del members[obj(sha)]
    write_members(bundle, members)

    report = verify_bundle(bundle)

    assert report.problems[0] == msg.V_ATTACHED_MISSING.format(
        path=f"{bundle.name}:ledger/00000006.json",
        kind="datasheet",
        name="datasheet.md",
        object_path=f"{bundle.name}:{obj(sha)}",
    )


def test_an_attachment_of_another_run_in_the_manifest_is_caught(attached) -> None:
    repo, _, bundle = attached
    members = members_of(bundle)
    manifest = json.loads(members["bundle.json"])
    manifest["attachments"] = [3, 4, 6]
    other = repo.attachments("#1")[0]
    members[obj(other.id)] = repo.get(other.id)
    members["bundle.json"] = json.dumps(manifest).encode()
    write_members(bundle, members)

    report = verify_bundle(bundle)

    assert (
        msg.B_ATTACHMENT_OTHER.format(
            path=f"{bundle.name}:ledger/00000004.json",
            kind="model_card",
            run=short(other.attachment.run),
            expected=short(repo.resolve("#2").id),
        )
        in report.problems
    )


def test_a_manifest_naming_an_attachment_as_an_approval_is_caught(attached) -> None:
    _, _, bundle = attached
    members = members_of(bundle)
    manifest = json.loads(members["bundle.json"])
    manifest["approvals"] = [5, 3]  # entry 3 is an attachment, not an approval
    members["bundle.json"] = json.dumps(manifest).encode()
    write_members(bundle, members)

    report = verify_bundle(bundle)

    assert (
        msg.B_MISSING.format(
            path=bundle, name="ledger/00000003.json", what="an approval entry, not an attachment"
        )
        in report.problems
    )


def test_an_attached_file_equal_to_an_artefact_is_bundled_once(
    repo: Repository, make_run, tmp_path: Path
) -> None:
    run, blobs = make_run(1)
    repo.store_run(run, blobs)
    (artefact,) = blobs.values()
    card = repo.attach("latest", "model_card", [("copy.json", "application/json", artefact)])
    bundle = repo.export("latest", tmp_path / "b.tar")

    manifest = json.loads(members_of(bundle)["bundle.json"])
    roles = {o["sha256"]: o["role"] for o in manifest["objects"]}
    assert roles[card.attachment.files[0].sha256] == "artefact"
    report = verify_bundle(bundle)
    assert report.problems == []
    assert report.checked["attachment_files"] == 1


# -- crash safety -------------------------------------------------------------------------

# A writer: stores a run, then attaches cards to it until killed.
WRITER = """
import sys
from assay.checks._registry import Finding, Severity, Status
from assay.evidence import Repository
from assay.run import Run, compute_verdict

root, tag = sys.argv[1], sys.argv[2]
repo = Repository.open(root)
findings = [Finding("integrity.missing_values", "integrity", "age", Status.PASS, Severity.MAJOR,
                    "data-team", "ok")]
run = Run(created="2025-01-01T00:00:00Z", tool_version="0.1.0",
          system={"name": "crash", "version": tag}, seed=1, spec_sha256="0" * 64, inputs=[],
          environment={}, findings=findings, verdict=compute_verdict(findings, Severity.MAJOR))
stored = repo.store_run(run, {})
n = 0
while True:
    n += 1
    body = f"# {tag} card {n}\\n".encode() * 200
    repo.attach(stored.id, "model_card", [("card.md", "text/markdown", body),
                                          ("card.html", "text/html", b"<p>" + body)])
    print("attached", flush=True)
"""


def test_sigkill_while_attaching_leaves_a_valid_repository(tmp_path: Path) -> None:
    root = tmp_path / ".assay"
    Repository.open(root)
    rng = random.Random(20250204)
    for kill in range(6):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), f"k{kill}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "attached", proc.stderr
            time.sleep(rng.uniform(0.0, 0.03))
            proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, stderr
        repo = Repository.open(root, create=False)
        report = repo.verify()
        assert report.ok, report.problems
        entries = [json.loads(p.read_bytes()) for p in sorted((root / "ledger").glob("*.json"))]
        committed = [e["object"] for e in entries if e["kind"] == "attachment"]
        listed = [a.id for r in repo.runs() for a in repo.attachments(r.id)]
        assert sorted(listed) == sorted(committed)
        for sha in committed:
            record = Attachment.from_bytes(repo.get(sha))
            assert all(repo.get(f.sha256) for f in record.files)
    assert report.checked["attachments"] >= 6
