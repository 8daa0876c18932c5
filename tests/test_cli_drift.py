"""The command line for profiles and drift: assay profile, --engine, bad input of issue 3."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _cli_support import error_of, invoke
from _support import write_spec
from assay.profiles.table import TableProfile


def write_pair(folder: Path, *, shift: float = 0.0) -> Path:
    rng = np.random.default_rng(0)
    for name, delta in (("reference", 0.0), ("current", shift)):
        pq.write_table(
            pa.table(
                {
                    "x": rng.normal(delta, 1, 2000),
                    "c": rng.choice(["a", "b"], 2000),
                    "y": rng.integers(0, 2, 2000),
                }
            ),
            folder / f"{name}.parquet",
            row_group_size=500,
        )
    return write_spec(
        folder,
        """
        version: 1
        system: {name: drift-cli}
        datasets:
          reference: {path: reference.parquet, target: y}
          current: {path: current.parquet, target: y}
        """,
    )


def test_profile_writes_a_file_that_loads(tmp_path: Path) -> None:
    write_pair(tmp_path)
    out = tmp_path / "ref.assayprofile"
    result = invoke("profile", tmp_path / "reference.parquet", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stdout and "2,000 rows" in result.stdout
    profile = TableProfile.load(out)
    assert profile.rows == 2000 and list(profile.columns) == ["x", "c", "y"]


def test_audit_finds_planted_drift_and_reads_a_stored_reference(tmp_path: Path) -> None:
    spec = write_pair(tmp_path, shift=1.0)
    result = invoke("audit", spec, "--repo", tmp_path / "repo", "--json", "-")
    document = json.loads(result.stdout)
    drifted = {
        f["subject"]
        for f in document["findings"]
        if f["check_id"] == "drift.feature" and f["status"] == "fail"
    }
    assert drifted == {"current:x"}
    invoke("profile", tmp_path / "reference.parquet", "-o", tmp_path / "ref.assayprofile")
    spec.write_text(
        spec.read_text().replace(
            "{path: reference.parquet, target: y}", "{profile: ref.assayprofile, target: y}"
        )
    )
    again = json.loads(invoke("audit", spec, "--repo", tmp_path / "repo", "--json", "-").stdout)
    assert {
        f["subject"]
        for f in again["findings"]
        if f["check_id"] == "drift.feature" and f["status"] == "fail"
    } == drifted


def test_a_truncated_parquet_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    spec = write_pair(tmp_path)
    raw = (tmp_path / "current.parquet").read_bytes()
    (tmp_path / "current.parquet").write_bytes(raw[: len(raw) // 2])
    message = error_of(invoke("audit", spec, "--repo", tmp_path / "repo"))
    assert str(tmp_path / "current.parquet") in message
    assert not (tmp_path / "repo").exists()


def test_a_damaged_page_found_mid_read_is_exit_2(tmp_path: Path) -> None:
    spec = write_pair(tmp_path)
    raw = (tmp_path / "current.parquet").read_bytes()
    middle = len(raw) // 3
    (tmp_path / "current.parquet").write_bytes(raw[:middle] + raw[middle + 3000 :])
    message = error_of(invoke("audit", spec, "--repo", tmp_path / "repo"))
    assert str(tmp_path / "current.parquet") in message
    assert not (tmp_path / "repo").exists()


def test_a_profile_of_an_unknown_version_is_exit_2(tmp_path: Path) -> None:
    spec = write_pair(tmp_path)
    (tmp_path / "ref.assayprofile").write_bytes(gzip.compress(b'{"schema": "assay.profile/7"}'))
    spec.write_text(
        spec.read_text().replace(
            "{path: reference.parquet, target: y}", "{profile: ref.assayprofile, target: y}"
        )
    )
    message = error_of(invoke("audit", spec, "--repo", tmp_path / "repo"))
    assert (
        "profile format 'assay.profile/7' is not one this Assay reads (assay.profile/1)" in message
    )


def test_an_unreachable_scheduler_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    import assay.profiles.distributed as distributed

    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1.0)
    spec = write_pair(tmp_path)
    message = error_of(
        invoke(
            "audit",
            spec,
            "--repo",
            tmp_path / "repo",
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:9",
        )
    )
    assert message.startswith("Cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 1 s")
    assert not (tmp_path / "repo").exists()


def test_scheduler_without_dask_engine_is_a_usage_error(tmp_path: Path) -> None:
    spec = write_pair(tmp_path)
    message = error_of(
        invoke("audit", spec, "--repo", tmp_path / "repo", "--scheduler", "tcp://x:1")
    )
    assert "--scheduler needs --engine dask" in message
