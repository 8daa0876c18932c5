"""Helpers shared by the model, fairness and robustness checks.

- :func:`evaluated_datasets` — the datasets a check evaluates, by role;
- :func:`metric_values` — a model's metrics on an :class:`~assay.checks._evaluation.Evaluation`;
- :func:`headline_metric` — the metric a check grades when the spec does not name one;
- :func:`plain_metrics` — metric values made JSON-safe (NaN → ``None`` with the reason);
- :func:`evaluation_metrics`, :func:`bootstrap_metric`, :func:`difference_interval` — metrics
  that also accept scores, one metric's interval, and the interval of a difference;
- :func:`graded` — a finding graded by the worst of several thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Status
from assay.stats.bootstrap import (
    BootstrapResult,
    bootstrap_classification,
    bootstrap_regression,
    percentile_interval,
)
from assay.stats.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    MetricValues,
    classification_metrics,
    regression_metrics,
)

CLASSIFICATION_HEADLINES = ("roc_auc", "balanced_accuracy")
"""The graded metric of a classifier when the spec names none: ROC AUC when the model gives
probabilities or scores, else balanced accuracy (0.5 at chance, whatever the class balance)."""

REGRESSION_HEADLINE = "r2"


def evaluated_datasets(ctx: Context, *roles: str) -> list[str]:
    """Datasets with rows, a target and one of ``roles`` (in the spec's order)."""
    return [
        name for name, ds in ctx.datasets.items() if ds.role in roles and ds.spec.target is not None
    ]


def each_test_dataset(
    ctx: Context,
    params: CheckParams,
    judge: Callable[[Evaluation], list[Finding]],
    *,
    skip: Callable[[Evaluation], str | None] = lambda ev: None,
    purpose: str = "evaluate",
) -> list[Finding]:
    """``judge`` every test-role dataset with a target (its shared predictions), in order.

    Without such a dataset: one ``skipped`` finding (subject ``*``). A dataset ``skip``
    gives a reason for is ``skipped`` with it; one below ``params.min_rows`` is
    ``insufficient``.
    """
    names = evaluated_datasets(ctx, "test")
    if not names:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message=f"no dataset with role test and a target: nothing held out to {purpose}.",
                remediation="Add a held-out `test` dataset with the target column.",
            )
        ]
    findings: list[Finding] = []
    for name in names:
        ev = ctx.evaluation(name)
        reason = skip(ev)
        if reason is not None:
            findings.append(params.finding(name, status=Status.SKIPPED, message=reason + "."))
        elif ev.n < params.min_rows:
            findings.append(params.insufficient(name, ev.n))
        else:
            findings.extend(judge(ev))
    return findings


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


# -- shared by the model checks beyond performance ------------------------------------------

LOWER_IS_BETTER = ("log_loss", "mae", "rmse", "mape")
"""Metrics where a smaller value is better (docs/model-metrics.md); the rest are higher."""

SCORES_NOT_PROBABILITIES = (
    "the model gives scores (a decision_function), not probabilities; the log loss of scores "
    "means nothing"
)
UNKNOWN_METRIC = "params.metric {metric!r} is not a {task} metric; use one of {known}."


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def known_metrics(task: str) -> tuple[str, ...]:
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


def unknown_metric(params: CheckParams, subject: str, metric: str, task: str) -> Finding | None:
    """The ``error`` finding for a ``params.metric`` the task does not have, else ``None``."""
    known = known_metrics(task)
    if metric in known:
        return None
    return params.finding(
        subject,
        status=Status.ERROR,
        message=UNKNOWN_METRIC.format(metric=metric, task=task, known=", ".join(known)),
        remediation=f"Fix `checks.{params.info.id}.params.metric`.",
    )


def ranking_proba(proba: np.ndarray | None, probabilistic: bool, binary: bool) -> np.ndarray | None:
    """Probabilities the metric functions accept.

    Probabilities pass through. Binary scores (a ``decision_function``) become their ranks
    scaled to [0, 1] — the same order and ties, so ROC AUC and PR AUC are the scores' own —
    and multiclass scores are dropped (label metrics only).
    """
    if proba is None or probabilistic:
        return proba
    if not binary:
        return None
    distinct, inverse = np.unique(proba[:, 1], return_inverse=True)
    top = max(distinct.size - 1, 1)
    ranked = np.asarray(inverse, dtype=np.float64).reshape(-1) / top
    return np.column_stack([1.0 - ranked, ranked])


def task_metrics(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None,
    *,
    probabilistic: bool,
    classes: tuple[Any, ...] | None,
    positive: Any,
) -> MetricValues:
    """:func:`metric_values` for arrays, accepting scores as well as probabilities."""
    if task == "regression":
        return regression_metrics(y_true, y_pred)
    assert classes is not None
    binary = len(classes) == 2
    usable = ranking_proba(proba, probabilistic, binary)
    values = classification_metrics(
        y_true, y_pred, usable, classes=classes, positive=positive if binary else None
    )
    if usable is not None and not probabilistic:
        values.values["log_loss"] = float("nan")
        values.undefined["log_loss"] = SCORES_NOT_PROBABILITIES
    return values


def evaluation_metrics(ev: Evaluation) -> MetricValues:
    """Every metric of ``ev`` (as :func:`metric_values`, but scores are accepted)."""
    assert ev.y_true is not None
    return task_metrics(
        ev.task,
        ev.y_true,
        ev.y_pred,
        ev.proba,
        probabilistic=ev.probabilistic,
        classes=ev.classes,
        positive=ev.positive,
    )


def bootstrap_metric(
    ev: Evaluation, metric: str, *, n_resamples: int, confidence: float, seed: int
) -> BootstrapResult:
    """The percentile interval of one metric on ``ev`` (assay.stats.bootstrap)."""
    assert ev.y_true is not None
    if ev.task == "regression":
        return bootstrap_regression(
            ev.y_true,
            ev.y_pred,
            metrics=[metric],
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )[metric]
    assert ev.classes is not None
    usable = ranking_proba(ev.proba, ev.probabilistic, ev.binary)
    return bootstrap_classification(
        ev.y_true,
        ev.y_pred,
        usable,
        classes=ev.classes,
        positive=ev.positive if ev.binary else None,
        metrics=[metric],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )[metric]


def difference_interval(
    first: BootstrapResult, second: BootstrapResult, confidence: float
) -> tuple[float | None, float | None]:
    """Percentile interval of ``first − second`` from independent resamples of two datasets.

    The datasets are independent, so pairing resample b of one with resample b of the other
    draws from the bootstrap distribution of the difference.
    """
    size = min(first.replicates.size, second.replicates.size)
    if not size:
        return None, None
    low, high = percentile_interval(first.replicates[:size] - second.replicates[:size], confidence)
    return json_value(low), json_value(high)


def worst_status(*statuses: Status) -> Status:
    order = (Status.PASS, Status.SKIPPED, Status.WARN, Status.FAIL, Status.ERROR)
    return max(statuses, key=order.index)


def graded(
    params: CheckParams,
    subject: str,
    metrics: Mapping[str, Metric],
    names: Sequence[str],
    *,
    message: str,
    undefined: Mapping[str, str] | None = None,
    evidence: tuple[str, ...] = (),
    remediation: str | None = None,
) -> Finding:
    """A finding graded by the worst of several thresholds.

    It carries the threshold that decided the status (the first of ``names`` whose grade is
    the final one). When none of the metrics is defined the finding is ``skipped`` with the
    first one's reason, never a pass.
    """
    grades: list[tuple[str, Status]] = []
    for name in names:
        value = metrics.get(name)
        grade = params.thresholds[name].grade(None if value is None else float(value))
        if grade is not None:
            grades.append((name, grade))
    if not grades:
        return params.judge(
            subject,
            names[0],
            metrics,
            message=message,
            undefined=undefined,
            evidence=evidence,
            remediation=remediation,
        )
    status = worst_status(*(g for _, g in grades))
    decisive = next(n for n, g in grades if g == status)
    return params.finding(
        subject,
        status=status,
        message=message,
        metrics=metrics,
        undefined=undefined,
        threshold=params.thresholds[decisive],
        evidence=evidence,
        remediation=remediation,
    )


def number(value: float | None, digits: int = 4) -> str:
    """``0.8123`` or ``undefined``."""
    return "undefined" if value is None else f"{float(value):.{digits}f}"
