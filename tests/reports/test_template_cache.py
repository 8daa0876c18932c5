"""The report templates' compiled code is cached per user, and a bad cache never costs a report."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
import pytest

from assay.reports import html as html_report
from assay.reports._template_cache import cache_folder, template_cache


@pytest.fixture(autouse=True)
def fresh_environment() -> object:
    html_report._environment.cache_clear()
    yield
    html_report._environment.cache_clear()


def test_a_second_process_loads_the_compiled_template_instead_of_compiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path))
    html_report._environment().get_template(html_report.TEMPLATE)
    entries = list((tmp_path / "templates").iterdir())
    assert entries and all(e.stat().st_size > 0 for e in entries)
    assert (tmp_path / "templates").stat().st_mode & 0o777 == 0o700

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the template was compiled again")

    html_report._environment.cache_clear()  # as a new process would start
    monkeypatch.setattr(jinja2.Environment, "compile", refuse)
    template = html_report._environment().get_template(html_report.TEMPLATE)
    assert template.name == html_report.TEMPLATE


def test_the_folder_follows_assay_cache_dir_then_xdg_cache_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSAY_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "assay" / "templates"
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_folder() == tmp_path / "mine" / "templates"


def test_a_folder_that_cannot_be_created_means_no_cache_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(blocker))
    assert template_cache() is None
    assert html_report._environment().get_template(html_report.TEMPLATE) is not None


def test_a_corrupt_entry_is_recompiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CACHE_DIR", str(tmp_path))
    html_report._environment().get_template(html_report.TEMPLATE)
    for entry in (tmp_path / "templates").iterdir():
        entry.write_bytes(b"garbage")
    html_report._environment.cache_clear()
    assert html_report._environment().get_template(html_report.TEMPLATE) is not None


# Starts as root (this venv's interpreter may live where nobody cannot read), imports what it
# needs, then drops to nobody and uses a cache folder only root may enter.
_AS_NOBODY = """
import os, pwd, sys
import jinja2
from assay.reports._template_cache import _QuietCache, template_cache

folder = sys.argv[1]
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
assert template_cache() is None, "a folder nobody cannot enter was used"
env = jinja2.Environment(
    loader=jinja2.DictLoader({"t": "{{ x }} ok"}), bytecode_cache=_QuietCache(folder)
)
print(env.get_template("t").render(x=1))
"""


def test_an_unprivileged_user_without_access_to_the_folder_renders_without_a_cache() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the unprivileged user nobody")
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user 'nobody' to switch to")
    root_only = Path(tempfile.mkdtemp(prefix="assay-cache-", dir="/tmp"))
    try:
        (root_only / "templates").mkdir(mode=0o700)
        root_only.chmod(0o755)
        done = subprocess.run(
            [sys.executable, "-c", _AS_NOBODY, str(root_only / "templates")],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "ASSAY_CACHE_DIR": str(root_only)},
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "1 ok"
        assert not list((root_only / "templates").iterdir())
    finally:
        shutil.rmtree(root_only)
