"""``load_model(spec)``: open the model a spec names, checking up front that it can be used.

Every problem a user can fix — a missing file, an unknown suffix, a file that does not load,
a missing optional package, a pickle without ``trust: true``, a skops file with untrusted
types, a callable that does not import, ``features`` that do not fit the model — raises
:class:`~assay.errors.InputError` naming the spec file and line, the value and the fix.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.errors import (
    MODEL_FEATURES,
    MODEL_FORMAT_UNKNOWN,
    MODEL_NO_MODEL,
    MODEL_NOT_FOUND,
    InputError,
)
from assay.sources.models.base import Model
from assay.sources.models.estimator import EstimatorModel, load_pickled, load_skops, require_model
from assay.sources.models.function import FunctionModel, import_callable
from assay.sources.models.http import HttpModel
from assay.sources.models.onnx import load_onnx
from assay.spec.models import ModelRef, Spec

SUFFIX_FORMATS = {
    ".skops": "skops",
    ".onnx": "onnx",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
}


def load_model(spec: Spec, *, sleep: Callable[[float], None] = time.sleep) -> Model:
    """The spec's model as a :class:`~assay.sources.models.Model`.

    ``sleep`` is what an HTTP model waits with between retries (tests pass a no-op).
    """
    ref = spec.model
    if ref is None:
        raise InputError(MODEL_NO_MODEL.format(where=spec.where()))
    if ref.object is not None:
        return _estimator(spec, ref, ref.object, source="in-memory object", kind="sklearn")
    if ref.url is not None:
        return HttpModel(
            ref.url,
            request_template=ref.request_template,
            response_path=ref.response_path,
            proba_path=ref.proba_path,
            classes=ref.classes,
            features=ref.features,
            concurrency=ref.concurrency,
            timeout=ref.timeout,
            retries=ref.retries,
            batch_size=ref.batch_size,
            sleep=sleep,
            auth=_auth(spec, ref),
        )
    if ref.callable is not None:
        function = import_callable(
            ref.callable, base_dir=spec.base_dir, where=spec.where("model", "callable")
        )
        return FunctionModel(
            function,
            target=ref.callable,
            features=ref.features,
            classes=ref.classes,
            batch_size=ref.batch_size,
        )
    assert ref.path is not None  # ModelRef checks that exactly one source is given
    return _from_file(spec, ref, spec.resolve(ref.path))


def model_format(spec: Spec) -> str:
    """The format :func:`load_model` uses: ``format:``, else the source or the suffix."""
    ref = spec.model
    if ref is None:
        raise InputError(MODEL_NO_MODEL.format(where=spec.where()))
    if ref.format is not None:
        return ref.format
    if ref.object is not None:
        return "sklearn"
    if ref.url is not None:
        return "http"
    if ref.callable is not None:
        return "callable"
    assert ref.path is not None
    path = spec.resolve(ref.path)
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            MODEL_FORMAT_UNKNOWN.format(
                where=spec.where("model", "path"), file=path, suffix=path.suffix or "(none)"
            )
        )
    return fmt


def _from_file(spec: Spec, ref: ModelRef, path: Path) -> Model:
    where = spec.where("model", "path")
    if not path.exists():
        raise InputError(MODEL_NOT_FOUND.format(where=where, file=path))
    if path.is_dir():
        raise InputError(f"{where}: model path {path} is a folder. Name the model file.")
    fmt = model_format(spec)
    if fmt == "onnx":
        return load_onnx(
            path, where=where, features=ref.features, classes=ref.classes, batch_size=ref.batch_size
        )
    if fmt == "skops":
        obj, warnings = load_skops(path, trust=ref.trust, where=where)
    else:
        obj, warnings = load_pickled(path, fmt=fmt, trust=ref.trust, where=where)
    model = _estimator(spec, ref, obj, source=str(path), kind=fmt, path=path)
    model.warnings.extend(warnings)
    return model


def _estimator(
    spec: Spec, ref: ModelRef, obj: Any, *, source: str, kind: str, path: Path | None = None
) -> EstimatorModel:
    where = spec.where("model", "path" if path is not None else "object")
    require_model(obj, where=where, source=source)
    features = _fitted_features(spec, ref, obj)
    return EstimatorModel(
        obj, source=source, kind=kind, features=features, batch_size=ref.batch_size, path=path
    )


def _fitted_features(spec: Spec, ref: ModelRef, obj: Any) -> list[str] | None:
    """The columns to feed ``obj``: its ``feature_names_in_`` (checked against the spec's
    ``features``), else the spec's ``features`` (checked against ``n_features_in_``)."""
    names = getattr(obj, "feature_names_in_", None)
    names = None if names is None else [str(n) for n in names]
    if ref.features is None:
        return names
    where = spec.where("model", "features")
    if names is not None:
        missing = [n for n in names if n not in ref.features]
        extra = [n for n in ref.features if n not in names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"the model was fitted on {', '.join(missing)}, which it lacks")
            if extra:
                parts.append(f"it lists {', '.join(extra)}, which the model was not fitted on")
            raise InputError(
                MODEL_FEATURES.format(
                    where=where,
                    problem="; ".join(parts),
                    fix=f"List the model's columns: [{', '.join(names)}].",
                )
            )
        return names
    width = getattr(obj, "n_features_in_", None)
    if isinstance(width, int) and width != len(ref.features):
        raise InputError(
            MODEL_FEATURES.format(
                where=where,
                problem=f"the model takes {width} features and `features` lists "
                f"{len(ref.features)} ({', '.join(ref.features)})",
                fix=f"List the {width} columns the model was fitted on, in order.",
            )
        )
    return list(ref.features)


def _auth(spec: Spec, ref: ModelRef) -> tuple[str, str] | None:
    """The endpoint's credential header from ``key_env`` (read now; never stored)."""
    if ref.key_env is None:
        return None
    key = os.environ.get(ref.key_env)
    if not key:
        raise InputError(
            f"{spec.where('model', 'key_env')}: the environment variable {ref.key_env} that "
            "should hold the model endpoint's key is not set. Export it before the audit, or "
            "remove `key_env`."
        )
    value = f"{ref.auth_scheme} {key}".strip() if ref.auth_scheme else key
    return ref.auth_header, value
