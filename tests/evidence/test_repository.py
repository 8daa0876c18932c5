"""Storing, loading, listing and resolving runs; the derived SQLite index."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from assay.checks._registry import Status
from assay.errors import RUN_NOT_FOUND, RunNotFoundError, VerificationError
from assay.evidence import Repository, StoredRun
from assay.evidence import _messages as msg
from assay.evidence._store import Store
from assay.run import Run, sha256_hex


def test_store_and_load_round_trip(repo: Repository, make_run) -> None:
    stored = [repo.store_run(*make_run(n)) for n in (1, 2, 3)]

    assert [s.seq for s in stored] == [1, 2, 3]
    assert stored[0].run.previous is None
    assert stored[1].run.previous == stored[0].id
    assert stored[2].run.previous == stored[1].id
    for item in stored:
        assert item.id == item.run.id == sha256_hex(item.run.to_bytes())
        assert repo.load_run(item.id) == item.run
        assert repo.get(item.id) == item.run.to_bytes()
        for artefact in item.run.artefacts:
            assert repo.has(artefact.sha256)


def test_store_run_keeps_everything_but_previous(repo: Repository, make_run) -> None:
    run, blobs = make_run(7, artefacts=2)
    stored = repo.store_run(run, blobs)

    assert stored.run == run.with_previous(None)
    assert {a.sha256: repo.get(a.sha256) for a in stored.run.artefacts} == blobs


def test_runs_lists_summaries_oldest_first(repo: Repository, make_run, make_finding) -> None:
    repo.store_run(*make_run(1))
    failing = [make_finding("age", Status.FAIL), make_finding("income", Status.WARN)]
    second = repo.store_run(*make_run(2, findings=failing))

    runs = repo.runs()

    assert [r.seq for r in runs] == [1, 2]
    last = runs[-1]
    assert (last.id, last.created, last.system, last.version) == (
        second.id,
        second.run.created,
        "credit-model",
        "1.2",
    )
    assert last.verdict == "fail"
    assert last.counts["fail"] == 1 and last.counts["warn"] == 1
    assert not last.approved


def test_resolve_accepts_every_reference_form(repo: Repository, make_run) -> None:
    stored = [repo.store_run(*make_run(n)) for n in (1, 2, 3)]

    assert repo.resolve("latest") == stored[2]
    assert repo.resolve("2") == stored[1]
    assert repo.resolve("#1") == stored[0]
    assert repo.resolve(" #3 ") == stored[2]
    assert repo.resolve(stored[1].id) == stored[1]
    assert repo.resolve(stored[1].id[:8]) == stored[1]
    assert repo.resolve(stored[0].id[:10].upper()) == stored[0]
    assert isinstance(repo.resolve("latest"), StoredRun)


@pytest.mark.parametrize(
    ("ref", "hint"),
    [
        ("latest", msg.HINT_EMPTY),
        ("approved", msg.HINT_NOT_APPROVED),
        ("#4", msg.HINT_LIST),
    ],
)
def test_resolve_in_an_empty_repository(repo: Repository, ref: str, hint: str) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        repo.resolve(ref)
    assert str(caught.value) == RUN_NOT_FOUND.format(ref=ref, repo=repo.path, hint=hint)
    assert isinstance(caught.value, KeyError)


@pytest.mark.parametrize("ref", ["#9", "9", "abc", "zzzz", "ffff0000", "", "latest~1"])
def test_resolve_unknown_references(repo: Repository, make_run, ref: str) -> None:
    repo.store_run(*make_run(1))
    with pytest.raises(RunNotFoundError) as caught:
        repo.resolve(ref)
    assert str(caught.value) == RUN_NOT_FOUND.format(ref=ref, repo=repo.path, hint=msg.HINT_LIST)


def test_resolve_ambiguous_prefix_lists_candidates(repo: Repository, make_run) -> None:
    first = repo.store_run(*make_run(1))
    second_run, blobs = make_run(2)
    # find a seed that gives the second stored run the same 4-hex prefix as the first
    template = second_run.with_previous(first.id).to_bytes()
    seed_field = f'"seed":{second_run.seed},'.encode()
    assert template.count(seed_field) == 1
    seed = next(
        s
        for s in range(10, 10_000_000)
        if hashlib.sha256(template.replace(seed_field, f'"seed":{s},'.encode())).hexdigest()[:4]
        == first.id[:4]
    )
    second = repo.store_run(replace(second_run, seed=seed), blobs)
    assert second.id[:4] == first.id[:4]

    with pytest.raises(RunNotFoundError) as caught:
        repo.resolve(first.id[:4])
    candidates = f"#1 {first.id[:12]}…, #2 {second.id[:12]}…"
    assert str(caught.value) == msg.RUN_AMBIGUOUS.format(
        ref=first.id[:4], count=2, repo=repo.path, candidates=candidates
    )
    assert repo.resolve(second.id[:20]) == second


def test_load_run_only_loads_committed_runs(repo: Repository, make_run) -> None:
    orphan, _ = make_run(1, artefacts=0)
    orphan_id = repo.put(orphan.to_bytes())  # an object, but no ledger entry
    with pytest.raises(RunNotFoundError):
        repo.load_run(orphan_id)
    with pytest.raises(RunNotFoundError):
        repo.load_run("latest")


def test_put_get_has(repo: Repository) -> None:
    sha = repo.put(b"evidence")
    assert sha == sha256_hex(b"evidence")
    assert repo.put(b"evidence") == sha  # idempotent
    assert repo.get(sha) == b"evidence"
    assert repo.has(sha)
    assert not repo.has(sha256_hex(b"other"))
    assert not repo.has("../FORMAT")
    assert (repo.path / "objects" / sha[:2] / sha[2:]).read_bytes() == b"evidence"
    with pytest.raises(KeyError):
        repo.get(sha256_hex(b"other"))
    with pytest.raises(ValueError, match="not a sha256"):
        repo.get("../../etc/passwd")


def test_get_refuses_a_changed_object(repo: Repository) -> None:
    sha = repo.put(b"evidence")
    path = repo.path / "objects" / sha[:2] / sha[2:]
    path.chmod(0o644)
    path.write_bytes(b"evidencE")
    with pytest.raises(VerificationError, match=f"objects/{sha[:2]}/{sha[2:]}: content hashes"):
        repo.get(sha)


def test_store_run_rejects_inconsistent_blobs(repo: Repository, make_run) -> None:
    run, blobs = make_run(1)
    ((sha, data),) = blobs.items()
    wrong = sha256_hex(b"x")
    with pytest.raises(ValueError) as caught:
        repo.store_run(run, {sha: data + b"!"})
    assert str(caught.value) == msg.BLOB_HASH.format(key=sha, actual=sha256_hex(data + b"!"))
    with pytest.raises(ValueError) as caught:
        repo.store_run(run, {**blobs, wrong: b"x"})
    assert str(caught.value) == msg.BLOB_UNLISTED.format(key=wrong)
    with pytest.raises(ValueError) as caught:
        repo.store_run(run, {})
    name = run.artefacts[0].name
    assert str(caught.value) == msg.ARTEFACT_MISSING.format(name=name, sha=sha)
    bad_size = replace(run, artefacts=[replace(run.artefacts[0], size=1)])
    with pytest.raises(ValueError) as caught:
        repo.store_run(bad_size, blobs)
    assert str(caught.value) == msg.ARTEFACT_SIZE.format(name=name, size=1, actual=len(data))
    assert repo.runs() == []
    assert not any((repo.path / "ledger").iterdir())


def test_artefacts_already_stored_need_not_be_passed_again(repo: Repository, make_run) -> None:
    run, blobs = make_run(1)
    repo.store_run(run, blobs)
    again = repo.store_run(run, {})
    assert again.seq == 2
    assert repo.verify().ok


def test_index_is_rebuilt_after_deletion(repo: Repository, make_run) -> None:
    stored = [repo.store_run(*make_run(n)) for n in (1, 2)]
    (repo.path / "index.sqlite").unlink()

    reopened = Repository.open(repo.path, create=False)

    assert [r.id for r in reopened.runs()] == [s.id for s in stored]
    assert (repo.path / "index.sqlite").is_file()
    assert reopened.resolve("latest") == stored[1]


def test_index_is_rebuilt_when_it_is_garbage(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    (repo.path / "index.sqlite").write_bytes(b"not a database" * 100)
    assert [r.id for r in Repository.open(repo.path).runs()] == [stored.id]


def test_index_of_another_ledger_is_rebuilt(tmp_path: Path, make_run) -> None:
    one = Repository.open(tmp_path / "one")
    two = Repository.open(tmp_path / "two")
    one.store_run(*make_run(1))
    ids = [two.store_run(*make_run(n)).id for n in (5, 6)]
    shutil.copy(one.path / "index.sqlite", two.path / "index.sqlite")

    assert [r.id for r in two.runs()] == ids


def test_index_catches_up_after_a_crash_before_the_index_update(
    repo: Repository, make_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = repo.store_run(*make_run(1))
    with monkeypatch.context() as patch:
        patch.setattr(Store, "index_new_entry", lambda self, seq, raw_hash: None)
        second = repo.store_run(*make_run(2))  # committed to the ledger, not to the index
    third = repo.store_run(*make_run(3))

    assert third.run.previous == second.id
    assert [r.id for r in Repository.open(repo.path).runs()] == [first.id, second.id, third.id]
    assert repo.verify().ok


def test_a_run_is_a_plain_record(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    assert Run.from_bytes(repo.get(stored.id)) == stored.run


def test_a_held_lock_makes_writers_wait_then_give_up(repo: Repository) -> None:
    from filelock import FileLock

    from assay.errors import RepositoryError

    waiting = Repository.open(repo.path, lock_timeout=0.2)
    with FileLock(repo.path / "lock"):
        with pytest.raises(RepositoryError) as caught:
            waiting.put(b"x")
        assert str(caught.value) == msg.REPO_LOCKED.format(
            path=repo.path, lock=repo.path / "lock", timeout=0.2
        )
        assert waiting.runs() == []  # reading needs no lock
        (repo.path / "index.sqlite").unlink()
        assert waiting.runs() == []  # nor does a stale index: it is built in memory
    assert waiting.put(b"x") == sha256_hex(b"x")


def test_every_file_is_readable_by_others(repo: Repository, make_run) -> None:
    repo.store_run(*make_run(1))
    modes = {
        p.relative_to(repo.path).parts[0]: p.stat().st_mode & 0o777
        for p in repo.path.rglob("*")
        if p.is_file()
    }
    assert all(mode & 0o444 == 0o444 for mode in modes.values()), modes
