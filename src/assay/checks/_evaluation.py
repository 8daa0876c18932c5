"""Predictions for the model, fairness and robustness checks: computed once per dataset.

A dataset's predictions come from the spec's ``model:`` when there is one (the audited
artefact, run over the dataset's feature columns) and otherwise from the dataset's own
``prediction:`` and ``score:`` columns (a model scored elsewhere). Either way every check sees
the same :class:`Evaluation`: the true labels or values, the predicted ones, the class
probabilities when there are any, and where they came from.

Binary scores stored in a ``score:`` column are the positive class's probability; they become
the two columns ``[1 − s, s]`` over the classes ``(negative, positive)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from assay.checks._context import Context
    from assay.sources.models import Model

Task = Literal["classification", "regression"]

NO_POSITIVE = (
    "dataset {dataset!r}: cannot tell which of the classes {classes} is positive. "
    "Set `positive_label:` on the dataset."
)
NO_PREDICTIONS = (
    "dataset {dataset!r} has no predictions: give the spec a `model:`, or name the "
    "dataset's `prediction:` or `score:` column."
)
LABELS_UNKNOWN = (
    "dataset {dataset!r}: the target `{target}` holds {labels}, which {source} does not know "
    "(its classes: {classes}). Check that the model was trained on this target, or set "
    "`model.classes` to its labels in the target's terms."
)
LABELS_DISJOINT = (
    "dataset {dataset!r}: the predictions ({labels}) share no label with the target "
    "`{target}` ({truth}). Check that they are labels of the same target, in the same terms."
)
MISSING_TARGET = (
    "dataset {dataset!r}: {count} of {rows} rows have no `{column}` value; the metrics use the "
    "{kept} rows that do."
)


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions for one dataset, with the truth when the dataset has a target.

    ``proba`` is ``n × len(classes)`` in the order of ``classes`` (probabilities when
    ``probabilistic``, else scores); ``positive`` is the positive class of a binary task.
    Rows whose target is missing are left out (``dropped`` counts them).
    """

    dataset: str
    task: Task
    y_true: np.ndarray | None
    y_pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None
    positive: Any
    probabilistic: bool
    source: str
    features: tuple[str, ...]
    rows: np.ndarray
    """Positions of the evaluated rows in the dataset (those with a target, if it has one)."""
    dropped: int = 0

    @property
    def n(self) -> int:
        return len(self.y_pred)

    @property
    def binary(self) -> bool:
        return self.task == "classification" and self.classes is not None and len(self.classes) == 2

    @property
    def positive_scores(self) -> np.ndarray | None:
        """The positive class's probability (or score) per row, for a binary task."""
        if not self.binary or self.proba is None or self.classes is None:
            return None
        return self.proba[:, self.classes.index(self.positive)]

    def notes(self) -> list[str]:
        out = [f"predictions from {self.source}"]
        if self.dropped and self.y_true is not None:
            out.append(f"{self.dropped} rows without a target left out")
        return out


def model_features(ctx: Context, name: str, model: Model | None) -> list[str]:
    """The columns a model reads: the spec's ``model.features``, the model's own, or every
    column but the dataset's target, prediction, score, id and timestamp."""
    ref = ctx.spec.model
    if ref is not None and ref.features:
        return list(ref.features)
    if model is not None and model.features:
        return list(model.features)
    return ctx.feature_columns(name)


def evaluate(ctx: Context, name: str) -> Evaluation:
    """Predict dataset ``name`` (model, else stored columns) and pair it with its target."""
    ds = ctx.datasets[name]
    spec = ds.spec
    model = ctx.model
    features = model_features(ctx, name, model)
    target = spec.target
    columns = list(dict.fromkeys([*features, *([target] if target else [])]))
    if model is not None:
        table = ctx.table(name, columns)
        out = model.predict_all(table.select(features))
        y_pred, proba, classes = out.labels, out.proba, out.classes
        probabilistic = model.probabilistic
        source = model.description
    elif spec.prediction or spec.score:
        stored = [c for c in (spec.prediction, spec.score) if c]
        table = ctx.table(name, list(dict.fromkeys([*columns, *stored])))
        y_pred, proba, classes, probabilistic = _stored(table, name, spec, target)
        source = "the dataset's " + " and ".join(f"`{c}`" for c in stored) + " columns"
    else:
        raise ValueError(NO_PREDICTIONS.format(dataset=name))
    y_true = None
    rows = np.arange(table.num_rows)
    dropped = 0
    if target is not None:
        column = table.column(target)
        valid = pc.is_valid(column)
        if column.null_count:
            keep = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
            rows = rows[keep]
            dropped = int((~keep).sum())
            column = column.filter(valid)
            y_pred = y_pred[keep]
            proba = None if proba is None else proba[keep]
        y_true = _values(column)
    task = _task(classes, y_true, proba)
    if task == "classification" and y_true is not None:
        _check_labels(name, target, y_true, y_pred, classes, source)
    if task == "classification" and classes is None:
        pool = y_pred if y_true is None else np.concatenate([y_true, y_pred])
        classes = tuple(sorted(set(pool.tolist()), key=_order))
    positive = _positive(name, spec.positive_label, classes) if task == "classification" else None
    return Evaluation(
        dataset=name,
        task=task,
        y_true=y_true,
        y_pred=y_pred,
        proba=proba,
        classes=classes,
        positive=positive,
        probabilistic=probabilistic and proba is not None,
        source=source,
        features=tuple(features),
        rows=rows,
        dropped=dropped,
    )


def _stored(
    table: pa.Table, name: str, spec: Any, target: str | None
) -> tuple[np.ndarray, np.ndarray | None, tuple[Any, ...] | None, bool]:
    """Labels and binary probabilities from a dataset's ``prediction:``/``score:`` columns."""
    known: list[Any] = []
    if target is not None:
        known += pc.unique(table.column(target).drop_null()).to_pylist()
    labels = None
    if spec.prediction:
        labels = _values(table.column(spec.prediction))
        known += [v for v in np.unique(labels.astype(object)).tolist() if v is not None]
    if not spec.score:
        assert labels is not None
        return labels, None, None, False
    score = np.asarray(table.column(spec.score).to_numpy(zero_copy_only=False), dtype=np.float64)
    classes = tuple(sorted(set(known), key=_order))
    if len(classes) != 2:
        if labels is None:
            raise ValueError(
                f"dataset {name!r}: a `score:` column needs two classes to score; the target "
                f"holds {len(classes)} ({', '.join(map(repr, classes[:10]))})."
            )
        return labels, None, None, False
    positive = _positive(name, spec.positive_label, classes)
    negative = classes[0] if classes[1] == positive else classes[1]
    ordered = (negative, positive)
    proba = np.column_stack([1.0 - score, score])
    if labels is None:
        labels = np.where(score >= 0.5, positive, negative)
    return labels, proba, ordered, True


def _check_labels(
    name: str,
    target: str | None,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: Sequence[Any] | None,
    source: str,
) -> None:
    """Refuse predictions whose labels do not fit the target's (``0/1`` against ``Yes/No``)."""
    truth = {v for v in np.unique(y_true.astype(object)).tolist() if v is not None}
    predicted = {v for v in np.unique(y_pred.astype(object)).tolist() if v is not None}
    known = set(classes) if classes is not None else predicted
    unknown = truth - known
    if classes is not None and unknown:
        raise ValueError(
            LABELS_UNKNOWN.format(
                dataset=name,
                target=target,
                labels=_listed(unknown),
                source=source,
                classes=_listed(set(classes)),
            )
        )
    if classes is None and predicted and not predicted & truth:
        raise ValueError(
            LABELS_DISJOINT.format(
                dataset=name, target=target, labels=_listed(predicted), truth=_listed(truth)
            )
        )


def _listed(values: set[Any], limit: int = 8) -> str:
    shown = sorted(values, key=_order)
    text = ", ".join(repr(v) for v in shown[:limit])
    return text + (f" and {len(shown) - limit} more" if len(shown) > limit else "")


def _values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False)
    return np.asarray(values)


def _task(
    classes: Sequence[Any] | None, y_true: np.ndarray | None, proba: np.ndarray | None
) -> Task:
    if classes is not None or proba is not None:
        return "classification"
    if y_true is not None and np.issubdtype(y_true.dtype, np.floating):
        return "regression"
    return "classification"


def _positive(name: str, declared: Any, classes: Sequence[Any] | None) -> Any:
    if classes is None or len(classes) != 2:
        return None
    if declared is not None:
        for c in classes:
            if c == declared or str(c) == str(declared):
                return c
        raise ValueError(
            f"dataset {name!r}: positive_label {declared!r} is not one of the classes "
            f"{list(classes)}. Fix `positive_label:`."
        )
    for guess in (1, True, "1", "yes", "Yes", "true", "True", "positive"):
        if guess in classes:
            return guess
    raise ValueError(NO_POSITIVE.format(dataset=name, classes=list(classes)))


def _order(value: Any) -> tuple[str, Any]:
    """Sort mixed labels: numbers before text, each in its own order."""
    return ("0", value) if isinstance(value, int | float | bool) else ("1", str(value))
