"""Model adapters: one protocol for every kind of model a spec can name.

``load_model(spec)`` opens the spec's ``model:`` — a scikit-learn estimator passed through
the Python API, a skops, ONNX, pickle or joblib file, a ``module:function``, or an HTTP JSON
endpoint — checks up front that it can be used, and returns a :class:`Model`. docs/models.md
describes each kind and its fields.
"""

from __future__ import annotations

from assay.sources.models.base import BatchedModel, Model, Predictions, check_outputs
from assay.sources.models.estimator import EstimatorModel
from assay.sources.models.function import FunctionModel
from assay.sources.models.http import HttpModel
from assay.sources.models.loader import load_model, model_format
from assay.sources.models.onnx import OnnxModel

__all__ = [
    "BatchedModel",
    "EstimatorModel",
    "FunctionModel",
    "HttpModel",
    "Model",
    "OnnxModel",
    "Predictions",
    "check_outputs",
    "load_model",
    "model_format",
]
