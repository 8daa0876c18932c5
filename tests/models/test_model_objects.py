"""Estimators passed through the Python API, batching, scores and the output checks."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _model_support import MINIMAL, Fitted, spec_with

from assay.errors import MODEL_MISSING_DEPENDENCY, InputError, ModelCallError, SpecError
from assay.sources.models import (
    EstimatorModel,
    Predictions,
    check_outputs,
    load_model,
    model_format,
)
from assay.spec import parse_spec, spec_from_mapping

BASE = {"version": 1, "system": {"name": "x"}}


def test_estimator_object_through_the_python_api(mixed: Fitted) -> None:
    spec = spec_from_mapping({**BASE, "model": {"object": mixed.model, "batch_size": 7}})
    assert spec.model is not None and spec.model.object is mixed.model
    assert b"object: <in-memory sklearn.pipeline.Pipeline>" in spec.raw
    assert model_format(spec) == "sklearn"
    model = load_model(spec)
    assert isinstance(model, EstimatorModel) and model.batch_size == 7
    assert model.classes == ("high", "low", "mid")
    out = model.predict_all(mixed.table)
    assert list(out.labels) == list(mixed.model.predict(mixed.frame))
    assert out.proba is not None
    assert np.allclose(out.proba, mixed.model.predict_proba(mixed.frame))
    assert model.description == "sklearn model Pipeline (in-memory object)"


def test_estimator_shorthand(numeric: Fitted) -> None:
    spec = spec_from_mapping({**BASE, "model": numeric.model})
    model = load_model(spec)
    assert list(model.predict(numeric.table)) == list(numeric.model.predict(numeric.frame.values))


def test_object_with_format_sklearn_and_features(numeric: Fitted) -> None:
    spec = spec_from_mapping(
        {**BASE, "model": {"object": numeric.model, "format": "sklearn", "features": ["x3"]}}
    )
    with pytest.raises(InputError, match="the model takes 3 features and `features` lists 1"):
        load_model(spec)


def test_object_must_be_a_model() -> None:
    with pytest.raises(SpecError) as info:
        spec_from_mapping({**BASE, "model": {"object": {"weights": 1}}})
    assert "object must be a fitted model with a `predict` method" in str(info.value)


def test_object_key_in_yaml_is_refused() -> None:
    with pytest.raises(SpecError) as info:
        parse_spec((MINIMAL + "model:\n  object: my_model\n").encode())
    assert str(info.value) == (
        "spec, line 3: model object must be a fitted model with a `predict` method, given "
        "through the Python API (got str); in a YAML file use path, callable or url. "
        "Got a mapping with keys 'object'. See docs/spec.md for what this field accepts."
    )


def test_decision_function_gives_scores(numeric: Fitted) -> None:
    from sklearn.svm import LinearSVC

    x = numeric.frame.to_numpy()
    svc = LinearSVC().fit(x, numeric.model.predict(x))
    model = load_model(spec_from_mapping({**BASE, "model": svc}))
    assert not model.probabilistic
    scores = model.predict_proba(numeric.table)
    assert scores is not None and scores.shape == (numeric.table.num_rows, 2)
    assert np.allclose(scores[:, 1], svc.decision_function(x))
    assert np.array_equal(scores.argmax(axis=1), svc.predict(x))


def test_regressor_has_no_probabilities(numeric: Fitted) -> None:
    from sklearn.linear_model import Ridge

    x = numeric.frame.to_numpy()
    model = load_model(spec_from_mapping({**BASE, "model": Ridge().fit(x, x[:, 0])}))
    assert model.classes is None and model.predict_proba(numeric.table) is None
    assert np.allclose(model.predict(numeric.table), Ridge().fit(x, x[:, 0]).predict(x))


def test_batches_give_the_same_result(numeric: Fitted) -> None:
    whole = load_model(spec_from_mapping({**BASE, "model": numeric.model}))
    spec = spec_from_mapping({**BASE, "model": {"object": numeric.model, "batch_size": 13}})
    batched = load_model(spec)
    a, b = whole.predict_all(numeric.table), batched.predict_all(numeric.table)
    assert np.array_equal(a.labels, b.labels)
    assert a.proba is not None and b.proba is not None and np.allclose(a.proba, b.proba)
    empty = batched.predict_all(numeric.table.slice(0, 0))
    assert len(empty.labels) == 0


def test_a_failing_model_names_itself(mixed: Fitted) -> None:
    model = load_model(spec_from_mapping({**BASE, "model": mixed.model}))
    with pytest.raises(ModelCallError) as info:
        model.predict(mixed.table.drop_columns(["cat"]))
    assert str(info.value) == (
        "sklearn model Pipeline (in-memory object): the model takes columns the data lacks: "
        "cat (the data has: x1, x2)"
    )
    bad = mixed.table.set_column(0, "x1", pa.array(["z"] * mixed.table.num_rows))
    with pytest.raises(ModelCallError, match=r"failed on a batch of 300 rows: ValueError"):
        model.predict(bad)


def test_missing_optional_dependency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "m.skops").write_bytes(b"x")
    (tmp_path / "m.onnx").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "skops.io", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(InputError) as info:
        load_model(spec_with(tmp_path, "  path: m.skops\n"))
    assert str(info.value) == MODEL_MISSING_DEPENDENCY.format(
        where=f"{tmp_path / 'assay.yaml'}, line 4", format="skops", package="skops"
    )
    assert "pip install 'assay[models]'" in str(info.value)
    with pytest.raises(InputError, match="needs onnxruntime, which is not installed"):
        load_model(spec_with(tmp_path, "  path: m.onnx\n"))


def test_no_model_section() -> None:
    with pytest.raises(InputError, match="the spec has no `model:` section"):
        load_model(spec_from_mapping(BASE))


# check_outputs --------------------------------------------------------------------------------


def test_check_outputs_counts_rows() -> None:
    with pytest.raises(ModelCallError) as info:
        check_outputs(Predictions(np.array([1, 0, 1])), 5, source="callable m:f")
    assert str(info.value) == "callable m:f: the model returned 3 values for 5 rows"


def test_check_outputs_shapes() -> None:
    column = check_outputs(Predictions(np.array([[1], [0]])), 2)
    assert column.labels.shape == (2,)
    with pytest.raises(ModelCallError, match=r"3 probability columns for 2 classes \(0, 1\)"):
        check_outputs(Predictions(np.zeros(2), np.zeros((2, 3)), (0, 1)), 2)
    with pytest.raises(ModelCallError, match=r"probabilities of shape \(3, 2\) for 2 rows"):
        check_outputs(Predictions(np.zeros(2), np.zeros((3, 2)), (0, 1)), 2)
    with pytest.raises(ModelCallError, match="as one column"):
        check_outputs(Predictions(np.zeros(2), np.zeros(2)), 2)
    with pytest.raises(ModelCallError, match=r"predictions of shape \(2, 2\)"):
        check_outputs(Predictions(np.zeros((2, 2))), 2)
