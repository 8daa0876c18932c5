"""integrity.checksums, integrity.lineage and integrity.manifest, on real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from _integrity_support import RunCheck

from assay.checks._registry import Status
from assay.sources import file_sha256
from assay.sources.digests import file_digest

TABLE = pa.table({"id": [1, 2, 3], "x": [0.5, 1.5, 2.5]})


def sha(path: Path) -> str:
    return file_sha256(path)[0]


def b3(path: Path) -> str:
    return file_digest(path, "blake3")


# integrity.checksums -----------------------------------------------------------------------


def test_checksums_pass_and_fail(run_check: RunCheck, tmp_path: Path) -> None:
    pq.write_table(TABLE, tmp_path / "train.parquet")
    (tmp_path / "test.csv").write_text("id,x\n1,0.5\n")
    actual = sha(tmp_path / "test.csv")
    datasets = {
        "train": {"path": "train.parquet", "sha256": sha(tmp_path / "train.parquet")},
        "test": {"path": "test.csv", "sha256": "AB" * 32},
        "unpinned": {"path": "test.csv"},
    }
    result = run_check("integrity.checksums", datasets)
    assert result.subjects == ["train", "test"]
    assert result.one("train").status is Status.PASS
    test = result.one("test")
    assert test.status is Status.FAIL
    assert test.metrics == {"checksum_mismatches": 1}
    assert test.message == (
        f"test: test.csv has sha256 {actual}, but the spec declares {'ab' * 32}; the file "
        "changed since it was pinned."
    )
    assert [result.artefacts[ref][0] for ref in test.evidence] == ["manifest/test.json"]


def test_checksums_by_blake3_and_by_both(run_check: RunCheck, tmp_path: Path) -> None:
    pq.write_table(TABLE, tmp_path / "train.parquet")
    (tmp_path / "test.csv").write_text("id,x\n1,0.5\n")
    train, test = tmp_path / "train.parquet", tmp_path / "test.csv"
    datasets = {
        "train": {"path": "train.parquet", "blake3": b3(train), "sha256": sha(train)},
        "test": {"path": "test.csv", "blake3": "cd" * 32},
        # Right BLAKE3, wrong SHA-256: the file is not the pinned one.
        "both": {"path": "test.csv", "blake3": b3(test), "sha256": "ef" * 32},
    }
    result = run_check("integrity.checksums", datasets)
    assert result.one("train").status is Status.PASS
    assert result.one("train").message == (
        f"train: train.parquet has the declared sha256 {sha(train)}."
    )
    assert result.one("test").message == (
        f"test: test.csv has blake3 {b3(test)}, but the spec declares {'cd' * 32}; the file "
        "changed since it was pinned."
    )
    both = result.one("both")
    assert both.status is Status.FAIL
    assert f"has sha256 {sha(test)}" in both.message
    manifest = result.artefact(both, "manifest/")
    assert (manifest["blake3"], manifest["sha256"]) == (b3(test), sha(test))


def test_checksums_skip_in_memory_tables(run_check: RunCheck) -> None:
    finding = run_check("integrity.checksums", {"train": {"data": TABLE, "sha256": "0" * 64}}).one(
        "train"
    )
    assert finding.status is Status.SKIPPED
    assert "in-memory table" in finding.message


# integrity.lineage -------------------------------------------------------------------------


def pipeline(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """raw.csv → (ingest) → clean.parquet → (split) → train.parquet; all files present."""
    (root / "raw.csv").write_text("id,x\n1,0.5\n2,1.5\n3,2.5\n")
    pq.write_table(TABLE, root / "clean.parquet")
    pq.write_table(TABLE, root / "train.parquet", compression="gzip")
    ref = {
        name: {"path": name, "sha256": sha(root / name)}
        for name in ("raw.csv", "clean.parquet", "train.parquet")
    }
    steps = [
        {
            "name": "ingest",
            "inputs": [ref["raw.csv"]],
            "transform": "parse",
            "outputs": [ref["clean.parquet"]],
        },
        {
            "name": "split",
            "inputs": [ref["clean.parquet"]],
            "transform": "split",
            "outputs": [ref["train.parquet"]],
        },
    ]
    return {"train": {"path": "train.parquet"}}, steps


def test_lineage_consistent_chain_passes(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    result = run_check("integrity.lineage", datasets, lineage=steps)
    assert result.subjects == ["lineage:ingest", "lineage:split", "lineage"]
    assert {f.status for f in result.findings} == {Status.PASS}
    split = result.one("lineage:split")
    assert split.metrics == {
        "hash_mismatches": 0,
        "missing_files": 0,
        "broken_links": 0,
        "files_verified": 2,
    }
    assert split.message == (
        "lineage:split: 1 input and 1 output match their declared sha256 and the inputs come from "
        "earlier steps or raw inputs."
    )
    names = [result.artefacts[ref][0] for ref in split.evidence]
    assert names == ["manifest/train.json", "integrity.lineage/split.json"]
    end = result.one("lineage")
    assert end.message == "lineage: outputs of declared steps: train ('split')."
    assert end.metrics == {"unlinked_datasets": 0, "linked_datasets": 1}


def test_lineage_tampered_file_fails(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    declared = steps[0]["inputs"][0]["sha256"]
    (tmp_path / "raw.csv").write_text("id,x\n1,0.5\n2,1.5\n3,9.9\n")
    result = run_check("integrity.lineage", datasets, lineage=steps)
    ingest = result.one("lineage:ingest")
    assert ingest.status is Status.FAIL
    assert ingest.metrics["hash_mismatches"] == 1
    actual = sha(tmp_path / "raw.csv")
    assert (
        ingest.message
        == f"lineage:ingest: input raw.csv has sha256 {actual[:12]}, declared {declared[:12]}."
    )
    files = result.artefact(ingest, "integrity.lineage/")["files"]
    assert files[0] == {
        "role": "input",
        "path": "raw.csv",
        "declared_sha256": declared,
        "actual_sha256": actual,
        "state": "mismatch",
    }
    assert result.one("lineage:split").status is Status.PASS


def test_lineage_missing_file_cannot_be_verified(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    (tmp_path / "clean.parquet").unlink()
    result = run_check("integrity.lineage", datasets, lineage=steps)
    for subject in ("lineage:ingest", "lineage:split"):
        finding = result.one(subject)
        assert finding.status is Status.WARN
        assert finding.metrics["missing_files"] == 1
    assert (
        "clean.parquet is not present, so it cannot be verified"
        in result.one("lineage:split").message
    )


def test_lineage_broken_link_fails(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    (tmp_path / "other.csv").write_text("x\n1\n")
    steps[1]["inputs"].append({"path": "other.csv", "sha256": sha(tmp_path / "other.csv")})
    finding = run_check("integrity.lineage", datasets, lineage=steps).one("lineage:split")
    assert finding.status is Status.FAIL
    assert finding.metrics["broken_links"] == 1
    assert "input other.csv" in finding.message
    assert (
        "is neither an output of an earlier step nor a raw input of step 'ingest'"
        in finding.message
    )


def test_lineage_later_step_may_reuse_a_raw_input(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    steps[1]["inputs"].append(steps[0]["inputs"][0])
    assert (
        run_check("integrity.lineage", datasets, lineage=steps).one("lineage:split").status
        is Status.PASS
    )


def test_lineage_unlinked_dataset_warns(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    pq.write_table(TABLE.slice(0, 2), tmp_path / "test.parquet")
    datasets["test"] = {"path": "test.parquet"}
    datasets["mem"] = {"data": TABLE}
    end = run_check("integrity.lineage", datasets, lineage=steps).one("lineage")
    assert end.status is Status.WARN
    assert end.metrics == {"unlinked_datasets": 1, "linked_datasets": 1}
    digest = sha(tmp_path / "test.parquet")[:12]
    assert end.message == (
        "lineage: outputs of declared steps: train ('split'); "
        f"test (test.parquet, sha256 {digest}) is not an output of any step; "
        "in memory, so not linked: mem."
    )
    assert len(end.evidence) == 3


def test_lineage_rewritten_dataset_names_the_declared_hash(
    run_check: RunCheck, tmp_path: Path
) -> None:
    datasets, steps = pipeline(tmp_path)
    declared = steps[1]["outputs"][0]["sha256"]
    pq.write_table(TABLE, tmp_path / "train.parquet", compression="none")
    result = run_check("integrity.lineage", datasets, lineage=steps)
    assert result.one("lineage:split").status is Status.FAIL
    end = result.one("lineage")
    assert end.status is Status.WARN
    assert f"where a step declares sha256 {declared[:12]}" in end.message


def test_lineage_with_in_memory_data_only(run_check: RunCheck, tmp_path: Path) -> None:
    _, steps = pipeline(tmp_path)
    result = run_check("integrity.lineage", {"train": {"data": TABLE}}, lineage=steps)
    end = result.one("lineage")
    assert end.status is Status.SKIPPED
    assert end.message == "lineage: no audited dataset is a file (in memory: train)."


def test_lineage_repeated_step_names_get_positions(run_check: RunCheck, tmp_path: Path) -> None:
    datasets, steps = pipeline(tmp_path)
    steps[1]["name"] = "ingest"
    result = run_check("integrity.lineage", datasets, lineage=steps)
    assert result.subjects == ["lineage:ingest #1", "lineage:ingest #2", "lineage"]


# integrity.manifest ------------------------------------------------------------------------


def test_manifest_finding_cites_the_manifest(run_check: RunCheck, tmp_path: Path) -> None:
    pq.write_table(TABLE, tmp_path / "train.parquet")
    result = run_check(
        "integrity.manifest", {"train": {"path": "train.parquet"}, "mem": {"data": TABLE}}
    )
    train = result.one("train")
    size = (tmp_path / "train.parquet").stat().st_size
    assert train.status is Status.PASS
    assert train.metrics == {"rows": 3, "columns": 2, "bytes": size}
    digest = b3(tmp_path / "train.parquet")
    assert (
        train.message
        == f"train: 3 rows × 2 columns from train.parquet ({size:,} bytes, blake3 {digest[:12]})."
    )
    name, manifest = result.artefacts[train.evidence[0]]
    assert name == "manifest/train.json"
    # BLAKE3 by default; no SHA-256 unless something in the spec asks for it.
    assert (manifest["blake3"], manifest["sha256"]) == (digest, None)
    assert manifest["rows"] == 3
    assert "from an in-memory table" in result.one("mem").message


def test_manifest_by_sha256_when_the_spec_asks(run_check: RunCheck, tmp_path: Path) -> None:
    pq.write_table(TABLE, tmp_path / "train.parquet")
    result = run_check(
        "integrity.manifest", {"train": {"path": "train.parquet"}}, fingerprint="sha256"
    )
    train = result.one("train")
    digest = sha(tmp_path / "train.parquet")
    assert train.message.endswith(f"sha256 {digest[:12]}).")
    manifest = result.artefact(train, "manifest/")
    assert (manifest["blake3"], manifest["sha256"]) == (None, digest)
