"""Predictions shared by the model checks: where they come from, and labels that do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from assay.api import execute
from assay.checks._context import Context
from assay.checks._registry import Status
from assay.runner import open_model
from assay.sources import open_dataset
from assay.spec.loader import spec_from_mapping
from assay.spec.models import Spec

N = 120


def write(root: Path, *, labels: tuple[Any, Any] = ("No", "Yes")) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    y = np.where(x + rng.normal(scale=0.5, size=N) > 0, labels[1], labels[0])
    score = 1 / (1 + np.exp(-2 * x))
    table = pa.table({"x": x, "y": y, "score": np.round(score, 4)})
    root.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, root / "train.parquet")
    pq.write_table(table, root / "test.parquet")


def spec(root: Path, model: Any = None, **dataset: Any) -> Spec:
    sets = {
        name: {"path": f"{name}.parquet", "target": "y", **dataset} for name in ("train", "test")
    }
    mapping: dict[str, Any] = {"version": 1, "system": {"name": "eval"}, "datasets": sets}
    if model is not None:
        mapping["model"] = {"object": model, "features": ["x"]}
    return spec_from_mapping(mapping, base_dir=root)


def context(s: Spec) -> Context:
    ctx = Context(s, {name: open_dataset(s, name) for name in s.datasets})
    ctx.model = open_model(s)
    return ctx


def test_stored_scores_become_two_columns_over_the_declared_positive(tmp_path: Path) -> None:
    write(tmp_path)
    ev = context(spec(tmp_path, score="score", positive_label="Yes")).evaluation("test")
    assert ev.task == "classification" and ev.classes == ("No", "Yes") and ev.positive == "Yes"
    assert ev.proba is not None and ev.positive_scores is not None
    assert np.allclose(ev.proba.sum(axis=1), 1.0)
    assert set(ev.y_pred.tolist()) <= {"No", "Yes"}
    assert "the dataset's `score` columns" in ev.source


def test_the_model_is_run_once_per_dataset_and_shared(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    write(tmp_path)
    train = pq.read_table(tmp_path / "train.parquet").to_pandas()
    fitted = LogisticRegression().fit(train[["x"]], train["y"])
    ctx = context(spec(tmp_path, fitted, positive_label="Yes"))
    first = ctx.evaluation("test")
    assert ctx.evaluation("test") is first
    assert first.probabilistic and first.classes == ("No", "Yes")


def test_labels_the_model_does_not_know_are_an_error_naming_both(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    write(tmp_path)
    train = pq.read_table(tmp_path / "train.parquet").to_pandas()
    numeric = LogisticRegression().fit(train[["x"]], (train["y"] == "Yes").astype(int))
    ctx = context(spec(tmp_path, numeric))
    with pytest.raises(ValueError) as raised:
        ctx.evaluation("test")
    assert str(raised.value).startswith(
        "dataset 'test': the target `y` holds 'No', 'Yes', which sklearn model "
        "LogisticRegression (in-memory object) does not know (its classes: 0, 1)."
    )


def test_an_audit_with_misfitting_labels_reports_errors_and_goes_on(tmp_path: Path) -> None:
    write(tmp_path, labels=("neg", "pos"))
    table = pq.read_table(tmp_path / "test.parquet")
    table = table.append_column("pred", pa.array(["A", "B"] * (N // 2)))
    pq.write_table(table, tmp_path / "test.parquet")
    s = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "eval"},
            "datasets": {
                "test": {"path": "test.parquet", "target": "y", "prediction": "pred"},
            },
        },
        base_dir=tmp_path,
    )
    findings = execute(s).run.findings
    (performance,) = [f for f in findings if f.check_id == "model.performance"]
    assert performance.status is Status.ERROR
    assert "the predictions ('A', 'B') share no label with the target `y` ('neg', 'pos')" in (
        performance.message
    )
    assert any(f.domain == "integrity" and f.status is Status.PASS for f in findings)


def test_an_endpoint_that_is_down_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    write(tmp_path)
    s = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "eval"},
            "datasets": {"test": {"path": "test.parquet", "target": "y"}},
            "model": {
                "url": "http://127.0.0.1:9/predict",
                "timeout": 0.2,
                "retries": 0,
                "features": ["x"],
                "classes": ["No", "Yes"],
            },
        },
        base_dir=tmp_path,
    )
    findings = execute(s).run.findings
    (performance,) = [f for f in findings if f.check_id == "model.performance"]
    assert performance.status is Status.ERROR
    assert "http://127.0.0.1:9/predict" in performance.message
    assert any(f.domain == "integrity" and f.status is Status.PASS for f in findings)
