"""Creating and opening repositories: layout, format versions, unwritable folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.errors import REPO_NEWER, REPO_NOT_WRITABLE, RepositoryError
from assay.evidence import FORMAT_VERSION, MIGRATIONS, Repository, _store
from assay.evidence import _messages as msg


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_create_lays_out_an_empty_repository(tmp_path: Path) -> None:
    repo = Repository.open(tmp_path / "deep" / "er" / ".assay")

    assert repo.path == tmp_path / "deep" / "er" / ".assay"
    assert repo.writable
    fmt = (repo.path / "FORMAT").read_bytes()
    assert fmt == b'{"format":"assay-repository","version":2}'
    assert json.loads(fmt)["version"] == FORMAT_VERSION
    assert (repo.path / "objects").is_dir() and (repo.path / "ledger").is_dir()
    assert repo.runs() == []
    assert repo.verify().ok


def test_open_is_idempotent(repo: Repository, make_run) -> None:
    stored = repo.store_run(*make_run(1))
    again = Repository.open(repo.path)
    assert again.resolve("latest") == stored


def test_open_without_create_needs_a_repository(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(RepositoryError) as caught:
        Repository.open(missing, create=False)
    assert str(caught.value) == msg.NOT_A_REPOSITORY.format(path=missing, problem="no such folder")
    assert not missing.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RepositoryError) as caught:
        Repository.open(empty, create=False)
    problem = "it has no FORMAT file"
    assert str(caught.value) == msg.NOT_A_REPOSITORY.format(path=empty, problem=problem)
    assert _tree(empty) == []


def test_create_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RepositoryError) as caught:
        Repository.open(tmp_path)
    problem = "the folder holds notes.txt and no FORMAT file"
    assert str(caught.value) == msg.NOT_A_REPOSITORY.format(path=tmp_path, problem=problem)
    assert _tree(tmp_path) == ["notes.txt"]


def test_newer_format_is_refused(repo: Repository) -> None:
    (repo.path / "FORMAT").write_text('{"format":"assay-repository","version":99}')
    with pytest.raises(RepositoryError) as caught:
        Repository.open(repo.path)
    assert str(caught.value) == REPO_NEWER.format(
        path=repo.path, found=99, supported=FORMAT_VERSION
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "FORMAT is not valid JSON"),
        ('{"format":"other","version":1}', "FORMAT holds {'format': 'other', 'version': 1}"),
    ],
)
def test_damaged_format_file(repo: Repository, content: str, problem: str) -> None:
    (repo.path / "FORMAT").write_text(content)
    with pytest.raises(RepositoryError) as caught:
        Repository.open(repo.path, create=False)
    assert str(caught.value) == msg.NOT_A_REPOSITORY.format(path=repo.path, problem=problem)


def test_migrations_upgrade_an_older_layout(
    repo: Repository, make_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = repo.store_run(*make_run(1))
    seen: list[Path] = []
    newer = FORMAT_VERSION + 1
    monkeypatch.setattr(_store, "FORMAT_VERSION", newer)
    monkeypatch.setitem(MIGRATIONS, FORMAT_VERSION, seen.append)

    upgraded = Repository.open(repo.path)

    assert seen == [repo.path]
    assert json.loads((repo.path / "FORMAT").read_text())["version"] == newer
    assert upgraded.resolve("latest") == stored


def test_missing_migration_is_an_error(repo: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    newer = FORMAT_VERSION + 1
    monkeypatch.setattr(_store, "FORMAT_VERSION", newer)
    monkeypatch.delitem(MIGRATIONS, FORMAT_VERSION, raising=False)
    with pytest.raises(RepositoryError) as caught:
        Repository.open(repo.path)
    assert str(caught.value) == msg.REPO_NO_MIGRATION.format(
        path=repo.path, found=FORMAT_VERSION, supported=newer
    )


def test_a_path_under_a_regular_file_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RepositoryError) as caught:
        Repository.open(blocker / "sub" / ".assay")
    problem = f"{blocker} is a file, not a folder"
    assert str(caught.value) == REPO_NOT_WRITABLE.format(
        path=blocker / "sub" / ".assay", problem=problem
    )
    assert _tree(tmp_path) == ["file"]


def test_a_regular_file_is_not_a_repository_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RepositoryError) as caught:
        Repository.open(blocker)
    problem = "it is a file, not a folder"
    assert str(caught.value) == REPO_NOT_WRITABLE.format(path=blocker, problem=problem)
    assert blocker.read_text() == "x"


# -- as an unprivileged user --------------------------------------------------------------

_PRELUDE = """
import json, os, pwd, sys
from assay.errors import RepositoryError
from assay.evidence import Repository
if os.getuid() == 0:  # started as root: drop to nobody after the imports
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
"""


def _as_nobody(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as user nobody: with runuser, or (when nobody cannot reach this
    interpreter, e.g. one under /root) by dropping privileges after the imports."""
    if shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("needs runuser and root to switch to an unprivileged user")
    probe = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-c", "pass"],
        capture_output=True,
        check=False,
    )
    prefix = ["runuser", "-u", "nobody", "--"] if probe.returncode == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-c", _PRELUDE + code, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder owned by root that others may enter and read but not write."""
    folder = Path(tempfile.mkdtemp(prefix="assay-evidence-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_unprivileged_user_cannot_create_a_repository(public_dir: Path) -> None:
    target = public_dir / "sub" / ".assay"
    code = """
try:
    Repository.open(sys.argv[1])
except RepositoryError as exc:
    print(exc)
    sys.exit(3)
"""
    result = _as_nobody(code, str(target))
    assert result.returncode == 3, result.stderr
    expected = REPO_NOT_WRITABLE.format(path=target, problem="Permission denied")
    assert result.stdout.strip() == expected
    assert _tree(public_dir) == []


def test_unprivileged_user_reads_but_cannot_write(public_dir: Path, make_run) -> None:
    repo = Repository.open(public_dir / ".assay")
    ids = [repo.store_run(*make_run(n)).id for n in (1, 2)]
    (repo.path / "index.sqlite").unlink()  # stale index: a reader indexes in memory
    before = _tree(public_dir)
    code = """
try:
    Repository.open(sys.argv[1])
except RepositoryError as exc:
    print(exc)
with Repository.open(sys.argv[1], create=False) as repo:
    print(json.dumps({
        "writable": repo.writable,
        "runs": [r.id for r in repo.runs()],
        "latest": repo.resolve("latest").id,
        "ok": repo.verify().ok,
    }))
    try:
        repo.put(b"x")
    except RepositoryError as exc:
        print(exc)
"""
    result = _as_nobody(code, str(repo.path))
    assert result.returncode == 0, result.stderr
    refused, listing, read_only = result.stdout.strip().splitlines()
    assert refused == REPO_NOT_WRITABLE.format(path=repo.path, problem="Permission denied")
    assert json.loads(listing) == {"writable": False, "runs": ids, "latest": ids[-1], "ok": True}
    problem = msg.READ_ONLY.format(action="change the repository")
    assert read_only == REPO_NOT_WRITABLE.format(path=repo.path, problem=problem)
    assert _tree(public_dir) == before


def test_unprivileged_user_is_asked_to_upgrade_an_older_repository(
    public_dir: Path, make_run
) -> None:
    repo = Repository.open(public_dir / ".assay")
    repo.store_run(*make_run(1))
    (repo.path / "FORMAT").write_bytes(b'{"format":"assay-repository","version":1}')
    before = _tree(public_dir)
    code = """
try:
    Repository.open(sys.argv[1], create=False)
except RepositoryError as exc:
    print(exc)
    sys.exit(3)
"""
    result = _as_nobody(code, str(repo.path))
    assert result.returncode == 3, result.stderr
    expected = msg.REPO_OLDER.format(path=repo.path, found=1, supported=FORMAT_VERSION)
    assert result.stdout.strip() == expected
    assert _tree(public_dir) == before
