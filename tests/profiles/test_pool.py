"""Worker processes of an audit: the pass, background calls, warm-up, failures."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.profiles._frames import write_frame
from assay.profiles.engine import Task
from assay.profiles.pool import WorkerPool
from assay.sources.readers import ParquetReader
from assay.stats.domain_classifier import (
    domain_classifier,
    finish_folds,
    fit_folds,
    prepare_folds,
)


def test_a_call_runs_in_another_process_and_returns_its_result() -> None:
    with WorkerPool(1, warm=["json"]) as pool:
        assert pool.submit(os.getpid).result(timeout=60) != os.getpid()
        assert pool.submit(divmod, 17, 5).result(timeout=60) == (3, 2)


def test_an_exception_in_a_worker_is_raised_here() -> None:
    with WorkerPool(1) as pool:
        future = pool.submit(int, "not a number")
        with pytest.raises(ValueError, match="invalid literal"):
            future.result(timeout=60)
        assert pool.submit(int, "7").result(timeout=60) == 7  # the worker survives it


def test_without_workers_a_call_runs_here() -> None:
    with WorkerPool(0) as pool:
        assert pool.submit(os.getpid).result() == os.getpid()


def test_workers_run_single_threaded_blas_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with WorkerPool(1) as pool:
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result(timeout=60) == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    with WorkerPool(1) as pool:
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result(timeout=60) == "3"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"  # this process's setting is untouched


def test_a_missing_warm_module_is_not_fatal() -> None:
    with WorkerPool(1, warm=["no_such_module_for_assay_tests"]) as pool:
        assert pool.submit(abs, -3).result(timeout=60) == 3


def test_the_domain_classifier_gives_the_same_result_on_a_worker() -> None:
    ref = pa.table({"a": [float(i % 7) for i in range(300)], "b": ["x", "y", "z"] * 100})
    cur = pa.table({"a": [float(i % 5) for i in range(300)], "b": ["x", "y", "y"] * 100})
    fit = partial(domain_classifier, seed=3, max_iter=20)
    here = fit(ref, cur)
    with WorkerPool(1) as pool:  # on the pass worker, which refuses pandas
        there = pool.submit(fit, ref, cur).result(timeout=120)
    assert (there.auc, there.ci_low, there.ci_high) == (here.auc, here.ci_low, here.ci_high)


def test_folds_fitted_in_two_processes_give_the_one_process_result() -> None:
    """drift.multivariate fits fold 0 on a worker and fold 1 here: the same numbers."""
    ref = pa.table({"a": [float(i % 7) for i in range(400)], "b": ["x", "y", "z", "w"] * 100})
    cur = pa.table({"a": [float(i % 5) for i in range(400)], "b": ["x", "y", "y", "w"] * 100})
    whole = domain_classifier(ref, cur, seed=4, max_iter=15)
    folds = prepare_folds(ref, cur, seed=4, max_iter=15)
    with WorkerPool(1) as pool:
        first = pool.submit(fit_folds, folds, [0])
        split = finish_folds(folds, [*first.result(timeout=120), *fit_folds(folds, [1])])
    assert split == whole


def test_background_calls_go_to_the_warmed_helper_not_the_pass_worker() -> None:
    with WorkerPool(1, warm=["json"]) as pool:
        there = pool.submit(os.getpid).result(timeout=60)
        helper = pool._helper
        assert helper is not None and there == helper.process.pid
        assert there not in {w.process.pid for w in pool._workers}
        assert len(pool._workers) == 1


def test_a_pool_takes_over_the_prestarted_worker_and_helper() -> None:
    from assay.profiles import pool as pool_module

    pool_module.prestart(1, warm=["json"])
    worker_pid = pool_module._PRESTARTED[-1].process.pid
    helper_pid = pool_module._PRESTARTED_HELPER[-1].process.pid
    with WorkerPool(1, warm=["json"]) as pool:
        assert pool.submit(os.getpid).result(timeout=60) == helper_pid
        assert [w.process.pid for w in pool._workers] == [worker_pid]
    assert not pool_module._PRESTARTED and not pool_module._PRESTARTED_HELPER


def test_a_worker_whose_audit_went_away_exits_quietly(tmp_path: Path) -> None:
    """The audit ends (or is interrupted) while a worker computes: no traceback, exit 0."""
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [float(i) for i in range(5_000)]}), table)
    task = Task(
        dataset="t",
        part=0,
        reader=ParquetReader(str(table)),
        parts=None,
        columns=("x",),
        groups={"x": "features"},
        row_offset=0,
        rows=5_000,
        sample_rows=np.empty(0, np.int64),
        exact_limit=None,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "assay.profiles._worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert worker.stdin is not None and worker.stdout is not None and worker.stderr is not None
    write_frame(worker.stdin, pickle.dumps(("task", task), protocol=pickle.HIGHEST_PROTOCOL))
    worker.stdout.close()  # gone before reading the answer
    worker.stdin.close()
    assert worker.wait(timeout=60) == 0
    with worker.stderr:
        assert worker.stderr.read() == b""
