"""Helpers shared by the model, fairness and robustness checks.

- :func:`evaluated_datasets` — the datasets a check evaluates, by role;
- :func:`metric_values` — a model's metrics on an :class:`~assay.checks._evaluation.Evaluation`;
- :func:`headline_metric` — the metric a check grades when the spec does not name one;
- :func:`plain_metrics` — metric values made JSON-safe (NaN → ``None`` with the reason).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import Metric
from assay.stats.metrics import MetricValues, classification_metrics, regression_metrics

CLASSIFICATION_HEADLINES = ("roc_auc", "balanced_accuracy")
"""The graded metric of a classifier when the spec names none: ROC AUC when the model gives
probabilities or scores, else balanced accuracy (0.5 at chance, whatever the class balance)."""

REGRESSION_HEADLINE = "r2"


def evaluated_datasets(ctx: Context, *roles: str) -> list[str]:
    """Datasets with rows, a target and one of ``roles`` (in the spec's order)."""
    return [
        name for name, ds in ctx.datasets.items() if ds.role in roles and ds.spec.target is not None
    ]


def metric_values(ev: Evaluation) -> MetricValues:
    """Every metric of the task on the evaluated rows (NaN where undefined, with the reason)."""
    assert ev.y_true is not None
    if ev.task == "regression":
        return regression_metrics(ev.y_true, ev.y_pred)
    assert ev.classes is not None
    return classification_metrics(
        ev.y_true,
        ev.y_pred,
        ev.proba if ev.proba is not None else None,
        classes=ev.classes,
        positive=ev.positive if ev.binary else None,
    )


def headline_metric(ev: Evaluation, chosen: str | None) -> str:
    """``chosen`` if given, else ROC AUC / balanced accuracy for classifiers, R² for regressors."""
    if chosen:
        return chosen
    if ev.task == "regression":
        return REGRESSION_HEADLINE
    return CLASSIFICATION_HEADLINES[0] if ev.proba is not None else CLASSIFICATION_HEADLINES[1]


def plain_metrics(
    values: Mapping[str, float], undefined: Mapping[str, str] | None = None
) -> tuple[dict[str, Metric], dict[str, str]]:
    """Metrics with NaN and infinities as ``None``; the reasons of the undefined ones."""
    out: dict[str, Metric] = {}
    reasons: dict[str, str] = {}
    for key, value in values.items():
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            out[key] = None
            reasons[key] = (undefined or {}).get(key, "undefined on this data")
        else:
            out[key] = value
    return out, reasons


def json_value(value: Any) -> Any:
    """A value for an evidence artefact: NaN and infinities as ``None``, numpy as Python."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):
        return json_value(value.item())
    return value
