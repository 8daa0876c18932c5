"""ONNX models, run by onnxruntime on the CPU.

Two input layouts are understood, the two skl2onnx writes:

- **one tensor**: a single 2-D input (``float``, ``double`` or ``int64``) of shape
  ``[N, number of features]``; the feature columns are stacked in order;
- **one input per column**: each input is named after a column and has shape ``[N, 1]`` or
  ``[N]``; its element type (``float``, ``double``, ``int64``, ``int32``, ``bool`` or
  ``string``) says how the column is converted.

The first output is the prediction (``[N]`` or ``[N, 1]``). A second output, when there is one,
holds the class probabilities: a ``[N, k]`` tensor, or skl2onnx's ZipMap form (a list of
``{class: probability}`` maps), whose keys give the classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.errors import MODEL_MISSING_DEPENDENCY, MODEL_UNREADABLE, InputError, ModelCallError
from assay.sources.models.base import BatchedModel, Predictions

_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class OnnxModel(BatchedModel):
    """An ONNX file in an onnxruntime ``InferenceSession`` (``CPUExecutionProvider``)."""

    kind = "onnx"

    def __init__(
        self,
        session: Any,
        *,
        path: Path,
        features: Sequence[str] | None = None,
        classes: Sequence[Any] | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.session = session
        self.path = path
        self.inputs = [(i.name, i.type, list(i.shape)) for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self.per_column = len(self.inputs) > 1 or bool(
            features is not None and list(features) == [self.inputs[0][0]]
        )
        if self.per_column and features is None:
            features = [name for name, _, _ in self.inputs]
        super().__init__(features=features, classes=classes, batch_size=batch_size)
        self.description = f"onnx model {path.name} ({path})"

    def fingerprint(self) -> dict[str, Any]:
        return {**super().fingerprint(), "path": str(self.path)}

    def layout_problem(self) -> str | None:
        """Why the spec's ``features`` cannot feed this model's inputs, or ``None``."""
        for name, kind, _ in self.inputs:
            if kind not in _DTYPES:
                return f"input {name!r} has type {kind}, which Assay cannot feed"
        if self._features is None:
            return None
        if self.per_column:
            missing = [n for n, _, _ in self.inputs if n not in self._features]
            if missing:
                return (
                    f"the model has one input per column, and its inputs {', '.join(missing)} "
                    "are not among `features`"
                )
            return None
        width = self.inputs[0][2][-1] if self.inputs[0][2] else None
        if isinstance(width, int) and width != len(self._features):
            return (
                f"the model's input {self.inputs[0][0]!r} takes {width} features, but `features` "
                f"lists {len(self._features)}"
            )
        return None

    def _predict_batch(self, batch: pa.Table) -> Predictions:
        feeds = self._feeds(batch)
        outputs = self.session.run(None, feeds)
        labels = np.asarray(outputs[0])
        if len(outputs) < 2:
            return Predictions(labels, None, self._classes)
        raw = outputs[1]
        if isinstance(raw, list):  # ZipMap: one {class: probability} map per row
            keys = tuple(raw[0].keys()) if raw else (self._classes or ())
            proba = np.array([[row[k] for k in keys] for row in raw], dtype=np.float64)
            classes: tuple[Any, ...] | None = tuple(
                k.item() if isinstance(k, np.generic) else k for k in keys
            )
            return Predictions(labels, proba.reshape(len(raw), len(keys)), classes)
        return Predictions(labels, np.asarray(raw), self._classes)

    def _feeds(self, batch: pa.Table) -> dict[str, np.ndarray]:
        if self.per_column or (len(self.inputs) == 1 and batch.column_names == [self.inputs[0][0]]):
            feeds = {}
            for name, kind, shape in self.inputs:
                if name not in batch.column_names:
                    raise ModelCallError(
                        f"{self.description}: the model's input {name!r} names a column the "
                        f"data lacks (the data has: {', '.join(batch.column_names)})"
                    )
                values = _as_array(batch.column(name), _DTYPES[kind])
                feeds[name] = values.reshape(-1, 1) if len(shape) != 1 else values
            return feeds
        name, kind, _ = self.inputs[0]
        dtype = _DTYPES[kind]
        columns = [_as_array(batch.column(i), dtype) for i in range(batch.num_columns)]
        return {name: np.column_stack(columns).astype(dtype, copy=False)}


def _as_array(column: pa.ChunkedArray, dtype: Any) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    if dtype is np.object_:
        return np.asarray([None if v is None else str(v) for v in values], dtype=object)
    return np.asarray(values).astype(dtype)


def load_onnx(
    path: Path,
    *,
    where: str,
    features: Sequence[str] | None,
    classes: Sequence[Any] | None,
    batch_size: int | None,
) -> OnnxModel:
    """Open ``path`` in onnxruntime and check the spec's features fit its inputs."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(
            MODEL_MISSING_DEPENDENCY.format(where=where, format="onnx", package="onnxruntime")
        ) from None
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        problem = f"not an ONNX file: {str(exc).strip().splitlines()[-1]}"
        raise InputError(_unreadable(where, path, problem)) from None
    model = OnnxModel(
        session,
        path=path,
        features=features,
        classes=classes if classes is not None else graph_classes(path),
        batch_size=batch_size,
    )
    layout = model.layout_problem()
    if layout:
        raise InputError(
            MODEL_UNREADABLE.format(
                where=where,
                file=path,
                format="onnx",
                problem=layout,
                fix="List the model's input columns, in order, under `features:` "
                "(docs/models.md, ONNX layouts).",
            )
        )
    return model


def graph_classes(path: Path) -> tuple[Any, ...] | None:
    """The class labels an ONNX-ML classifier node declares, when the ``onnx`` package is
    installed; the order is that of the probability columns."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return None
    for node in graph.node:
        for attr in node.attribute:
            if attr.name in ("classlabels_int64s", "classlabels_ints"):
                return tuple(int(v) for v in attr.ints)
            if attr.name == "classlabels_strings":
                return tuple(v.decode() for v in attr.strings)
    return None


def _unreadable(where: str, path: Path, problem: str) -> str:
    return MODEL_UNREADABLE.format(
        where=where,
        file=path,
        format="onnx",
        problem=problem,
        fix="Export the model again (for example with skl2onnx), or fix `format:`.",
    )
