"""assay._prestart: what `assay audit SPEC` starts before its imports, from the plain YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay import _prestart
from assay.spec.loader import load_spec


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[Path, tuple[str, ...]]]:
    calls: list[dict[Path, tuple[str, ...]]] = []
    monkeypatch.setattr(_prestart, "_start", lambda files: calls.append(files) or True)
    return calls


def _spec(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "spec.yaml").write_text(text)
    return tmp_path / "spec.yaml"


SPEC = """
version: 1
system: {name: t}
datasets:
  reference: {path: data/ref.parquet, target: y}
  current: {path: /abs/cur.parquet, sha256: %s}
""" % ("ab" * 32)


def test_the_plain_yaml_gives_the_files_and_their_digests(
    tmp_path: Path, started: list[dict[Path, tuple[str, ...]]]
) -> None:
    spec = _spec(tmp_path, SPEC)
    _prestart.from_argv(["assay", "audit", str(spec), "--repo", "r"])
    assert started == [
        {
            tmp_path.resolve() / "data/ref.parquet": ("blake3",),
            Path("/abs/cur.parquet"): ("blake3", "sha256"),
        }
    ]
    # The validated spec asks for the same digests of the same files.
    parsed = load_spec(spec)
    _prestart.from_spec(parsed)
    assert started[1] == started[0]


def test_fingerprint_and_lineage_choose_the_digests(
    tmp_path: Path, started: list[dict[Path, tuple[str, ...]]]
) -> None:
    text = SPEC.replace("system: {name: t}", "system: {name: t}\nfingerprint: sha256")
    text += "lineage:\n  - {name: s, transform: t, outputs: [{path: x, sha256: %s}]}\n" % (
        "cd" * 32
    )
    _prestart.from_argv(["assay", "audit", str(_spec(tmp_path, text))])
    assert set(started[0].values()) == {("sha256",)}


@pytest.mark.parametrize(
    "argv",
    [
        ["assay", "audit"],  # the default spec: left to the command line
        ["assay", "audit", "--engine", "dask", "SPEC"],
        ["assay", "audit", "SPEC", "--engine", "dask"],
        ["assay", "audit", "SPEC", "--engine=dask"],
        ["assay", "profile", "SPEC"],
        ["assay", "audit", "missing.yaml"],
    ],
)
def test_nothing_starts_when_the_command_is_not_a_local_audit_of_a_readable_spec(
    tmp_path: Path, started: list[dict[Path, tuple[str, ...]]], argv: list[str]
) -> None:
    spec = str(_spec(tmp_path, SPEC))
    _prestart.from_argv([spec if a == "SPEC" else a for a in argv])
    assert started == []


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nsystem: [unclosed\n",  # not YAML
        "- a list\n",
        SPEC.replace("system: {name: t}", "system: {name: t}\nfingerprint: md5"),
    ],
)
def test_a_spec_the_audit_will_refuse_starts_nothing(
    tmp_path: Path, started: list[dict[Path, tuple[str, ...]]], text: str
) -> None:
    _prestart.from_argv(["assay", "audit", str(_spec(tmp_path, text))])
    assert started in ([], [{}])


def test_small_data_starts_no_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.profiles import pool

    (tmp_path / "small.bin").write_bytes(b"x" * 1000)
    before = list(pool._PRESTARTED)
    assert not _prestart._start({tmp_path / "small.bin": ("blake3",)})
    assert before == pool._PRESTARTED
