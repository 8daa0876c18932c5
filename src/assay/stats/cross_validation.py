"""k-fold cross-validation of a refittable scikit-learn estimator.

Each fold refits a clone of the estimator (``sklearn.base.clone``: same hyper-parameters, no
fitted state) on the other folds and predicts the held-out one; the folds are
``StratifiedKFold`` for classifiers (every fold keeps the class shares) and ``KFold`` for
regressors, both shuffled with the given seed. scikit-learn is imported when called.

Example::

    from assay.stats.cross_validation import cross_validate

    folds = cross_validate(pipeline, x, y, task="classification", k=5, seed=0)
    [f.y_pred for f in folds]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

NOT_REFITTABLE = (
    "{what} cannot be refitted: cross-validation needs a scikit-learn estimator "
    "(an object with get_params and fit), such as one given as a Python object, skops, "
    "pickle or joblib file."
)
TOO_FEW_PER_CLASS = (
    "the rarest class ({label!r}) has {count} rows in train; {k}-fold stratified "
    "cross-validation needs at least {k}. Lower `k` or add rows."
)


@dataclass(frozen=True)
class Fold:
    """One fold: the held-out rows (positions in ``y``), and the refitted model's outputs."""

    index: int
    train_rows: int
    test: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[Any, ...] | None
    probabilistic: bool


def refittable(estimator: Any) -> bool:
    """Whether ``estimator`` can be cloned and refitted (a scikit-learn-style estimator)."""
    return callable(getattr(estimator, "get_params", None)) and callable(
        getattr(estimator, "fit", None)
    )


def splits(
    y: np.ndarray, *, task: Literal["classification", "regression"], k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train rows, test rows) of each fold; stratified by class for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if task == "classification":
        labels, counts = np.unique(y.astype(str), return_counts=True)
        if counts.min() < k:
            rare = int(np.argmin(counts))
            raise ValueError(TOO_FEW_PER_CLASS.format(label=labels[rare], count=counts[rare], k=k))
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return [(a, b) for a, b in folds.split(np.zeros(y.size), y.astype(str))]
    folds_r = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [(a, b) for a, b in folds_r.split(np.zeros(y.size))]


def cross_validate(
    estimator: Any,
    x: Any,
    y: np.ndarray,
    *,
    task: Literal["classification", "regression"],
    k: int = 5,
    seed: int,
) -> list[Fold]:
    """Refit a clone of ``estimator`` on k − 1 folds and predict the k-th, for each fold.

    ``x`` is what the estimator was fitted on (a pandas DataFrame or a NumPy array), indexed
    by row position. Probabilities come from ``predict_proba``; without it a binary
    ``decision_function`` gives scores (``probabilistic=False``), as the model adapter does.
    """
    from sklearn.base import clone

    if not refittable(estimator):
        raise ValueError(NOT_REFITTABLE.format(what=type(estimator).__name__))
    folds = []
    for index, (train, test) in enumerate(splits(y, task=task, k=k, seed=seed)):
        model = clone(estimator)
        model.fit(_rows(x, train), y[train])
        held = _rows(x, test)
        y_pred = np.asarray(model.predict(held))
        proba, classes, probabilistic = None, None, False
        if task == "classification":
            classes = tuple(np.asarray(model.classes_).tolist())
            if hasattr(model, "predict_proba"):
                proba, probabilistic = np.asarray(model.predict_proba(held), np.float64), True
            elif hasattr(model, "decision_function") and len(classes) == 2:
                scores = np.asarray(model.decision_function(held), dtype=np.float64)
                proba = np.column_stack([-scores, scores])
        folds.append(Fold(index, int(train.size), test, y_pred, proba, classes, probabilistic))
    return folds


def _rows(x: Any, rows: np.ndarray) -> Any:
    if hasattr(x, "iloc"):
        return x.iloc[rows]
    return x[rows]
