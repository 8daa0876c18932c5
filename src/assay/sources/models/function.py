"""Any Python function as a model: ``callable: package.module:function``.

The contract: the function takes a pandas DataFrame of the feature columns (one batch) and
returns either

- the predictions: anything ``numpy.asarray`` makes 1-D, one value per row; or
- a mapping with ``prediction`` (required, one value per row) and optionally ``proba`` (an
  ``n × k`` array of class probabilities) or ``scores`` (the same, but not probabilities),
  and ``classes`` (the ``k`` labels in column order; else the spec's ``classes:``).

The module is imported with :mod:`importlib`; the spec's folder is put first on ``sys.path``
while it is imported, so a ``serve.py`` beside ``assay.yaml`` is found as ``serve:predict``.
``path/to/file.py:function`` imports a file by its path (relative to the spec's folder).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.errors import MODEL_CALLABLE_IMPORT, InputError, ModelCallError
from assay.sources.models.base import BatchedModel, Predictions


class FunctionModel(BatchedModel):
    """A function called with a pandas DataFrame per batch; see the module doc."""

    kind = "callable"

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        target: str,
        features: Sequence[str] | None = None,
        classes: Sequence[Any] | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(features=features, classes=classes, batch_size=batch_size)
        self.function = function
        self.target = target
        self.description = f"callable {target}"
        self._probabilistic = True

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "callable": self.target}

    def _predict_batch(self, batch: pa.Table) -> Predictions:
        out = self.function(batch.to_pandas())
        if not isinstance(out, Mapping):
            return Predictions(np.asarray(out), None, self._classes)
        if "prediction" not in out:
            raise ModelCallError(
                f"{self.description}: returned a mapping with keys "
                f"{', '.join(map(repr, out)) or 'none'}; it needs 'prediction' (and optionally "
                "'proba' or 'scores', and 'classes')"
            )
        proba = out.get("proba")
        if proba is None and out.get("scores") is not None:
            proba = out["scores"]
            self._probabilistic = False
        classes = out.get("classes")
        if classes is not None:
            classes = tuple(np.asarray(classes).tolist())
        return Predictions(np.asarray(out["prediction"]), proba, classes or self._classes)


def import_callable(target: str, *, base_dir: Path, where: str) -> Callable[..., Any]:
    """Import ``module:attribute`` (or ``file.py:attribute``); raise :class:`InputError`
    naming the module and the attribute when that fails."""
    module_name, _, attribute = target.partition(":")

    def fail(problem: str, fix: str) -> InputError:
        return InputError(
            MODEL_CALLABLE_IMPORT.format(where=where, target=target, problem=problem, fix=fix)
        )

    if module_name.endswith(".py"):
        file = Path(module_name)
        file = file if file.is_absolute() else base_dir / file
        if not file.is_file():
            raise fail(
                f"file {file} does not exist",
                "Fix the path (relative paths start at the spec's folder).",
            )
        module = _import_file(file, fail)
    else:
        module = _import_module(module_name, base_dir, fail)
    obj: Any = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            names = sorted(n for n in dir(module) if not n.startswith("_"))
            raise fail(
                f"module {module_name!r} has no attribute {attribute!r}",
                f"Names it defines: {', '.join(names[:20]) or 'none'}.",
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise fail(
            f"{attribute!r} in module {module_name!r} is not callable (it is of type "
            f"{type(obj).__name__})",
            "Name a function that takes a DataFrame and returns predictions.",
        )
    return obj  # type: ignore[no-any-return]


def _import_module(name: str, base_dir: Path, fail: Callable[[str, str], InputError]) -> Any:
    folder = str(base_dir)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise fail(
                f"no module named {exc.name!r} (searched the spec's folder {base_dir} and "
                "sys.path)",
                "Install the package, or fix the module name.",
            ) from None
        raise fail(
            f"module {name!r} imports {exc.name!r}, which is not installed",
            f"Install {exc.name}.",
        ) from None
    except Exception as exc:
        raise fail(
            f"importing module {name!r} raised {type(exc).__name__}: {exc}",
            "Fix the error in the module.",
        ) from None
    finally:
        if added:
            sys.path.remove(folder)


def _import_file(file: Path, fail: Callable[[str, str], InputError]) -> Any:
    name = f"_assay_model_{file.stem}"
    loader_spec = importlib.util.spec_from_file_location(name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise fail(f"{file} is not a Python module", "Name a .py file.")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        raise fail(
            f"importing {file} raised {type(exc).__name__}: {exc}",
            "Fix the error in the module.",
        ) from None
    return module
