"""Attachments: documents kept beside a stored run, committed by their own ledger entries."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assay._version import __version__
from assay.errors import REPO_NOT_WRITABLE, RUN_NOT_FOUND, RepositoryError, RunNotFoundError
from assay.evidence import (
    ATTACHMENT_SCHEMA,
    FORMAT_VERSION,
    Attachment,
    Repository,
    StoredAttachment,
    _store,
)
from assay.evidence import _messages as msg
from assay.evidence import attachment as att
from assay.run import canonical_json, sha256_hex

MOMENT = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
CARD_MD = b"# Model card\n\nCredit model 1.1: pass.\n"
CARD_HTML = b"<!doctype html><h1>Model card</h1>"
CARD = [("model_card.md", "text/markdown", CARD_MD), ("model_card.html", "text/html", CARD_HTML)]


def short(sha: str | None) -> str:
    return "null" if sha is None else f"{sha[:12]}…"


def obj(sha: str) -> str:
    return f"objects/{sha[:2]}/{sha[2:]}"


def overwrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def flip_a_byte(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    overwrite(path, bytes(data))
    return bytes(data)


def tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def append_entry(repo: Repository, kind: str, object_id: str) -> Path:
    """Append a well-formed ledger entry by hand, as a forger would."""
    seqs = sorted(int(p.stem) for p in (repo.path / "ledger").glob("*.json"))
    prev = sha256_hex((repo.path / "ledger" / f"{seqs[-1]:08d}.json").read_bytes())
    entry = {
        "seq": seqs[-1] + 1,
        "kind": kind,
        "object": object_id,
        "prev": prev,
        "time": "2025-01-01T00:00:00Z",
    }
    path = repo.path / "ledger" / f"{seqs[-1] + 1:08d}.json"
    path.write_bytes(canonical_json(entry))
    return path


def put_record(repo: Repository, record: dict[str, object]) -> str:
    return repo.put(canonical_json(record))


@pytest.fixture
def carded(repo: Repository, make_run) -> tuple[Repository, StoredAttachment]:
    """Run 1, run 2, a model card of run 1 (entry 3), run 3."""
    for n in (1, 2):
        repo.store_run(*make_run(n))
    card = repo.attach("#1", "model_card", CARD, now=MOMENT)
    repo.store_run(*make_run(3))
    return repo, card


# -- attaching and reading back -----------------------------------------------------------


def test_attach_stores_the_files_and_a_record(carded) -> None:
    repo, card = carded
    run = repo.resolve("#1")

    assert card.seq == 3
    record = card.attachment
    assert record == Attachment(
        run=run.id,
        kind="model_card",
        created="2025-02-03T04:05:06Z",
        tool_version=__version__,
        files=record.files,
    )
    assert [(f.name, f.media_type, f.sha256, f.size) for f in record.files] == [
        ("model_card.md", "text/markdown", sha256_hex(CARD_MD), len(CARD_MD)),
        ("model_card.html", "text/html", sha256_hex(CARD_HTML), len(CARD_HTML)),
    ]
    assert card.id == record.id == sha256_hex(repo.get(card.id))
    assert json.loads(repo.get(card.id)) == {
        "schema": ATTACHMENT_SCHEMA,
        "run": run.id,
        "kind": "model_card",
        "created": "2025-02-03T04:05:06Z",
        "tool_version": __version__,
        "files": [
            {
                "name": "model_card.md",
                "sha256": sha256_hex(CARD_MD),
                "media_type": "text/markdown",
                "size": len(CARD_MD),
            },
            {
                "name": "model_card.html",
                "sha256": sha256_hex(CARD_HTML),
                "media_type": "text/html",
                "size": len(CARD_HTML),
            },
        ],
    }
    assert repo.get(record.file("model_card.md").sha256) == CARD_MD
    assert repo.get(record.file("model_card.html").sha256) == CARD_HTML
    entry = json.loads((repo.path / "ledger" / "00000003.json").read_bytes())
    assert (entry["kind"], entry["object"], entry["time"]) == (
        "attachment",
        card.id,
        "2025-02-03T04:05:06Z",
    )


def test_the_run_is_not_changed(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    before = repo.get(stored.id)
    repo.attach("latest", "model_card", CARD, now=MOMENT)
    assert repo.resolve("latest") == stored
    assert repo.get(stored.id) == before
    assert [r.seq for r in repo.runs()] == [1]


def test_attachments_are_listed_oldest_first_and_by_kind(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    other = repo.store_run(*make_run(2))
    first = repo.attach(stored.id, "model_card", CARD, now=MOMENT)
    sheet = repo.attach("#1", "datasheet", [("datasheet.md", "text/markdown", b"# Data")])
    repo.attach("#2", "model_card", CARD)
    second = repo.attach(stored.id[:8], "model_card", [("model_card.md", "text/markdown", b"v2")])

    assert repo.attachments("#1") == [first, sheet, second]
    assert repo.attachments("#1", "model_card") == [first, second]
    assert repo.attachments("#1", kind="datasheet") == [sheet]
    assert repo.attachments("#1", "risk_register") == []
    assert repo.latest_attachment("#1", "model_card") == second
    assert repo.latest_attachment("#2", "datasheet") is None
    assert [a.attachment.run for a in repo.attachments(other.id)] == [other.id]
    assert repo.runs()[0].id == stored.id and len(repo.runs()) == 2


def test_the_same_card_attached_twice_is_two_entries(repo: Repository, make_run) -> None:
    repo.store_run(*make_run(1))
    a = repo.attach("latest", "model_card", CARD, now=MOMENT)
    b = repo.attach("latest", "model_card", CARD, now=MOMENT)
    assert (a.id, a.seq + 1) == (b.id, b.seq)  # deterministic record, one object, two entries
    assert repo.attachments("latest") == [a, b]
    assert repo.verify().ok


def test_attaching_to_an_unknown_run(repo: Repository, make_run) -> None:
    repo.store_run(*make_run(1))
    before = tree(repo.path)
    with pytest.raises(RunNotFoundError) as caught:
        repo.attach("beef", "model_card", CARD)
    assert str(caught.value) == RUN_NOT_FOUND.format(ref="beef", repo=repo.path, hint=msg.HINT_LIST)
    with pytest.raises(RunNotFoundError):
        repo.attachments("beef")
    assert tree(repo.path) == before


def test_an_empty_repository_has_no_run_to_attach_to(repo: Repository) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        repo.attach("latest", "model_card", CARD)
    assert str(caught.value) == RUN_NOT_FOUND.format(
        ref="latest", repo=repo.path, hint=msg.HINT_EMPTY
    )


@pytest.mark.parametrize(
    ("kind", "files", "message"),
    [
        ("Model-Card", CARD, att.KIND_INVALID.format(kind="Model-Card")),
        ("", CARD, att.KIND_INVALID.format(kind="")),
        ("9lives", CARD, att.KIND_INVALID.format(kind="9lives")),
        ("model_card", [], att.NO_FILES),
        (
            "model_card",
            [("../card.md", "text/markdown", b"x")],
            att.FILE_NAME_INVALID.format(name="../card.md"),
        ),
        (
            "model_card",
            [(".hidden", "text/markdown", b"x")],
            att.FILE_NAME_INVALID.format(name=".hidden"),
        ),
        (
            "model_card",
            [("card.md", "markdown", b"x")],
            att.MEDIA_TYPE_INVALID.format(name="card.md", media_type="markdown"),
        ),
        (
            "model_card",
            [("card.md", "text/markdown", b"x"), ("card.md", "text/markdown", b"y")],
            att.FILE_DUPLICATE.format(name="card.md"),
        ),
    ],
)
def test_bad_attachments_are_refused_before_anything_is_written(
    repo: Repository, make_run, kind: str, files, message: str
) -> None:
    repo.store_run(*make_run(1))
    before = tree(repo.path)
    with pytest.raises(ValueError) as caught:
        repo.attach("latest", kind, files)
    assert str(caught.value) == message
    assert tree(repo.path) == before


def test_media_types_with_parameters_are_accepted(repo: Repository, make_run) -> None:
    repo.store_run(*make_run(1))
    stored = repo.attach("latest", "datasheet", [("d.html", "text/html; charset=utf-8", b"<p>")])
    assert stored.attachment.files[0].media_type == "text/html; charset=utf-8"


def test_a_missing_file_name_lists_the_files(carded) -> None:
    _, card = carded
    with pytest.raises(KeyError) as caught:
        card.attachment.file("card.pdf")
    assert caught.value.args[0] == att.FILE_UNKNOWN.format(
        kind="model_card", name="card.pdf", names="'model_card.md', 'model_card.html'"
    )


def test_a_read_only_repository_refuses_to_attach(carded) -> None:
    repo, _ = carded
    before = tree(repo.path)
    read_only = Repository(_store.Store(repo.path, writable=False, lock_timeout=1))
    assert read_only.attachments("#1") == repo.attachments("#1")  # reading works
    with pytest.raises(RepositoryError) as caught:
        read_only.attach("#1", "model_card", CARD)
    problem = msg.READ_ONLY.format(action="attach documents to a run")
    assert str(caught.value) == REPO_NOT_WRITABLE.format(path=repo.path, problem=problem)
    assert tree(repo.path) == before


def test_an_attachment_entry_is_not_a_run(carded) -> None:
    repo, card = carded
    with pytest.raises(RunNotFoundError) as caught:
        repo.resolve("#3")
    hint = msg.HINT_ATTACHMENT_ENTRY.format(seq=3, kind="model_card", run=card.attachment.run[:12])
    assert str(caught.value) == RUN_NOT_FOUND.format(ref="#3", repo=repo.path, hint=hint)


# -- the record ---------------------------------------------------------------------------


def _record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "schema": ATTACHMENT_SCHEMA,
        "run": "ab" * 32,
        "kind": "model_card",
        "created": "2025-02-03T04:05:06Z",
        "tool_version": "0.1.0",
        "files": [{"name": "c.md", "sha256": "cd" * 32, "media_type": "text/markdown", "size": 3}],
    }
    record.update(changes)
    return record


def test_a_record_round_trips() -> None:
    raw = canonical_json(_record())
    record = Attachment.from_bytes(raw)
    assert record.to_bytes() == raw
    assert record.id == sha256_hex(raw)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{", "not valid JSON: Expecting property name enclosed in double quotes"),
        (b"[]", "not a JSON object"),
        (
            canonical_json(_record(schema="assay.attachment/9")),
            "not an assay.attachment/1 record: schema='assay.attachment/9'",
        ),
        (
            canonical_json({k: v for k, v in _record().items() if k != "created"}),
            "has fields ['files', 'kind', 'run', 'schema', 'tool_version'], expected "
            "['created', 'files', 'kind', 'run', 'schema', 'tool_version']",
        ),
        (canonical_json(_record(kind=7)), "fields ['kind'] must be strings"),
        (
            canonical_json(_record(run="xyz")),
            "run must be a run id (a sha256 hex digest), got 'xyz'",
        ),
        (canonical_json(_record(kind="Card")), att.KIND_INVALID.format(kind="Card")),
        (
            canonical_json(_record(created="yesterday")),
            "created must be an ISO-8601 UTC time such as 2025-01-31T12:00:00Z, got 'yesterday'",
        ),
        (canonical_json(_record(files={})), "files must be a list"),
        (canonical_json(_record(files=[])), att.NO_FILES),
        (
            canonical_json(_record(files=[{"name": "c.md"}])),
            "files[0] must have exactly the fields ['media_type', 'name', 'sha256', 'size']",
        ),
        (
            canonical_json(
                _record(files=[{"name": "c", "sha256": "0", "media_type": "a/b", "size": 1}])
            ),
            "file 'c': sha256 must be a hex digest, got '0'",
        ),
        (
            canonical_json(
                _record(files=[{"name": "c", "sha256": "cd" * 32, "media_type": "a/b", "size": -1}])
            ),
            "file 'c': size must be a byte count, got -1",
        ),
    ],
)
def test_a_malformed_record_says_what_is_wrong(raw: bytes, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        Attachment.from_bytes(raw)
    assert str(caught.value).startswith(problem)


# -- verification -------------------------------------------------------------------------


def test_a_repository_with_attachments_verifies(carded) -> None:
    repo, _ = carded
    report = repo.verify()
    assert report.problems == [] and report.notes == [] and report.unreferenced == []
    assert report.checked == {
        "objects": 9,
        "entries": 4,
        "runs": 3,
        "approvals": 0,
        "artefacts": 3,
        "attachments": 1,
        "attachment_files": 2,
    }
    assert report.summary() == (
        "9 objects, 4 entries, 3 runs, 0 approvals, 3 artefacts, 1 attachments, "
        "2 attachment files checked"
    )


def test_a_changed_attached_file_is_named(carded) -> None:
    repo, card = carded
    sha = card.attachment.file("model_card.html").sha256
    changed = flip_a_byte(repo.path / obj(sha))

    report = repo.verify()

    assert report.problems == [
        msg.V_OBJECT_CHANGED.format(
            path=obj(sha), actual=short(sha256_hex(changed)), expected=short(sha)
        ),
        msg.V_ATTACHED_CHANGED.format(
            path="ledger/00000003.json",
            kind="model_card",
            name="model_card.html",
            object_path=obj(sha),
            actual=short(sha256_hex(changed)),
        ),
    ]
    with pytest.raises(Exception, match="the object was changed"):
        repo.get(sha)


def test_a_deleted_attached_file_is_named(carded) -> None:
    repo, card = carded
    sha = card.attachment.file("model_card.md").sha256
    (repo.path / obj(sha)).unlink()

    assert repo.verify().problems == [
        msg.V_ATTACHED_MISSING.format(
            path="ledger/00000003.json",
            kind="model_card",
            name="model_card.md",
            object_path=obj(sha),
        )
    ]


def test_a_changed_record_is_named(carded) -> None:
    repo, card = carded
    changed = flip_a_byte(repo.path / obj(card.id))

    report = repo.verify()

    actual = short(sha256_hex(changed))
    assert report.problems == [
        msg.V_OBJECT_CHANGED.format(path=obj(card.id), actual=actual, expected=short(card.id)),
        msg.V_ENTRY_OBJECT_CHANGED.format(
            path="ledger/00000003.json",
            kind="attachment",
            object_path=obj(card.id),
            actual=actual,
        ),
    ]


def test_a_deleted_record_is_named(carded) -> None:
    repo, card = carded
    (repo.path / obj(card.id)).unlink()

    report = repo.verify()

    assert report.problems == [
        msg.V_ENTRY_OBJECT_MISSING.format(
            path="ledger/00000003.json", kind="attachment", object_path=obj(card.id)
        )
    ]
    # its files are now referenced by nothing: noted, not a problem
    assert sorted(report.unreferenced) == sorted(f.sha256 for f in card.attachment.files)


def test_an_edited_attachment_entry_breaks_the_chain(carded) -> None:
    repo, _ = carded
    path = repo.path / "ledger" / "00000003.json"
    entry = json.loads(path.read_bytes())
    entry["time"] = "2030-01-01T00:00:00Z"
    edited = canonical_json(entry)
    overwrite(path, edited)

    report = repo.verify()

    assert report.problems == [
        msg.V_PREV.format(
            path="ledger/00000004.json",
            prev=short(json.loads((repo.path / "ledger" / "00000004.json").read_bytes())["prev"]),
            previous_path="ledger/00000003.json",
            actual=short(sha256_hex(edited)),
        )
    ]


def test_a_swapped_record_is_caught_by_the_chain(carded, make_run) -> None:
    """Pointing the entry at another, well-formed record changes the entry: the next link breaks."""
    repo, card = carded
    forged = replace(card.attachment, kind="datasheet")
    forged_id = repo.put(forged.to_bytes())
    path = repo.path / "ledger" / "00000003.json"
    entry = json.loads(path.read_bytes())
    entry["object"] = forged_id
    overwrite(path, canonical_json(entry))

    report = repo.verify()

    assert len(report.problems) == 1
    assert report.problems[0].startswith("ledger/00000004.json: prev is ")


def test_an_attachment_of_a_later_run_is_reported(repo: Repository, make_run) -> None:
    first = repo.store_run(*make_run(1))
    run2, blobs2 = make_run(2)
    later_id = run2.with_previous(first.id).id  # what store_run will record next
    record = Attachment.build(
        run=later_id,
        kind="model_card",
        created="2025-01-01T00:00:00Z",
        tool_version="0",
        files=CARD,
    )
    for _, _, data in CARD:
        repo.put(data)
    append_entry(repo, "attachment", repo.put(record.to_bytes()))
    assert repo.store_run(run2, blobs2).id == later_id

    report = repo.verify()

    assert report.problems == [
        msg.V_ATTACHMENT_RUN.format(
            path="ledger/00000002.json", kind="model_card", run=short(later_id)
        )
    ]


def test_an_invalid_record_is_reported(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    bad = put_record(repo, _record(run=stored.id, kind="Model Card"))
    append_entry(repo, "attachment", bad)

    assert repo.verify().problems == [
        msg.V_RECORD_INVALID.format(
            path="ledger/00000002.json",
            kind="attachment",
            object_path=obj(bad),
            problem=att.KIND_INVALID.format(kind="Model Card"),
        )
    ]
    assert repo.attachments("latest") == []  # a damaged entry stays out of the index


def test_a_record_with_a_wrong_size_is_reported(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    sha = repo.put(b"abc")
    files = [{"name": "c.md", "sha256": sha, "media_type": "text/markdown", "size": 4}]
    append_entry(repo, "attachment", put_record(repo, _record(run=stored.id, files=files)))

    assert repo.verify().problems == [
        msg.V_ATTACHED_SIZE.format(
            path="ledger/00000002.json",
            kind="model_card",
            name="c.md",
            size=4,
            object_path=obj(sha),
            actual=3,
        )
    ]


# -- format version and index -------------------------------------------------------------


def _make_version_1(repo: Repository) -> None:
    """Turn ``repo`` into what Assay with format version 1 and index schema 1 left behind."""
    (repo.path / "FORMAT").write_bytes(b'{"format":"assay-repository","version":1}')
    with sqlite3.connect(repo.path / "index.sqlite") as conn:
        conn.execute("DROP TABLE attachments")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")


def test_a_version_1_repository_is_upgraded_when_opened_for_writing(
    repo: Repository, make_run
) -> None:
    ids = [repo.store_run(*make_run(n)).id for n in (1, 2)]
    _make_version_1(repo)

    upgraded = Repository.open(repo.path, create=False)

    assert FORMAT_VERSION == 2
    assert (repo.path / "FORMAT").read_bytes() == b'{"format":"assay-repository","version":2}'
    assert [r.id for r in upgraded.runs()] == ids
    card = upgraded.attach("#2", "model_card", CARD)  # the rebuilt index has the new table
    assert upgraded.attachments("#2") == [card]
    assert upgraded.verify().ok


def test_a_version_1_repository_opened_read_only_asks_for_an_upgrade(
    repo: Repository, make_run
) -> None:
    repo.store_run(*make_run(1))
    _make_version_1(repo)
    before = tree(repo.path)
    store = _store.Store(repo.path, writable=False, lock_timeout=1)

    with pytest.raises(RepositoryError) as caught:
        store.check_format()

    assert str(caught.value) == msg.REPO_OLDER.format(path=repo.path, found=1, supported=2)
    assert tree(repo.path) == before


def test_the_index_is_rebuilt_with_the_attachments(carded) -> None:
    repo, card = carded
    listed = repo.attachments("#1")
    (repo.path / "index.sqlite").unlink()

    again = Repository.open(repo.path, create=False)

    assert again.attachments("#1") == listed == [card]
    assert again.latest_attachment("#1", "model_card") == card
    assert (repo.path / "index.sqlite").is_file()
    assert again.verify().ok


def test_a_read_only_reader_indexes_attachments_in_memory(carded) -> None:
    repo, card = carded
    (repo.path / "index.sqlite").unlink()
    read_only = Repository(_store.Store(repo.path, writable=False, lock_timeout=1))
    assert read_only.attachments("#1") == [card]
    assert not (repo.path / "index.sqlite").exists()
