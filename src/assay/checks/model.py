"""Model validation: how well the model predicts held-out data, with confidence intervals.

Subjects are dataset names (``test``). Predictions come from :meth:`Context.evaluation` —
the spec's model when there is one, else the dataset's ``prediction:``/``score:`` columns —
computed once per dataset and shared with every other check.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.model_common import (
    each_test_dataset,
    evaluation_metrics,
    headline_metric,
    json_value,
    plain_metrics,
    ranking_proba,
)
from assay.stats.bootstrap import BootstrapResult, bootstrap_classification, bootstrap_regression
from assay.stats.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS

PERFORMANCE_THRESHOLDS = (
    Threshold("roc_auc", warn=0.75, fail=0.65, direction="min"),
    Threshold("accuracy", direction="min"),
    Threshold("balanced_accuracy", warn=0.7, fail=0.6, direction="min"),
    Threshold("precision", direction="min"),
    Threshold("recall", direction="min"),
    Threshold("f1", direction="min"),
    Threshold("pr_auc", direction="min"),
    Threshold("log_loss", direction="max"),
    Threshold("r2", warn=0.3, fail=0.0, direction="min"),
    Threshold("mae", direction="max"),
    Threshold("rmse", direction="max"),
    Threshold("mape", direction="max"),
)


class PerformanceOptions(BaseModel):
    """``checks.model.performance.params``."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(
        default=None,
        description="The graded metric (default: roc_auc for classifiers with probabilities or "
        "scores, balanced_accuracy for others, r2 for regressors).",
    )
    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@check(
    "model.performance",
    domain="model",
    title="Holdout performance",
    severity=Severity.MAJOR,
    thresholds=PERFORMANCE_THRESHOLDS,
    requires=("target", "scored"),
    options=PerformanceOptions,
    min_rows=30,
    remediation="Improve the model or its features before launch, or lower the threshold with a "
    "documented reason; the interval in the evidence says how much the estimate can move.",
)
def performance(ctx: Context, params: CheckParams) -> list[Finding]:
    """Metrics of the model on every test-role dataset, each with a bootstrap interval.

    Classification: accuracy, balanced accuracy, precision, recall, F1, ROC AUC, PR AUC and
    log loss (binary: of the positive class; multiclass: macro); regression: MAE, RMSE, R²
    and MAPE (docs/model-metrics.md). The graded metric is ``params.metric``; every metric
    and its interval is in the finding and its evidence.
    """
    options = params.options
    assert isinstance(options, PerformanceOptions)
    return each_test_dataset(ctx, params, lambda ev: [_performance(ctx, params, options, ev)])


def _performance(
    ctx: Context, params: CheckParams, options: PerformanceOptions, ev: Evaluation
) -> Finding:
    metric = headline_metric(ev, options.metric)
    known = REGRESSION_METRICS if ev.task == "regression" else CLASSIFICATION_METRICS
    if metric not in known:
        return params.finding(
            ev.dataset,
            status=Status.ERROR,
            message=f"params.metric {metric!r} is not a {ev.task} metric; use one of "
            f"{', '.join(known)}.",
            remediation=f"Fix `checks.{params.info.id}.params.metric`.",
        )
    values = evaluation_metrics(ev)  # scores (a decision_function) rank like probabilities
    intervals = _intervals(params, options, ev)
    metrics, undefined = plain_metrics(values.values, values.undefined)
    for key, result in intervals.items():
        low, high = json_value(result.low), json_value(result.high)
        metrics[f"{key}_ci_low"], metrics[f"{key}_ci_high"] = low, high
        if low is None:
            undefined[f"{key}_ci_low"] = undefined[f"{key}_ci_high"] = (
                f"undefined in every resample of {result.n_resamples}"
            )
    metrics["n_rows"] = ev.n
    evidence = ctx.add_artefact(
        f"model/performance/{ev.dataset}.json",
        {
            "dataset": ev.dataset,
            "task": ev.task,
            "source": ev.source,
            "classes": [json_value(c) for c in ev.classes] if ev.classes else None,
            "positive": json_value(ev.positive),
            "rows": ev.n,
            "rows_without_target": ev.dropped,
            "metrics": {k: json_value(v) for k, v in values.values.items()},
            "undefined": dict(values.undefined),
            "notes": list(values.notes) if hasattr(values, "notes") else [],
            "intervals": {
                k: {
                    "low": json_value(r.low),
                    "high": json_value(r.high),
                    "std": json_value(r.std),
                    "resamples": r.n_resamples,
                    "undefined_resamples": r.n_undefined,
                    "confidence": r.confidence,
                    "seed": r.seed,
                    "method": r.method,
                }
                for k, r in intervals.items()
            },
        },
    )
    value = metrics.get(metric)
    shown = "undefined" if value is None else f"{float(value):.4f}"
    ci = intervals.get(metric)
    band = (
        f" ({round(ci.confidence * 100)}% CI {ci.low:.4f}–{ci.high:.4f})"
        if ci is not None and json_value(ci.low) is not None
        else ""
    )
    message = f"{metric} {shown}{band} on {ev.n:,} rows of {ev.dataset}; {', '.join(ev.notes())}."
    return params.judge(
        ev.dataset, metric, metrics, message=message, undefined=undefined, evidence=(evidence,)
    )


def _intervals(
    params: CheckParams, options: PerformanceOptions, ev: Evaluation
) -> dict[str, BootstrapResult]:
    if options.n_bootstrap == 0:
        return {}
    seed = params.rng_seed("bootstrap", ev.dataset)
    assert ev.y_true is not None
    if ev.task == "regression":
        return bootstrap_regression(
            ev.y_true,
            ev.y_pred,
            n_resamples=options.n_bootstrap,
            confidence=options.confidence,
            seed=seed,
        )
    assert ev.classes is not None
    usable = ranking_proba(ev.proba, ev.probabilistic, ev.binary)
    metrics = None
    if usable is not None and not ev.probabilistic:  # log loss needs real probabilities
        metrics = [m for m in CLASSIFICATION_METRICS if m != "log_loss"]
    return bootstrap_classification(
        ev.y_true,
        ev.y_pred,
        usable,
        classes=ev.classes,
        positive=ev.positive if ev.binary else None,
        metrics=metrics,
        n_resamples=options.n_bootstrap,
        confidence=options.confidence,
        seed=seed,
    )


# The other model checks register when their modules are imported with this one.
from assay.checks import (  # noqa: E402
    model_calibration,
    model_cross_validation,
    model_generalisation,
    model_provenance,
    model_slices,
)

__all__ = [
    "model_calibration",
    "model_cross_validation",
    "model_generalisation",
    "model_provenance",
    "model_slices",
    "performance",
]
