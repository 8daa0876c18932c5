"""Row hashes written in place in shared memory by the pass's tasks, here and in a worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from _profile_support import mixed_table, reference_and_current
from assay.profiles import shared
from assay.profiles.engine import (
    ScanOptions,
    _PassState,
    plan_tasks,
    run_inline,
    run_task,
    scan,
)
from assay.profiles.pool import WorkerPool
from assay.profiles.shared import HashTarget, SharedHashes
from assay.sources import open_dataset
from assay.sources.datasets import Dataset
from assay.spec import spec_from_mapping


@pytest.fixture
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Dataset]:
    monkeypatch.setattr("assay.sources.readers.SLICE_ROWS", 8_000)  # several row slices
    return reference_and_current(tmp_path, (40_000, 36_000), (1, 2), 4_000)


def _inline_hashes(datasets: dict[str, Dataset]) -> dict[str, dict[str, np.ndarray]]:
    scanned = scan(datasets, ScanOptions(), executor=run_inline)
    return {
        name: {g: a for g, a in result.hashes.arrays.items() if a is not None}  # type: ignore[union-attr]
        for name, result in scanned.items()
    }


def test_a_worker_writes_its_rows_in_place_and_returns_no_hashes(
    datasets: dict[str, Dataset],
) -> None:
    expected = _inline_hashes(datasets)
    state = _PassState(datasets, row_hashes=True)
    done = state.share_memory()
    tasks = [state.prepare(t) for t in plan_tasks(datasets, ScanOptions(), 2)]
    assert len(tasks) > 4 and all(t.hash_targets for t in tasks)
    with WorkerPool(1) as pool:
        worker = pool._ensure_workers()[0]
        results = [state.fold(worker.request(("task", task))) for task in tasks]
        worker.send(("release",))
    done()
    for task, result in zip(tasks, results, strict=True):
        assert set(result.written) == set(task.groups.values()) and not result.hashes
    state.check_filled(datasets)
    for name, arrays in expected.items():
        assert set(arrays) == set(state.arrays[name])
        for group, array in arrays.items():
            assert np.array_equal(state.arrays[name][group], array), (name, group)


def test_the_pass_gives_the_same_hashes_with_and_without_shared_memory(
    datasets: dict[str, Dataset], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assay.profiles.engine import local_pool

    expected = _inline_hashes(datasets)
    with_shared = scan(datasets, ScanOptions(), executor=local_pool(2))
    monkeypatch.setattr(SharedHashes, "create", classmethod(lambda cls, sizes: None))
    without = scan(datasets, ScanOptions(), executor=local_pool(2))
    for name, arrays in expected.items():
        for group, array in arrays.items():
            assert np.array_equal(with_shared[name].hashes.arrays[group], array)  # type: ignore[union-attr]
            assert np.array_equal(without[name].hashes.arrays[group], array)  # type: ignore[union-attr]


def test_a_task_that_cannot_map_the_file_returns_its_hashes(
    datasets: dict[str, Dataset],
) -> None:
    task = plan_tasks(datasets, ScanOptions(), 2)[0]
    nowhere = {
        g: HashTarget("/nonexistent/assay-hashes", "no-such-token", 0, task.rows)
        for g in set(task.groups.values())
    }
    result = run_task(task.__class__(**{**task.__dict__, "hash_targets": nowhere}))
    assert not result.written
    assert set(result.hashes) == set(task.groups.values())
    assert all(a.size == task.rows for a in result.hashes.values())


def test_tasks_that_split_a_datasets_columns_return_partials(tmp_path: Path) -> None:
    # One row slice: the planner splits the columns into groups, and two tasks then cover
    # the same rows; adding to shared rows at once would race, so they return partials.
    pq.write_table(mixed_table(3_000, 3), tmp_path / "small.parquet")
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "t"}, "datasets": {"d": {"path": "small.parquet"}}},
        base_dir=tmp_path,
    )
    datasets = {"d": open_dataset(spec, "d")}
    state = _PassState(datasets, row_hashes=True)
    done = state.share_memory()
    tasks = [state.prepare(t) for t in plan_tasks(datasets, ScanOptions(), 2)]
    assert len(tasks) > 1 and not any(t.hash_targets for t in tasks)
    results = [state.fold(run_task(t)) for t in tasks]
    done()
    state.check_filled(datasets)
    assert not any(r.written for r in results)


def test_closing_forgets_the_mapping_and_keeps_the_arrays() -> None:
    hashes = SharedHashes.create({("d", "features"): 10, ("d", "label"): 5})
    assert hashes is not None
    array = hashes.arrays[("d", "label")]
    hashes.target(("d", "label"), 2, 3).view()[:] = [7, 8, 9]  # type: ignore[index]
    hashes.close()
    assert hashes.token not in shared._MAPPED
    assert array.tolist()[2:] == [7, 8, 9]  # still mapped while in use
