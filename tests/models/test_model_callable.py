"""`callable: module:function` models: the import, the contract and the errors."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _model_support import Fitted, spec_with

from assay.errors import InputError, ModelCallError
from assay.sources.models import FunctionModel, load_model

_names = itertools.count()


def _module(folder: Path, body: str) -> str:
    """Write a uniquely named module into ``folder``; return its name."""
    name = f"assay_test_model_{next(_names)}"
    (folder / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return name


def test_function_returning_predictions(tmp_path: Path, numeric: Fitted) -> None:
    name = _module(
        tmp_path,
        """
        import numpy as np

        def predict(frame):
            assert list(frame.columns) == ["x1", "x2"]
            return (frame["x1"] > 0).astype(int).to_numpy()
        """,
    )
    spec = spec_with(tmp_path, f"  callable: {name}:predict\n  features: [x1, x2]\n")
    model = load_model(spec)
    assert isinstance(model, FunctionModel)
    assert model.description == f"callable {name}:predict"
    labels = model.predict(numeric.table)
    assert list(labels) == list((numeric.frame["x1"] > 0).astype(int))
    assert model.predict_proba(numeric.table) is None


def test_function_returning_a_mapping(tmp_path: Path, numeric: Fitted) -> None:
    name = _module(
        tmp_path,
        """
        import numpy as np

        calls = []

        def predict(frame):
            calls.append(len(frame))
            p = 1 / (1 + np.exp(-frame["x1"].to_numpy()))
            return {
                "prediction": np.where(p > 0.5, "yes", "no"),
                "proba": np.column_stack([1 - p, p]),
                "classes": ["no", "yes"],
            }
        """,
    )
    model = load_model(spec_with(tmp_path, f"  callable: {name}:predict\n  batch_size: 100\n"))
    out = model.predict_all(numeric.table)
    p = 1 / (1 + np.exp(-numeric.frame["x1"].to_numpy()))
    assert model.classes == ("no", "yes") and model.probabilistic
    assert out.proba is not None and np.allclose(out.proba[:, 1], p)
    assert list(out.labels) == list(np.where(p > 0.5, "yes", "no"))
    module = __import__(name)
    assert module.calls == [100, 100, 100]  # one call per batch, labels and proba together


def test_scores_and_classes_from_the_spec(tmp_path: Path, numeric: Fitted) -> None:
    name = _module(
        tmp_path,
        """
        def predict(frame):
            s = frame["x1"].to_numpy()
            return {"prediction": (s > 0).astype(int), "scores": [[-v, v] for v in s]}
        """,
    )
    spec = spec_with(tmp_path, f"  callable: {name}:predict\n  classes: [0, 1]\n")
    model = load_model(spec)
    scores = model.predict_proba(numeric.table)
    assert scores is not None and scores.shape == (300, 2)
    assert not model.probabilistic and model.classes == (0, 1)


def test_file_path_and_dotted_attribute(tmp_path: Path, numeric: Fitted) -> None:
    (tmp_path / "serving").mkdir()
    (tmp_path / "serving" / "entry.py").write_text(
        "class Model:\n"
        "    @staticmethod\n"
        "    def predict(frame):\n"
        "        return [7] * len(frame)\n"
    )
    model = load_model(spec_with(tmp_path, "  callable: serving/entry.py:Model.predict\n"))
    assert set(model.predict(numeric.table)) == {7}


def test_wrong_output_and_failures(tmp_path: Path, numeric: Fitted) -> None:
    name = _module(
        tmp_path,
        """
        def short(frame):
            return [1, 0, 1]

        def keys(frame):
            return {"label": [1] * len(frame)}

        def boom(frame):
            raise RuntimeError("weights not found")
        """,
    )
    table = numeric.table.slice(0, 5)
    with pytest.raises(ModelCallError) as info:
        load_model(spec_with(tmp_path, f"  callable: {name}:short\n")).predict(table)
    assert str(info.value) == f"callable {name}:short: the model returned 3 values for 5 rows"
    with pytest.raises(ModelCallError, match="it needs 'prediction'"):
        load_model(spec_with(tmp_path, f"  callable: {name}:keys\n")).predict(table)
    with pytest.raises(ModelCallError) as info:
        load_model(spec_with(tmp_path, f"  callable: {name}:boom\n")).predict(table)
    assert str(info.value) == (
        f"callable {name}:boom: the model failed on a batch of 5 rows: "
        "RuntimeError: weights not found"
    )


def _import_error(tmp_path: Path, target: str) -> str:
    with pytest.raises(InputError) as info:
        load_model(spec_with(tmp_path, f"  callable: {target}\n"))
    return str(info.value)


def test_import_errors_name_module_and_attribute(tmp_path: Path) -> None:
    where = f"{tmp_path / 'assay.yaml'}, line 4"
    assert _import_error(tmp_path, "no_such_module_xyz:predict") == (
        f"{where}: cannot import 'no_such_module_xyz:predict': no module named "
        f"'no_such_module_xyz' (searched the spec's folder {tmp_path.resolve()} and sys.path). "
        "Install the package, or fix the module name."
    )
    name = _module(tmp_path, "VALUE = 3\n\ndef predict(frame):\n    return []\n")
    assert _import_error(tmp_path, f"{name}:predikt") == (
        f"{where}: cannot import '{name}:predikt': module '{name}' has no attribute "
        "'predikt'. Names it defines: VALUE, predict."
    )
    assert "'VALUE' in module" in _import_error(tmp_path, f"{name}:VALUE")
    assert "is not callable (it is of type int)" in _import_error(tmp_path, f"{name}:VALUE")
    broken = _module(tmp_path, "import not_installed_pkg_xyz\n")
    assert f"module '{broken}' imports 'not_installed_pkg_xyz', which is not installed" in (
        _import_error(tmp_path, f"{broken}:f")
    )
    raising = _module(tmp_path, "raise ValueError('bad config')\n")
    assert "raised ValueError: bad config. Fix the error in the module." in _import_error(
        tmp_path, f"{raising}:f"
    )
    assert "file " in _import_error(tmp_path, "nope/file.py:f")
