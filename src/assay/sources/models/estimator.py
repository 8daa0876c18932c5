"""scikit-learn estimators and pipelines: given as objects, or loaded from skops, pickle or
joblib files.

Probabilities come from ``predict_proba``. A classifier without it (``LinearSVC``, ``SVC``
without ``probability=True``) gives ``decision_function`` scores instead, and the model says
``probabilistic = False``: for two classes the columns are ``[-score, score]``, so the second
column ranks rows like the positive-class probability would.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.errors import (
    MODEL_MISSING_DEPENDENCY,
    MODEL_NOT_A_MODEL,
    MODEL_UNREADABLE,
    MODEL_UNTRUSTED_PICKLE,
    MODEL_UNTRUSTED_TYPES,
    InputError,
)
from assay.sources.models.base import BatchedModel, Predictions

PICKLE_WARNING = (
    "loaded {file} with {format}, which can run any code the file holds, because the spec "
    "says `trust: true`"
)
SKOPS_WARNING = (
    "loaded {file} with skops trusting types it does not trust by default ({types}), because "
    "the spec says `trust: true`"
)


class EstimatorModel(BatchedModel):
    """A fitted scikit-learn estimator or pipeline (anything with ``predict``)."""

    kind = "sklearn"

    def __init__(
        self,
        estimator: Any,
        *,
        source: str,
        kind: str = "sklearn",
        features: Sequence[str] | None = None,
        batch_size: int | None = None,
        path: Path | None = None,
    ) -> None:
        names = getattr(estimator, "feature_names_in_", None)
        if features is None and names is not None:
            features = [str(n) for n in names]
        raw_classes = getattr(estimator, "classes_", None)
        classes = None if raw_classes is None else tuple(np.asarray(raw_classes).tolist())
        super().__init__(features=features, classes=classes, batch_size=batch_size)
        self.estimator = estimator
        self.kind = kind
        self.path = path
        self.description = f"{kind} model {type(estimator).__name__} ({source})"
        self._by_name = names is not None
        self._proba = classes is not None and hasattr(estimator, "predict_proba")
        self._scores = (
            classes is not None and not self._proba and hasattr(estimator, "decision_function")
        )
        self._probabilistic = self._proba

    def fingerprint(self) -> dict[str, Any]:
        out = super().fingerprint()
        out["estimator"] = f"{type(self.estimator).__module__}.{type(self.estimator).__name__}"
        if self.path is not None:
            out["path"] = str(self.path)
        return out

    def _predict_batch(self, batch: pa.Table) -> Predictions:
        x: Any = batch.to_pandas()
        if not self._by_name:
            x = x.to_numpy()
        labels = np.asarray(self.estimator.predict(x))
        proba = None
        if self._proba:
            proba = np.asarray(self.estimator.predict_proba(x))
        elif self._scores:
            scores = np.asarray(self.estimator.decision_function(x), dtype=np.float64)
            proba = np.column_stack([-scores, scores]) if scores.ndim == 1 else scores
        return Predictions(labels, proba, self._classes)


def require_model(obj: Any, *, where: str, source: str) -> Any:
    """``obj`` if it has a ``predict`` method; else an :class:`InputError`."""
    if not callable(getattr(obj, "predict", None)):
        raise InputError(
            MODEL_NOT_A_MODEL.format(
                where=where,
                source=source,
                kind=f"a {type(obj).__module__}.{type(obj).__qualname__}",
                fix="Save the fitted estimator or pipeline itself.",
            )
        )
    return obj


def load_skops(path: Path, *, trust: bool, where: str) -> tuple[Any, list[str]]:
    """Load a skops file; types skops does not trust by default need ``trust``."""
    try:
        import skops.io as sio
    except ImportError:
        raise InputError(
            MODEL_MISSING_DEPENDENCY.format(where=where, format="skops", package="skops")
        ) from None
    try:
        untrusted = list(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a zip that is not a skops file, or not a zip at all
        raise InputError(_unreadable(where, path, "skops", f"not a skops file: {exc}")) from None
    warnings = []
    if untrusted and not trust:
        raise InputError(
            MODEL_UNTRUSTED_TYPES.format(where=where, file=path, types=", ".join(untrusted))
        )
    if untrusted:
        warnings.append(SKOPS_WARNING.format(file=path, types=", ".join(untrusted)))
    try:
        obj = sio.load(path, trusted=untrusted or None)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise InputError(_unreadable(where, path, "skops", problem)) from None
    return obj, warnings


def load_pickled(path: Path, *, fmt: str, trust: bool, where: str) -> tuple[Any, list[str]]:
    """Load a pickle or joblib file, only when the spec says ``trust: true``."""
    if not trust:
        raise InputError(MODEL_UNTRUSTED_PICKLE.format(where=where, file=path, format=fmt))
    try:
        if fmt == "joblib":
            try:
                import joblib
            except ImportError:
                raise InputError(
                    MODEL_MISSING_DEPENDENCY.format(where=where, format="joblib", package="joblib")
                ) from None
            obj = joblib.load(path)
        else:
            with path.open("rb") as fh:
                obj = pickle.load(fh)  # the spec says trust: true
    except InputError:
        raise
    except Exception as exc:
        problem = f"not a {fmt} file ({type(exc).__name__}: {exc})"
        raise InputError(_unreadable(where, path, fmt, problem)) from None
    return obj, [PICKLE_WARNING.format(file=path, format=fmt)]


def _unreadable(where: str, path: Path, fmt: str, problem: str) -> str:
    return MODEL_UNREADABLE.format(
        where=where,
        file=path,
        format=fmt,
        problem=problem,
        fix="Check that the file was written by the tool its format names, or fix `format:`.",
    )
