"""An evidence repository folder that cannot be written: exit 2, the message, nothing changed."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from _cli_support import error_of, flat, invoke, snapshot
from _support import write_project
from assay.errors import REPO_NOT_WRITABLE

# -- a path that cannot be a folder ---------------------------------------------------------


@pytest.mark.parametrize("under", [True, False], ids=["under a file", "is a file"])
def test_a_repo_path_that_cannot_be_a_folder(project: Path, under: bool) -> None:
    blocker = project / "blocker"
    blocker.write_text("x")
    target = blocker / "sub" / ".assay" if under else blocker
    problem = f"{blocker} is a file, not a folder" if under else "it is a file, not a folder"
    before = snapshot(project)

    message = error_of(invoke("audit", project / "assay.yaml", "--repo", target))

    assert message == flat(REPO_NOT_WRITABLE.format(path=target, problem=problem))
    assert snapshot(project) == before


def test_assay_repo_from_the_environment_is_checked_too(project: Path) -> None:
    blocker = project / "blocker"
    blocker.write_text("x")
    target = blocker / ".assay"
    before = snapshot(project)

    result = invoke("audit", project / "assay.yaml", env={"ASSAY_REPO": str(target)})

    problem = f"{blocker} is a file, not a folder"
    assert error_of(result) == flat(REPO_NOT_WRITABLE.format(path=target, problem=problem))
    assert snapshot(project) == before


# -- as an unprivileged user ----------------------------------------------------------------

# Runs one ``assay`` command as user nobody. The interpreter of this venv lives under /root,
# which nobody cannot enter, so (unless runuser can start it as nobody) the script starts as
# root, runs the commands once against a scratch repository so that every module they import
# lazily is loaded, and only then drops to nobody with setgid/setuid.
_SCRIPT = """
import contextlib, io, json, os, pwd, sys
from assay.cli import app

def run(args):
    try:
        app(args, prog_name="assay")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0

spec, scratch, command = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if os.getuid() == 0:
    warm_up = [
        ["audit", spec, "--repo", scratch],
        ["audit", spec, "--repo", "/dev/null/repo"],
        ["runs", "list", "--json", "--repo", scratch],
        ["verify", "--repo", scratch],
    ]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        for args in warm_up:
            run(args)
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
assert os.getuid() != 0
sys.exit(run(command))
"""

_DROP = """
import os, pwd
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
"""


def _launcher() -> list[str]:
    """How to start this interpreter so that the script can end up as nobody (or skip)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the unprivileged user nobody")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user 'nobody' to switch to")
    if shutil.which("runuser"):
        probe = subprocess.run(
            ["runuser", "-u", "nobody", "--", sys.executable, "-c", "pass"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return ["runuser", "-u", "nobody", "--", sys.executable]
    drop = subprocess.run(
        [sys.executable, "-c", _DROP], capture_output=True, text=True, check=False
    )
    if drop.returncode != 0:
        pytest.skip(f"cannot drop privileges with setuid here: {drop.stderr.strip()[-200:]}")
    return [sys.executable]


def as_nobody(command: list[object], spec: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_launcher(), "-c", _SCRIPT, str(spec), str(scratch), json.dumps(list(map(str, command)))],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "COLUMNS": "1000"},
    )


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A folder owned by root that everyone may enter and read, holding the project."""
    folder = Path(tempfile.mkdtemp(prefix="assay-cli-", dir="/tmp"))
    folder.chmod(0o755)
    write_project(folder / "project")
    for path in (folder / "project", *(folder / "project").iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize("layout", ["holds a run", "empty", "not created yet"])
def test_unprivileged_user_cannot_write_the_repository(
    public_dir: Path, tmp_path: Path, layout: str
) -> None:
    spec = public_dir / "project" / "assay.yaml"
    repo = public_dir / "repo"
    if layout == "holds a run":
        assert invoke("audit", spec, "--repo", repo, "-q").exit_code in (0, 1)
    elif layout == "empty":
        repo.mkdir(mode=0o755)
    else:
        repo = public_dir / "sub" / "repo"
    before = snapshot(public_dir)

    result = as_nobody(["audit", spec, "--repo", repo], spec, tmp_path / "scratch")

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    expected = REPO_NOT_WRITABLE.format(path=repo, problem="Permission denied")
    assert flat(result.stderr) == flat(f"error: {expected}")
    assert snapshot(public_dir) == before


def test_unprivileged_user_reads_a_repository_it_cannot_write(
    public_dir: Path, tmp_path: Path
) -> None:
    spec = public_dir / "project" / "assay.yaml"
    repo = public_dir / "repo"
    assert invoke("audit", spec, "--repo", repo, "-q").exit_code in (0, 1)
    before = snapshot(public_dir)

    listed = as_nobody(["runs", "list", "--json", "--repo", repo], spec, tmp_path / "scratch")
    verified = as_nobody(["verify", "--repo", repo], spec, tmp_path / "scratch")

    assert listed.returncode == 0, listed.stderr
    assert [r["seq"] for r in json.loads(listed.stdout)] == [1]
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"verified {repo}: ")
    assert snapshot(public_dir) == before
