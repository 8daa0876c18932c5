"""assay._gc and the executable's entry: the collector pauses for start-up and the pass."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import assay.cli
from assay import _entry, _gc
from assay.runner import run_audit
from assay.spec.loader import parse_spec


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    _gc._paused = False
    gc.enable()
    gc.unfreeze()


def test_pause_then_resume_freezes_what_exists_and_switches_it_back_on() -> None:
    _gc.pause()
    assert not gc.isenabled()
    _gc.pause()  # idempotent
    _gc.resume()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    _gc.resume()  # nothing to undo
    assert gc.isenabled()


def test_resume_leaves_a_collector_it_did_not_pause_alone() -> None:
    gc.disable()
    _gc.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.parametrize(
    ("command", "paused"), [("audit", True), ("profile", True), ("demo", True), ("verify", False)]
)
def test_the_executable_pauses_it_for_data_commands_only(
    monkeypatch: pytest.MonkeyPatch, command: str, paused: bool
) -> None:
    seen = []
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items()})
    monkeypatch.delitem(os.environ, "OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr(sys, "argv", ["assay", command])
    monkeypatch.setattr(assay.cli, "main", lambda: seen.append(gc.isenabled()))
    _entry.main()
    assert seen == [not paused]
    assert (os.environ.get("OPENBLAS_NUM_THREADS") == "1") is paused


def test_an_audit_resumes_it_after_the_pass(tmp_path: Path) -> None:
    pq.write_table(pa.table({"x": np.arange(50.0)}), tmp_path / "t.parquet")
    spec = parse_spec(
        b"version: 1\nsystem: {name: t}\ndatasets:\n  train: {path: t.parquet}\n",
        base_dir=tmp_path,
    )
    _gc.pause()
    run_audit(spec)
    assert gc.isenabled() and gc.get_freeze_count() > 0
