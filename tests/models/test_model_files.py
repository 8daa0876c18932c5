"""Model files: skops, pickle, joblib and ONNX agree with the estimator they were made from,
and every file problem is an InputError naming the spec line, the value and the fix."""

from __future__ import annotations

import operator
import pickle
from pathlib import Path

import numpy as np
import pytest
from _model_support import Fitted, spec_with

from assay.errors import (
    MODEL_FORMAT_UNKNOWN,
    MODEL_NOT_FOUND,
    MODEL_UNTRUSTED_PICKLE,
    MODEL_UNTRUSTED_TYPES,
    InputError,
)
from assay.sources.models import EstimatorModel, Model, OnnxModel, load_model


def _agree(model: Model, fitted: Fitted, *, atol: float = 1e-9) -> None:
    assert isinstance(model, Model)
    labels = model.predict(fitted.table)
    proba = model.predict_proba(fitted.table)
    assert proba is not None
    assert model.classes == tuple(fitted.model.classes_.tolist())
    assert list(labels) == list(fitted.model.predict(_input(fitted)))
    assert np.allclose(proba, fitted.model.predict_proba(_input(fitted)), atol=atol)


def _input(fitted: Fitted) -> object:
    named = hasattr(fitted.model, "feature_names_in_")
    return fitted.frame if named else fitted.frame.to_numpy()


def _load_error(folder: Path, model_yaml: str) -> str:
    spec = spec_with(folder, model_yaml)
    with pytest.raises(InputError) as info:
        load_model(spec)
    return str(info.value)


# skops ---------------------------------------------------------------------------------------


def test_skops_file_agrees_with_the_estimator(tmp_path: Path, mixed: Fitted) -> None:
    import skops.io as sio

    sio.dump(mixed.model, tmp_path / "model.skops")
    model = load_model(spec_with(tmp_path, "  path: model.skops\n"))
    assert isinstance(model, EstimatorModel) and model.kind == "skops"
    assert model.features == ("x1", "x2", "cat")
    assert model.probabilistic and model.warnings == []
    _agree(model, mixed)
    wider = mixed.table.append_column("extra", mixed.table.column("x1"))
    assert list(model.predict(wider)) == list(model.predict(mixed.table))  # picks its columns
    assert "model.skops" in model.description and model.fingerprint()["kind"] == "skops"


def _untrusted_pipeline(fitted: Fitted) -> object:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x = fitted.frame.to_numpy()
    return make_pipeline(FunctionTransformer(operator.neg), fitted.model.__class__()).fit(
        x, fitted.model.predict(x)
    )


def test_skops_untrusted_types_need_trust(tmp_path: Path, numeric: Fitted) -> None:
    import skops.io as sio

    sio.dump(_untrusted_pipeline(numeric), tmp_path / "m.skops")
    message = _load_error(tmp_path, "  path: m.skops\n")
    assert message == MODEL_UNTRUSTED_TYPES.format(
        where=f"{tmp_path / 'assay.yaml'}, line 4",
        file=tmp_path / "m.skops",
        types="_operator.neg",
    )
    assert "add `trust: true`" in message
    model = load_model(spec_with(tmp_path, "  path: m.skops\n  trust: true\n"))
    assert len(model.predict(numeric.table)) == numeric.table.num_rows
    assert model.warnings and "_operator.neg" in model.warnings[0]


def test_not_a_skops_file(tmp_path: Path) -> None:
    (tmp_path / "m.skops").write_text("hello")
    message = _load_error(tmp_path, "  path: m.skops\n")
    assert message.startswith(
        f"{tmp_path / 'assay.yaml'}, line 4: cannot load model file {tmp_path / 'm.skops'} "
        "as skops: not a skops file: "
    )


# pickle and joblib --------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "fmt"), [(".pkl", "pickle"), (".joblib", "joblib")])
def test_pickled_models_need_trust(tmp_path: Path, numeric: Fitted, suffix: str, fmt: str) -> None:
    import joblib

    file = tmp_path / f"model{suffix}"
    if fmt == "joblib":
        joblib.dump(numeric.model, file)
    else:
        file.write_bytes(pickle.dumps(numeric.model))
    message = _load_error(tmp_path, f"  path: model{suffix}\n")
    assert message == MODEL_UNTRUSTED_PICKLE.format(
        where=f"{tmp_path / 'assay.yaml'}, line 4", file=file, format=fmt
    )
    assert "runs any code" in message and "trust: true" in message and "skops" in message
    model = load_model(
        spec_with(tmp_path, f"  path: model{suffix}\n  trust: true\n  features: [x1, x2, x3]\n")
    )
    assert model.warnings == [
        f"loaded {file} with {fmt}, which can run any code the file holds, because the spec "
        "says `trust: true`"
    ]
    _agree(model, numeric)


def test_pickle_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    message = _load_error(tmp_path, "  path: m.pkl\n  trust: true\n")
    assert message == (
        f"{tmp_path / 'assay.yaml'}, line 4: {tmp_path / 'm.pkl'} is a builtins.dict, not a "
        "model: it has no `predict` method. Save the fitted estimator or pipeline itself."
    )


def test_corrupt_joblib_file(tmp_path: Path) -> None:
    (tmp_path / "m.joblib").write_bytes(b"\x00garbage")
    message = _load_error(tmp_path, "  path: m.joblib\n  trust: true\n")
    assert f"cannot load model file {tmp_path / 'm.joblib'} as joblib: not a joblib file (" in (
        message
    )


# ONNX ----------------------------------------------------------------------------------------


def test_onnx_single_tensor_with_zipmap(tmp_path: Path, numeric: Fitted) -> None:
    from skl2onnx import to_onnx

    onx = to_onnx(numeric.model, numeric.frame.to_numpy()[:1].astype(np.float32))
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    model = load_model(spec_with(tmp_path, "  path: model.onnx\n  batch_size: 64\n"))
    assert isinstance(model, OnnxModel) and not model.per_column
    _agree(model, numeric, atol=1e-5)


def test_onnx_tensor_probabilities_take_classes_from_the_graph(
    tmp_path: Path, numeric: Fitted
) -> None:
    from skl2onnx import to_onnx

    onx = to_onnx(
        numeric.model,
        numeric.frame.to_numpy()[:1].astype(np.float32),
        options={id(numeric.model): {"zipmap": False}},
    )
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    model = load_model(spec_with(tmp_path, "  path: model.onnx\n"))
    assert model.classes == (0, 1)
    _agree(model, numeric, atol=1e-5)


def test_onnx_one_input_per_column(tmp_path: Path, mixed: Fitted) -> None:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    onx = convert_sklearn(
        mixed.model,
        initial_types=[
            ("x1", FloatTensorType([None, 1])),
            ("x2", FloatTensorType([None, 1])),
            ("cat", StringTensorType([None, 1])),
        ],
    )
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    model = load_model(spec_with(tmp_path, "  path: model.onnx\n  batch_size: 100\n"))
    assert isinstance(model, OnnxModel) and model.per_column
    assert model.features == ("x1", "x2", "cat")
    _agree(model, mixed, atol=1e-5)
    message = _load_error(tmp_path, "  path: model.onnx\n  features: [x1, cat]\n")
    assert message == (
        f"{tmp_path / 'assay.yaml'}, line 4: cannot load model file {tmp_path / 'model.onnx'} "
        "as onnx: the model has one input per column, and its inputs x2 are not among "
        "`features`. List the model's input columns, in order, under `features:` "
        "(docs/models.md, ONNX layouts)."
    )


def test_onnx_regressor(tmp_path: Path, numeric: Fitted) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LinearRegression

    x = numeric.frame.to_numpy()
    reg = LinearRegression().fit(x, x @ np.array([1.0, -2.0, 0.5]))
    (tmp_path / "r.onnx").write_bytes(to_onnx(reg, x[:1].astype(np.float32)).SerializeToString())
    model = load_model(spec_with(tmp_path, "  path: r.onnx\n"))
    assert model.predict_proba(numeric.table) is None and model.classes is None
    assert np.allclose(model.predict(numeric.table), reg.predict(x), atol=1e-4)


def test_onnx_width_must_match_features(tmp_path: Path, numeric: Fitted) -> None:
    from skl2onnx import to_onnx

    onx = to_onnx(numeric.model, numeric.frame.to_numpy()[:1].astype(np.float32))
    (tmp_path / "model.onnx").write_bytes(onx.SerializeToString())
    message = _load_error(tmp_path, "  path: model.onnx\n  features: [x1, x2]\n")
    assert "the model's input 'X' takes 3 features, but `features` lists 2" in message


def test_not_an_onnx_file(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_text("not protobuf")
    message = _load_error(tmp_path, "  path: model.onnx\n")
    assert message.startswith(
        f"{tmp_path / 'assay.yaml'}, line 4: cannot load model file {tmp_path / 'model.onnx'} "
        "as onnx: not an ONNX file: "
    )
    assert message.endswith("Export the model again (for example with skl2onnx), or fix `format:`.")


# Paths and formats ---------------------------------------------------------------------------


def test_missing_model_file(tmp_path: Path) -> None:
    message = _load_error(tmp_path, "  path: models/nope.skops\n")
    assert message == MODEL_NOT_FOUND.format(
        where=f"{tmp_path / 'assay.yaml'}, line 4", file=tmp_path / "models" / "nope.skops"
    )
    assert "relative paths start at the spec's folder" in message


def test_unknown_suffix_asks_for_format(tmp_path: Path, numeric: Fitted) -> None:
    import skops.io as sio

    sio.dump(numeric.model, tmp_path / "model.bin")
    message = _load_error(tmp_path, "  path: model.bin\n")
    assert message == MODEL_FORMAT_UNKNOWN.format(
        where=f"{tmp_path / 'assay.yaml'}, line 4", file=tmp_path / "model.bin", suffix=".bin"
    )
    assert "Add `format: skops`" in message
    model = load_model(spec_with(tmp_path, "  path: model.bin\n  format: skops\n"))
    assert model.classes == (0, 1)


def test_wrong_format_says_why(tmp_path: Path, numeric: Fitted) -> None:
    import skops.io as sio

    sio.dump(numeric.model, tmp_path / "model.bin")
    message = _load_error(tmp_path, "  path: model.bin\n  format: onnx\n")
    assert "as onnx: not an ONNX file" in message


def test_feature_count_checked_against_the_estimator(tmp_path: Path, numeric: Fitted) -> None:
    import skops.io as sio

    sio.dump(numeric.model, tmp_path / "m.skops")
    message = _load_error(tmp_path, "  path: m.skops\n  features: [x1, x2]\n")
    assert message == (
        f"{tmp_path / 'assay.yaml'}, line 5: `features` does not fit the model: the model "
        "takes 3 features and `features` lists 2 (x1, x2). List the 3 columns the model was "
        "fitted on, in order."
    )


def test_feature_names_checked_against_the_estimator(tmp_path: Path, mixed: Fitted) -> None:
    import skops.io as sio

    sio.dump(mixed.model, tmp_path / "m.skops")
    message = _load_error(tmp_path, "  path: m.skops\n  features: [x1, x2, colour]\n")
    assert message == (
        f"{tmp_path / 'assay.yaml'}, line 5: `features` does not fit the model: the model was "
        "fitted on cat, which it lacks; it lists colour, which the model was not fitted on. "
        "List the model's columns: [x1, x2, cat]."
    )
