"""A pass worker handed its first task before the audit has planned: used, cut or dropped."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from _profile_support import mixed_table
from assay.profiles import engine
from assay.profiles import pool as pool_module
from assay.profiles._frames import write_frame
from assay.profiles.engine import (
    SAMPLE_AHEAD,
    ScanOptions,
    Task,
    adopt_early,
    plan_tasks,
    pooled,
    run_inline,
    run_task,
    scan,
)
from assay.profiles.pool import Worker, WorkerPool, start_ahead
from assay.sources import open_dataset
from assay.spec import spec_from_mapping


@pytest.fixture
def datasets(tmp_path: Path) -> dict[str, Any]:
    pq.write_table(mixed_table(30_000, 1), tmp_path / "ref.parquet", row_group_size=4_000)
    pq.write_table(mixed_table(20_000, 2), tmp_path / "cur.parquet", row_group_size=4_000)
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "t"},
            "datasets": {
                "reference": {"path": "ref.parquet", "target": "t"},
                "current": {"path": "cur.parquet", "target": "t"},
            },
        },
        base_dir=tmp_path,
    )
    return {name: open_dataset(spec, name) for name in spec.datasets}


def summary(results: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, found in results.items():
        profile = found.profile
        out[name] = (
            {c.name: (c.count, c.nulls, c.min, c.max, dict(c.items.counts)) for c in profile},
            None if found.sample is None else str(found.sample.to_pylist()),
            {g: None if a is None else a.tolist() for g, a in found.hashes.arrays.items()},
        )
    return out


def tasks_run(monkeypatch: pytest.MonkeyPatch) -> list[Task]:
    """Every task the pass runs, here or asked of a worker (not answers given early)."""
    seen: list[Task] = []
    request, here = Worker.request, engine.run_task

    def asked(self: Worker, message: tuple[Any, ...]) -> Any:
        if message[0] == "task":
            seen.append(message[1])
        return request(self, message)

    def run_here(task: Task) -> Any:
        seen.append(task)
        return here(task)

    monkeypatch.setattr(Worker, "request", asked)
    monkeypatch.setattr(engine, "run_task", run_here)
    return seen


def biggest(tasks: list[Task]) -> Task:
    return max(tasks, key=lambda t: t.rows * len(t.columns))


def same_slice(a: Task, b: Task) -> bool:
    return (a.dataset, a.part, a.columns) == (b.dataset, b.part, b.columns)


@pytest.mark.parametrize("sample", [SAMPLE_AHEAD, 700, 0], ids=["same", "smaller", "none"])
def test_the_early_answer_is_used_and_the_pass_is_unchanged(
    datasets: dict[str, Any], monkeypatch: pytest.MonkeyPatch, sample: int
) -> None:
    options = ScanOptions(seed=5, sample_size=sample, workers=2)
    expected = summary(scan(datasets, options, executor=run_inline))
    pool_module.prestart(1)
    early = plan_tasks(datasets, ScanOptions(seed=5, sample_size=SAMPLE_AHEAD), 2)
    seen = tasks_run(monkeypatch)
    assert start_ahead(early) == 1
    with WorkerPool(1) as pool:
        worker = pool._ensure_workers()[0]
        assert worker.ahead is not None and same_slice(worker.ahead.task, biggest(early))
        got = summary(scan(datasets, options, executor=pooled(pool)))
        assert worker.ahead is None

    assert got == expected
    assert len(seen) == len(early) - 1
    assert not any(same_slice(t, biggest(early)) for t in seen)


def test_an_early_answer_that_cannot_serve_is_dropped_and_the_worker_stays_in_step(
    datasets: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    options = ScanOptions(seed=5, sample_size=SAMPLE_AHEAD + 1, workers=2)  # not a subset
    expected = summary(scan(datasets, options, executor=run_inline))
    pool_module.prestart(1)
    early = plan_tasks(datasets, ScanOptions(seed=5, sample_size=SAMPLE_AHEAD), 2)
    seen = tasks_run(monkeypatch)
    start_ahead(early)
    with WorkerPool(1) as pool:
        got = summary(scan(datasets, options, executor=pooled(pool)))
        assert pool.submit(divmod, 7, 2).result(timeout=60) == (3, 1)  # replies still match

    assert got == expected
    assert len(seen) == len(early)  # every task ran in the pass, the early one again


def test_adopt_early_serves_the_same_task_or_a_smaller_sample_only(
    datasets: dict[str, Any],
) -> None:
    big = plan_tasks(datasets, ScanOptions(seed=5, sample_size=SAMPLE_AHEAD), 2)
    small = plan_tasks(datasets, ScanOptions(seed=5, sample_size=300), 2)
    larger = plan_tasks(datasets, ScanOptions(seed=5, sample_size=SAMPLE_AHEAD * 2), 2)
    other_seed = plan_tasks(datasets, ScanOptions(seed=6, sample_size=SAMPLE_AHEAD), 2)
    assert adopt_early(big[0], big[0]) is not None
    assert adopt_early(big[0], big[1]) is None  # another slice or columns
    assert adopt_early(big[0], larger[0]) is None
    assert adopt_early(big[0], other_seed[0]) is None
    cut = adopt_early(big[0], small[0])
    assert cut is not None
    direct, from_big = run_task(small[0]), cut(run_task(big[0]))
    assert small[0].sample_rows.size > 0
    assert from_big.sample.keys() == direct.sample.keys()
    for column, values in direct.sample.items():  # str(): NaN-safe
        assert str(from_big.sample[column].to_pylist()) == str(values.to_pylist())
    assert from_big.profiles.keys() == direct.profiles.keys()
    for group, sums in direct.hashes.items():
        assert np.array_equal(sums, from_big.hashes[group])


def test_a_worker_whose_audit_went_away_exits_quietly(datasets: dict[str, Any]) -> None:
    task = plan_tasks(datasets, ScanOptions(seed=5), 2)[0]
    worker = subprocess.Popen(
        [sys.executable, "-m", "assay.profiles._worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None
    write_frame(worker.stdin, pickle.dumps(("task", task), protocol=pickle.HIGHEST_PROTOCOL))
    worker.stdout.close()  # the audit ended before reading the answer
    worker.stdin.close()
    assert worker.wait(timeout=60) == 0
    assert worker.stderr is not None
    with worker.stderr:
        assert worker.stderr.read() == b""
