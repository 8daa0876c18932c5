"""Repository verification: every object re-hashed, every ledger link checked."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assay.errors import VerificationError
from assay.evidence import Repository
from assay.evidence import _messages as msg
from assay.run import canonical_json, sha256_hex


def short(sha: str | None) -> str:
    return "null" if sha is None else f"{sha[:12]}…"


def object_path(repo: Repository, sha: str) -> Path:
    return repo.path / "objects" / sha[:2] / sha[2:]


def entry_path(repo: Repository, seq: int) -> Path:
    return repo.path / "ledger" / f"{seq:08d}.json"


def overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def append_entry(repo: Repository, kind: str, obj: str) -> Path:
    """Append a well-formed ledger entry by hand, as a forger would."""
    seqs = sorted(int(p.stem) for p in (repo.path / "ledger").glob("*.json"))
    last = seqs[-1] if seqs else 0
    prev = sha256_hex(entry_path(repo, last).read_bytes()) if last else None
    entry = {
        "seq": last + 1,
        "kind": kind,
        "object": obj,
        "prev": prev,
        "time": "2025-01-01T00:00:00Z",
    }
    path = entry_path(repo, last + 1)
    path.write_bytes(canonical_json(entry))
    return path


@pytest.fixture
def filled(repo: Repository, make_run) -> Repository:
    for n in (1, 2, 3):
        repo.store_run(*make_run(n))
    return repo


def test_a_clean_repository_verifies(filled: Repository) -> None:
    report = filled.verify()
    assert report.ok
    assert report.problems == [] and report.notes == [] and report.unreferenced == []
    assert report.checked == {
        "objects": 6,
        "entries": 3,
        "runs": 3,
        "approvals": 0,
        "artefacts": 3,
        "attachments": 0,
        "attachment_files": 0,
    }
    report.raise_for_problems()  # nothing to raise
    assert report.to_json()["ok"] is True


def test_a_flipped_byte_in_an_object_names_that_object(filled: Repository) -> None:
    run_id = filled.resolve("#2").id
    path = object_path(filled, run_id)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    overwrite(path, bytes(data))

    report = filled.verify()

    assert not report.ok
    label = f"objects/{run_id[:2]}/{run_id[2:]}"
    assert report.problems[0] == msg.V_OBJECT_CHANGED.format(
        path=label, actual=short(sha256_hex(bytes(data))), expected=short(run_id)
    )
    assert report.problems[1] == msg.V_ENTRY_OBJECT_CHANGED.format(
        path="ledger/00000002.json",
        kind="run",
        object_path=label,
        actual=short(sha256_hex(bytes(data))),
    )
    with pytest.raises(VerificationError) as caught:
        report.raise_for_problems()
    assert str(caught.value) == f"{report.problems[0]} (and 1 more problem)"


def test_a_changed_artefact_is_named(filled: Repository) -> None:
    stored = filled.resolve("#1")
    artefact = stored.run.artefacts[0]
    overwrite(object_path(filled, artefact.sha256), b"forged")

    problems = filled.verify().problems

    label = f"objects/{artefact.sha256[:2]}/{artefact.sha256[2:]}"
    assert problems[0].startswith(f"{label}: content hashes to")
    assert problems[1] == msg.V_ARTEFACT_CHANGED.format(
        path="ledger/00000001.json",
        run=short(stored.id),
        name=artefact.name,
        object_path=label,
        actual=short(sha256_hex(b"forged")),
    )


def test_a_missing_artefact_is_named(filled: Repository) -> None:
    stored = filled.resolve("#3")
    artefact = stored.run.artefacts[0]
    object_path(filled, artefact.sha256).unlink()

    assert filled.verify().problems == [
        msg.V_ARTEFACT_MISSING.format(
            path="ledger/00000003.json",
            run=short(stored.id),
            name=artefact.name,
            object_path=f"objects/{artefact.sha256[:2]}/{artefact.sha256[2:]}",
        )
    ]


def test_an_edited_ledger_entry_breaks_the_next_link(filled: Repository) -> None:
    path = entry_path(filled, 2)
    entry = json.loads(path.read_bytes())
    entry["time"] = "2030-01-01T00:00:00Z"
    edited = canonical_json(entry)
    overwrite(path, edited)

    report = filled.verify()

    assert report.problems == [
        msg.V_PREV.format(
            path="ledger/00000003.json",
            prev=short(json.loads(entry_path(filled, 3).read_bytes())["prev"]),
            previous_path="ledger/00000002.json",
            actual=short(sha256_hex(edited)),
        )
    ]
    assert "the chain is broken here" in report.problems[0]


def test_a_reformatted_entry_is_reported(filled: Repository) -> None:
    path = entry_path(filled, 3)
    (filled.path / "index.sqlite").unlink()  # no witness of the newest entry
    overwrite(path, json.dumps(json.loads(path.read_bytes()), indent=2).encode())
    assert filled.verify().problems == [
        msg.V_ENTRY_NOT_CANONICAL.format(path="ledger/00000003.json")
    ]


def test_a_deleted_entry_is_a_gap(filled: Repository) -> None:
    entry_path(filled, 2).unlink()
    assert filled.verify().problems == [
        msg.V_LEDGER_GAP.format(path="ledger/00000002.json", before=1, after=3)
    ]


def test_a_garbled_entry_is_reported(filled: Repository) -> None:
    overwrite(entry_path(filled, 1), b"{garbage")
    problems = filled.verify().problems
    assert problems[0].startswith("ledger/00000001.json: not valid JSON")
    assert problems[0].endswith("(the entry was changed)")
    assert problems[1].startswith("ledger/00000002.json: prev is ")


def test_a_run_with_the_wrong_previous_is_reported(filled: Repository, make_run) -> None:
    run, blobs = make_run(4)
    for data in blobs.values():
        filled.put(data)
    forged = run.with_previous(filled.resolve("#1").id)  # skips runs 2 and 3
    run_id = filled.put(forged.to_bytes())
    append_entry(filled, "run", run_id)

    assert filled.verify().problems == [
        msg.V_PREVIOUS.format(
            path="ledger/00000004.json",
            run=short(run_id),
            found=short(forged.previous),
            expected=short(filled.resolve("#3").id),
        )
    ]


def test_an_entry_whose_object_is_missing(filled: Repository) -> None:
    missing = sha256_hex(b"never stored")
    append_entry(filled, "run", missing)
    assert filled.verify().problems == [
        msg.V_ENTRY_OBJECT_MISSING.format(
            path="ledger/00000004.json",
            kind="run",
            object_path=f"objects/{missing[:2]}/{missing[2:]}",
        )
    ]


def test_a_changed_format_marker_is_reported(filled: Repository) -> None:
    (filled.path / "FORMAT").write_text('{"format":"assay-repository","version":1,"x":1}')
    problems = filled.verify().problems
    assert len(problems) == 1
    assert problems[0].startswith("FORMAT: holds")


def test_leftovers_of_interrupted_writes_are_notes(filled: Repository) -> None:
    orphan = filled.put(b"written, never committed")
    run_id = filled.resolve("latest").id
    leftovers = [
        filled.path / "objects" / run_id[:2] / ".tmp-abc123",
        filled.path / "objects" / ".tmp-dir",
        filled.path / "ledger" / ".tmp-xyz",
        filled.path / ".tmp-index-1.sqlite",
    ]
    for path in leftovers[:1] + leftovers[2:]:
        path.write_bytes(b"half")
    leftovers[1].mkdir()

    report = filled.verify()

    assert report.ok
    assert report.unreferenced == [orphan]
    assert sorted(report.notes) == sorted(
        [
            msg.N_TEMP.format(path=f"objects/{run_id[:2]}/.tmp-abc123"),
            msg.N_TEMP.format(path="objects/.tmp-dir"),
            msg.N_TEMP.format(path="ledger/.tmp-xyz"),
            msg.N_UNREFERENCED.format(path=f"objects/{orphan[:2]}/{orphan[2:]}"),
        ]
    )
    assert [r.seq for r in filled.runs()] == [1, 2, 3]


def test_first_problem_comes_first(filled: Repository) -> None:
    """Objects are checked before the ledger, and the ledger from entry 1 on."""
    stored = filled.resolve("#3")
    overwrite(object_path(filled, stored.run.artefacts[0].sha256), b"x")
    entry_path(filled, 2).unlink()
    problems = filled.verify().problems
    assert problems[0].startswith("objects/")
    assert problems[1].startswith("ledger/00000002.json is missing")
    assert problems[2].startswith("ledger/00000003.json: run ")


def test_verify_after_store_of_a_run_with_many_artefacts(repo: Repository, make_run) -> None:
    run, blobs = make_run(1, artefacts=20)
    repo.store_run(run, blobs)
    assert repo.verify().checked["artefacts"] == 20
    assert repo.verify().ok


def test_previous_of_a_replaced_run_record(filled: Repository) -> None:
    """A record swapped for one with another id no longer matches its entry's object."""
    stored = filled.resolve("#2")
    forged = replace(stored.run, tool_version="9.9.9")
    overwrite(object_path(filled, stored.id), forged.to_bytes())
    problems = filled.verify().problems
    assert problems[0].endswith("(the object was changed)")


def test_the_index_witnesses_the_newest_entry(filled: Repository) -> None:
    """Nothing links to the newest entry; the index remembers its hash."""
    path = entry_path(filled, 3)
    entry = json.loads(path.read_bytes())
    original = sha256_hex(path.read_bytes())
    entry["time"] = "2030-01-01T00:00:00Z"
    overwrite(path, canonical_json(entry))
    assert filled.verify().problems == [
        msg.V_REPLACED.format(
            path="ledger/00000003.json",
            actual=short(sha256_hex(canonical_json(entry))),
            expected=short(original),
        )
    ]
    path.unlink()
    assert filled.verify().problems == [msg.V_TRUNCATED.format(path="ledger/00000003.json")]
