"""The profile pass: inline, worker processes and files agree; the file format round-trips."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from _profile_support import mixed_table, reference_and_current
from assay.errors import InputError
from assay.profiles.engine import ScanOptions, local_pool, run_inline, scan
from assay.profiles.table import TableProfile
from assay.sources import open_dataset
from assay.spec import spec_from_mapping


@pytest.fixture
def two_files(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    return reference_and_current(tmp_path, (30_000, 20_000), (1, 2), 4_000)


def exact(profile: TableProfile) -> dict:  # type: ignore[type-arg]
    return {
        c.name: (
            c.count,
            c.nulls,
            c.nans,
            c.min,
            c.max,
            c.distinct_count,
            dict(c.items.counts),
            c.items.exact,
        )
        for c in profile
    }


def test_worker_processes_give_the_same_profile_as_one_process(two_files: dict) -> None:  # type: ignore[type-arg]
    options = ScanOptions(sample_size=500, seed=3)
    inline = scan(two_files, options, executor=run_inline)
    pooled = scan(two_files, options, executor=local_pool(2))  # this process + one worker
    for name in two_files:
        assert exact(inline[name].profile) == exact(pooled[name].profile)
        a, b = inline[name].profile["x"], pooled[name].profile["x"]
        assert a.mean == pytest.approx(b.mean) and a.m2 == pytest.approx(b.m2)
        for group, array in inline[name].hashes.arrays.items():  # type: ignore[union-attr]
            other = pooled[name].hashes.arrays[group]  # type: ignore[union-attr]
            assert (array is None and other is None) or np.array_equal(array, other)
        sample, other_sample = inline[name].sample, pooled[name].sample
        assert sample is not None and other_sample is not None
        assert str(sample.to_pylist()) == str(other_sample.to_pylist())  # NaN-safe comparison
        assert sample.num_rows == 500


def test_a_worker_process_profiles_and_works_without_importing_pandas(
    two_files: dict,  # type: ignore[type-arg]
) -> None:
    from assay.profiles._worker import loaded
    from assay.profiles.engine import pooled
    from assay.profiles.pool import WorkerPool

    options = ScanOptions(sample_size=500, seed=3)
    inline = scan(two_files, options, executor=run_inline)
    with WorkerPool(1) as pool:
        together = scan(two_files, options, executor=pooled(pool))
        assert pool.submit(loaded, "pyarrow").result(timeout=60)  # the call reached the worker
        table = pa.table({"a": [1.5, None]})
        assert pool.submit(pc.sum, table["a"]).result(timeout=60).as_py() == 1.5
        assert not pool.submit(loaded, "pandas").result(timeout=60)
        with pytest.raises(ImportError, match="not available in Assay's worker processes"):
            pool.submit(pa.Table.to_pandas, table).result(timeout=60)
    for name in two_files:
        assert exact(inline[name].profile) == exact(together[name].profile)


def test_row_hashes_find_equal_rows_across_files(tmp_path: Path) -> None:
    table = mixed_table(1_000)
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=100)
    pq.write_table(table.slice(500), tmp_path / "b.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {"a": {"path": "a.parquet"}, "b": {"path": "b.parquet"}},
        },
        base_dir=tmp_path,
    )
    scans = scan({n: open_dataset(spec, n) for n in spec.datasets}, ScanOptions())
    a, b = scans["a"].hashes.arrays["features"], scans["b"].hashes.arrays["features"]  # type: ignore[union-attr]
    assert a is not None and b is not None
    assert np.array_equal(a[500:], b)


def test_profile_file_round_trips(tmp_path: Path, two_files: dict) -> None:  # type: ignore[type-arg]
    profile = scan(two_files, ScanOptions(row_hashes=False))["reference"].profile
    path = tmp_path / "ref.assayprofile"
    profile.save(path)
    loaded = TableProfile.load(path)
    assert exact(loaded) == exact(profile)
    assert loaded["x"].quantiles([0.1, 0.5, 0.9]) == profile["x"].quantiles([0.1, 0.5, 0.9])
    assert loaded.to_bytes() == profile.to_bytes()


def test_a_profile_of_an_unknown_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.assayprofile"
    path.write_bytes(
        gzip.compress(json.dumps({"schema": "assay.profile/9", "columns": []}).encode())
    )
    with pytest.raises(InputError) as info:
        TableProfile.load(path)
    assert str(info.value) == (
        f"{path}: profile format 'assay.profile/9' is not one this Assay reads (assay.profile/1). "
        "Re-create it with this version's `assay profile`."
    )


def test_a_truncated_parquet_file_is_named(tmp_path: Path) -> None:
    pq.write_table(mixed_table(50_000), tmp_path / "t.parquet", row_group_size=10_000)
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "t"}, "datasets": {"d": {"path": "t.parquet"}}},
        base_dir=tmp_path,
    )
    ds = open_dataset(spec, "d")
    raw = (tmp_path / "t.parquet").read_bytes()
    # Keep the footer (so the file still opens) but lose 5 kB in the middle: the footer's
    # offsets then point at the wrong bytes. (Zeroed bytes inside a page go unnoticed: pages
    # carry no checksum unless the writer adds one.)
    middle = len(raw) // 3
    (tmp_path / "t.parquet").write_bytes(raw[:middle] + raw[middle + 5000 :])
    with pytest.raises(InputError) as info:
        scan({"d": ds}, ScanOptions(), executor=run_inline)
    assert str(tmp_path / "t.parquet") in str(info.value)
    assert "corrupt or truncated" in str(info.value)


def test_distinct_bounds_from_earlier_tasks_leave_the_profile_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks that start after others finished skip hashes above the column's k-th smallest
    so far; the merged distinct sketches must be exactly those of a pass without bounds."""
    from assay.profiles.engine import PassHooks, Task, TaskResult, assemble, plan_tasks

    monkeypatch.setattr("assay.sources.readers.SLICE_ROWS", 10_000)  # six slices of rows
    rng = np.random.default_rng(5)
    n = 60_000
    table = pa.table(
        {
            "x": rng.normal(size=n),  # ~every value distinct: past the sketch's k
            "s": pa.array([f"v{i}" for i in rng.integers(0, 20_000, n)]),
            "few": rng.integers(0, 5, n),
        }
    )
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=5_000)
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "t"}, "datasets": {"d": {"path": "d.parquet"}}},
        base_dir=tmp_path,
    )
    datasets = {"d": open_dataset(spec, "d")}
    options = ScanOptions(row_hashes=False)
    bounded = scan(datasets, options, executor=run_inline)["d"].profile

    prepared: list[Task] = []

    class Watch(PassHooks):
        def prepare(self, task: Task) -> Task:
            prepared.append(task)
            return task

    tasks = plan_tasks(datasets, options, 2)
    plain = assemble(datasets, list(run_inline(tasks, Watch())), options, {})["d"].profile
    for column in ("x", "s", "few"):
        a, b = bounded[column], plain[column]
        assert np.array_equal(a.distinct.hashes, b.distinct.hashes), column
        assert a.distinct_count == b.distinct_count and a.distinct_exact == b.distinct_exact
    assert plain["x"].distinct.hashes.size == plain["x"].distinct.k  # the bound mattered
    assert not plain["x"].distinct_exact and plain["few"].distinct_count == 5

    # And the later tasks really were told a bound, for the high-cardinality columns only.
    seen: list[Task] = []

    class Spy(PassHooks):
        def __init__(self, inner: PassHooks) -> None:
            self.inner = inner

        def prepare(self, task: Task) -> Task:
            seen.append(self.inner.prepare(task))
            return seen[-1]

        def fold(self, result: TaskResult) -> TaskResult:
            return self.inner.fold(result)

    from assay.profiles.engine import _PassState

    list(run_inline(tasks, Spy(_PassState(datasets, row_hashes=False))))
    assert not seen[0].distinct_below
    assert set(seen[-1].distinct_below) == {"x", "s"}
    assert len(prepared) == len(tasks) == len(seen) > 2
