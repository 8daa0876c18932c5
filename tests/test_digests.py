"""Input fingerprints: BLAKE3 by default, SHA-256 on request, hashed once, named in reports."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import Future
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _cli_support import flat, invoke
from assay.profiles.pool import WorkerPool
from assay.sources import open_dataset
from assay.sources.digests import Digests, bytes_digest, digest_label, file_digest
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

# The BLAKE3 paper's reference vectors (github.com/BLAKE3-team/BLAKE3, test_vectors.json):
# the hash of the empty input, and of the 1,024-byte input i % 251.
BLAKE3_EMPTY = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
BLAKE3_1024 = "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"


def test_blake3_matches_the_reference_vectors(tmp_path: Path) -> None:
    data = bytes(i % 251 for i in range(1024))
    assert bytes_digest(b"") == BLAKE3_EMPTY
    assert bytes_digest(data) == BLAKE3_1024
    (tmp_path / "f").write_bytes(data)
    # Read in 100-byte blocks: the result must not depend on where the blocks end.
    assert file_digest(tmp_path / "f", "blake3", block=100) == BLAKE3_1024
    (tmp_path / "empty").write_bytes(b"")
    assert file_digest(tmp_path / "empty") == BLAKE3_EMPTY


def test_sha256_matches_hashlib_across_blocks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 1000
    (tmp_path / "f").write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_digest(tmp_path / "f", "sha256", block=4097) == expected
    assert bytes_digest(data, "sha256") == expected


def test_digests_start_what_is_wanted_and_compute_the_rest_on_use(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    digests = Digests(tmp_path / "f", ("blake3",))
    assert digests.known() == {"blake3": bytes_digest(b"abc"), "sha256": None}
    assert digests.get("sha256") == hashlib.sha256(b"abc").hexdigest()
    assert digests.known()["sha256"] == hashlib.sha256(b"abc").hexdigest()


def test_digest_label_prefers_blake3_and_reads_older_records() -> None:
    assert digest_label({"blake3": "ab" * 32, "sha256": "cd" * 32}) == f"blake3 {'ab' * 8}…"
    assert digest_label({"sha256": "cd" * 32}, width=64) == f"sha256 {'cd' * 32}"
    assert digest_label({"sha256": None}) == "no digest"


def _spec(tmp_path: Path, **top: object) -> Spec:
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "d.parquet")
    return spec_from_mapping(
        {"version": 1, "system": {"name": "t"}, "datasets": {"d": {"path": "d.parquet"}}, **top},
        base_dir=tmp_path,
    )


def test_a_dataset_records_the_specs_fingerprint(tmp_path: Path) -> None:
    ds = open_dataset(_spec(tmp_path), "d")
    raw = (tmp_path / "d.parquet").read_bytes()
    record = ds.fingerprint()
    assert (record["blake3"], record["sha256"]) == (bytes_digest(raw), None)
    assert record["bytes"] == len(raw)
    ds = open_dataset(_spec(tmp_path, fingerprint="sha256"), "d")
    record = ds.fingerprint()
    assert (record["blake3"], record["sha256"]) == (None, hashlib.sha256(raw).hexdigest())


def test_an_unknown_fingerprint_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "assay.yaml"
    spec.write_text("version: 1\nsystem: {name: t}\nfingerprint: md5\n")
    result = invoke("audit", spec, "--repo", tmp_path / "r")
    assert result.exit_code == 2
    text = flat(result.stderr)
    assert "fingerprint" in text and "blake3" in text and "sha256" in text
    assert "Traceback" not in result.stderr


def test_assay_digest_prints_what_b3sum_and_sha256sum_print(tmp_path: Path) -> None:
    data = bytes(i % 251 for i in range(1024))
    (tmp_path / "f.bin").write_bytes(data)
    result = invoke("digest", tmp_path / "f.bin")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{BLAKE3_1024}  {tmp_path / 'f.bin'}\n"
    result = invoke("digest", "-a", "sha256", tmp_path / "f.bin")
    assert result.stdout == f"{hashlib.sha256(data).hexdigest()}  {tmp_path / 'f.bin'}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-a", "md5", "f.bin"), "--algorithm md5: unknown digest. Use one of: blake3, sha256."),
        (("nowhere.bin",), "nowhere.bin: no such file"),
    ],
)
def test_assay_digest_bad_input_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.bin").write_bytes(b"x")
    result = invoke("digest", *args)
    assert result.exit_code == 2
    assert message in flat(result.stderr)
    assert "Traceback" not in result.stderr


def test_the_prestarted_worker_hashes_a_file_the_audit_then_adopts(tmp_path: Path) -> None:
    from assay.profiles import pool as pool_module
    from assay.sources import digests

    (tmp_path / "d.bin").write_bytes(b"x" * 100_000)
    pool_module.prestart(1)
    worker_pid = pool_module._PRESTARTED[-1].process.pid
    calls: list[object] = []

    def on_worker(function: object, *args: object) -> object:
        calls.append(args)
        return pool_module.prestarted_call(function, *args)  # type: ignore[arg-type]

    digests.prestart(tmp_path / "d.bin", ("blake3",), on_worker)
    found = Digests(tmp_path / "d.bin", ("blake3",))
    assert found.get("blake3") == bytes_digest(b"x" * 100_000)
    assert calls == [(tmp_path / "d.bin", "blake3")] and found._adopted == {"blake3"}
    with WorkerPool(1) as pool:  # takes the worker over, after the call it answered
        assert pool.submit(os.getpid).result(timeout=60) == worker_pid
        assert [w.process.pid for w in pool._workers] == [worker_pid]
    assert not digests._EARLY


def test_a_file_changed_since_the_early_hash_is_hashed_again(tmp_path: Path) -> None:
    from assay.sources import digests

    path = tmp_path / "d.bin"
    path.write_bytes(b"old")
    stale: Future[str] = Future()
    stale.set_result(bytes_digest(b"old"))
    digests.prestart(path, ("blake3",), lambda *_: stale)
    path.write_bytes(b"new, and longer")
    found = Digests(path, ("blake3",))
    assert found.get("blake3") == bytes_digest(b"new, and longer") and not found._adopted


def test_a_failed_early_hash_is_done_here(tmp_path: Path) -> None:
    from assay.sources import digests

    path = tmp_path / "d.bin"
    path.write_bytes(b"abc")
    failed: Future[str] = Future()
    failed.set_exception(RuntimeError("a profile worker process stopped unexpectedly"))
    digests.prestart(path, ("sha256",), lambda *_: failed)
    assert Digests(path, ("sha256",)).get("sha256") == hashlib.sha256(b"abc").hexdigest()
