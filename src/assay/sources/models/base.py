"""The model protocol, and the batching and output checks every adapter shares.

An adapter turns one kind of model (an estimator, an ONNX file, a function, an HTTP endpoint)
into a :class:`Model`: it takes an Arrow table of feature columns and returns one prediction
per row, plus class probabilities or scores when the model has them. Big tables are split into
batches of ``batch_size`` rows; each batch is predicted once, for labels and probabilities
together (:meth:`BatchedModel.predict_all`), and the pieces are concatenated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from assay.errors import MODEL_CALL_FAILED, MODEL_OUTPUT, AssayError, ModelCallError

DEFAULT_BATCH_SIZE = 10_000


@runtime_checkable
class Model(Protocol):
    """What every loaded model offers the checks.

    ``predict`` returns a 1-D array: one label (classifiers) or value (regressors) per row.
    ``predict_proba`` returns an ``n × k`` array whose columns follow ``classes``, or ``None``
    when the model gives neither probabilities nor scores. ``probabilistic`` is ``False`` when
    those columns are scores (a ``decision_function``) rather than probabilities: checks that
    need calibrated probabilities (ECE, Brier) must not use them.
    """

    description: str
    warnings: list[str]

    @property
    def classes(self) -> tuple[Any, ...] | None: ...

    @property
    def features(self) -> tuple[str, ...] | None: ...

    @property
    def probabilistic(self) -> bool: ...

    def predict(self, table: pa.Table) -> np.ndarray: ...

    def predict_proba(self, table: pa.Table) -> np.ndarray | None: ...

    def predict_all(self, table: pa.Table) -> Predictions: ...

    def fingerprint(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Predictions:
    """One pass of a model over a table: labels or values, and probabilities or scores."""

    labels: np.ndarray
    proba: np.ndarray | None = None
    classes: tuple[Any, ...] | None = None


class BatchedModel(ABC):
    """Base class of the adapters: batching, feature selection and output checks.

    Subclasses implement :meth:`_predict_batch` for one batch (an Arrow table holding only
    the feature columns) and set ``description``, ``_classes`` and ``_features``.
    """

    description: str = "model"
    kind: str = "model"

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        classes: Sequence[Any] | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.warnings: list[str] = []
        self._features = tuple(features) if features is not None else None
        self._classes = tuple(classes) if classes is not None else None
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self._probabilistic = True

    @property
    def classes(self) -> tuple[Any, ...] | None:
        """The class labels, in the order of ``predict_proba``'s columns (``None``: regressor,
        or not known until the first prediction for some ONNX files and endpoints)."""
        return self._classes

    @property
    def features(self) -> tuple[str, ...] | None:
        """The input columns the model takes, in order, when the spec or the model says."""
        return self._features

    @property
    def probabilistic(self) -> bool:
        """``False`` when ``predict_proba`` returns scores rather than probabilities."""
        return self._probabilistic

    def predict(self, table: pa.Table) -> np.ndarray:
        return self.predict_all(table).labels

    def predict_proba(self, table: pa.Table) -> np.ndarray | None:
        return self.predict_all(table).proba

    def predict_all(self, table: pa.Table) -> Predictions:
        """Predict every row of ``table`` in batches; check and concatenate the outputs."""
        table = self._select(table)
        if table.num_rows == 0:
            return Predictions(np.empty(0), None, self._classes)
        offsets = range(0, table.num_rows, self.batch_size)
        parts = self._map_batches([table.slice(o, self.batch_size) for o in offsets])
        return self._concat(parts, table.num_rows)

    def fingerprint(self) -> dict[str, Any]:
        """What the run records about the model."""
        return {"kind": self.kind, "description": self.description}

    @abstractmethod
    def _predict_batch(self, batch: pa.Table) -> Predictions: ...

    def _map_batches(self, batches: list[pa.Table]) -> list[Predictions]:
        return [self._checked_batch(b) for b in batches]

    def _checked_batch(self, batch: pa.Table) -> Predictions:
        try:
            out = self._predict_batch(batch)
        except AssayError:
            raise
        except Exception as exc:  # the model's own code failed: say which model and why
            raise ModelCallError(
                MODEL_CALL_FAILED.format(
                    source=self.description,
                    rows=batch.num_rows,
                    problem=f"{type(exc).__name__}: {exc}",
                )
            ) from exc
        out = check_outputs(out, batch.num_rows, source=self.description)
        if out.classes is not None and self._classes is None:
            self._classes = out.classes
        return out

    def _select(self, table: pa.Table) -> pa.Table:
        if self._features is None:
            return table
        missing = [c for c in self._features if c not in table.column_names]
        if missing:
            raise ModelCallError(
                MODEL_OUTPUT.format(
                    source=self.description,
                    problem=(
                        f"the model takes columns the data lacks: {', '.join(missing)} "
                        f"(the data has: {', '.join(table.column_names) or 'no columns'})"
                    ),
                )
            )
        return table.select(list(self._features))

    def _concat(self, parts: list[Predictions], rows: int) -> Predictions:
        labels = np.concatenate([p.labels for p in parts]) if parts else np.empty(0)
        probas = [p.proba for p in parts]
        classes = next((p.classes for p in parts if p.classes is not None), self._classes)
        proba = None
        if all(p is not None for p in probas):
            keyed = [_reorder(p, classes) for p in parts]
            proba = np.concatenate(keyed, axis=0)
        return check_outputs(Predictions(labels, proba, classes), rows, source=self.description)


def _reorder(part: Predictions, classes: tuple[Any, ...] | None) -> np.ndarray:
    """A batch's probabilities with columns in the order of ``classes``."""
    assert part.proba is not None
    if classes is None or part.classes is None or part.classes == classes:
        return part.proba
    if set(part.classes) != set(classes):
        raise ModelCallError(
            f"the model returned classes {list(part.classes)} for one batch and "
            f"{list(classes)} for another"
        )
    order = [part.classes.index(c) for c in classes]
    return part.proba[:, order]


def check_outputs(out: Predictions, rows: int, *, source: str = "the model") -> Predictions:
    """Check that ``out`` has one prediction per row and ``rows × len(classes)`` probabilities.

    Returns ``out`` with a 1-D label array and a float 2-D probability array (an ``n × 1``
    prediction column is flattened). Raises :class:`ModelCallError` naming the mismatch, e.g.
    "the model returned 3 values for 5 rows".
    """

    def fail(problem: str) -> ModelCallError:
        return ModelCallError(MODEL_OUTPUT.format(source=source, problem=problem))

    labels = np.asarray(out.labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise fail(
            f"the model returned predictions of shape {labels.shape}; expected one value per "
            f"row ({rows},)"
        )
    if len(labels) != rows:
        raise fail(f"the model returned {len(labels)} values for {rows} rows")
    proba = out.proba
    if proba is not None:
        try:
            proba = np.asarray(proba, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise fail(f"the model's probabilities are not numbers ({exc})") from None
        if proba.ndim == 1:
            raise fail(
                f"the model returned {len(proba)} probabilities as one column; give one column "
                "per class with `classes`"
            )
        if proba.ndim != 2 or proba.shape[0] != rows:
            raise fail(
                f"the model returned probabilities of shape {proba.shape} for {rows} rows; "
                "expected one row of class probabilities per input row"
            )
        if out.classes is not None and proba.shape[1] != len(out.classes):
            raise fail(
                f"the model returned {proba.shape[1]} probability columns for "
                f"{len(out.classes)} classes ({', '.join(map(repr, out.classes))})"
            )
    return Predictions(labels, proba, out.classes)
