"""``model.cross_validation``: k-fold cross-validation of the model's estimator on ``train``.

The spread of the graded metric across folds says how much the holdout estimate depends on
which rows were held out; the worst fold says how bad an unlucky split can be.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import model_features
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.model_common import (
    graded,
    headline_metric,
    higher_is_better,
    json_value,
    number,
    task_metrics,
    unknown_metric,
)
from assay.stats.cross_validation import Fold, cross_validate, refittable

NOT_REFITTABLE = (
    "the model ({model}) cannot be refitted: cross-validation needs a scikit-learn estimator "
    "(given as a Python object, skops, pickle or joblib file); ONNX files, functions, HTTP "
    "endpoints and stored predictions can only be evaluated"
)
REFIT_FAILED = "refitting a clone of {model} on folds of train failed: {problem}"

# Per metric: the worst fold is graded like model.performance grades the holdout value, and
# the folds' standard deviation (in the metric's own units) by how unstable it may be.
CROSS_VALIDATION_THRESHOLDS = (
    Threshold("roc_auc_worst", warn=0.75, fail=0.65, direction="min"),
    Threshold("balanced_accuracy_worst", warn=0.7, fail=0.6, direction="min"),
    Threshold("r2_worst", warn=0.3, fail=0.0, direction="min"),
    Threshold("accuracy_worst", direction="min"),
    Threshold("precision_worst", direction="min"),
    Threshold("recall_worst", direction="min"),
    Threshold("f1_worst", direction="min"),
    Threshold("pr_auc_worst", direction="min"),
    Threshold("log_loss_worst", direction="max"),
    Threshold("mae_worst", direction="max"),
    Threshold("rmse_worst", direction="max"),
    Threshold("mape_worst", direction="max"),
    Threshold("roc_auc_std", warn=0.05, fail=0.1),
    Threshold("balanced_accuracy_std", warn=0.05, fail=0.1),
    Threshold("r2_std", warn=0.1, fail=0.2),
    Threshold("accuracy_std"),
    Threshold("precision_std"),
    Threshold("recall_std"),
    Threshold("f1_std"),
    Threshold("pr_auc_std"),
    Threshold("log_loss_std"),
    Threshold("mae_std"),
    Threshold("rmse_std"),
    Threshold("mape_std"),
)


class CrossValidationOptions(BaseModel):
    """``checks.model.cross_validation.params``."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(
        default=None,
        description="The graded metric (default: roc_auc for classifiers with probabilities or "
        "scores, balanced_accuracy for others, r2 for regressors).",
    )
    k: int = Field(default=5, ge=2, le=50, description="Number of folds.")


@check(
    "model.cross_validation",
    domain="model",
    title="Cross-validation",
    severity=Severity.MAJOR,
    thresholds=CROSS_VALIDATION_THRESHOLDS,
    requires=("train", "target", "model"),
    options=CrossValidationOptions,
    min_rows=50,
    imports=("sklearn.model_selection",),
    remediation="A weak worst fold or a wide spread means the holdout score depends on the "
    "split: get more training data, simplify the model, or check the folds in the evidence for "
    "a subgroup that drags one of them down.",
)
def cross_validation(ctx: Context, params: CheckParams) -> list[Finding]:
    """Refit a clone of the model's estimator on k − 1 folds of train and score the k-th.

    Folds are stratified by class for classifiers and shuffled with a seed derived from the
    spec's seed. The finding reports the mean, standard deviation (ddof = 1) and worst fold of
    the graded metric and grades the worst fold and the spread.
    """
    from assay.sources.models.estimator import EstimatorModel

    options = params.options
    assert isinstance(options, CrossValidationOptions)
    subject = "train"
    ds = ctx.datasets["train"]
    target = ds.spec.target
    if target is None:
        return [_skipped(params, subject, "train has no `target:` column")]
    model = ctx.model
    if model is None:
        return [_skipped(params, subject, "the spec names no model")]
    estimator = getattr(model, "estimator", None)
    if not isinstance(model, EstimatorModel) or not refittable(estimator):
        return [_skipped(params, subject, NOT_REFITTABLE.format(model=model.description))]
    features = model_features(ctx, "train", model)
    table = ctx.table("train", list(dict.fromkeys([*features, target])))
    table = table.filter(pc.is_valid(table.column(target)))
    n = table.num_rows
    if n < params.min_rows:
        return [params.insufficient(subject, n)]
    ev = ctx.evaluation("train")
    metric = headline_metric(ev, options.metric)
    problem = unknown_metric(params, subject, metric, ev.task)
    if problem is not None:
        return [problem]
    x: Any = table.select(features).to_pandas()
    if getattr(estimator, "feature_names_in_", None) is None:
        x = x.to_numpy()
    y = np.asarray(table.column(target).to_numpy(zero_copy_only=False))
    seed = params.rng_seed("folds")
    try:
        folds = cross_validate(estimator, x, y, task=ev.task, k=options.k, seed=seed)
    except ValueError as exc:
        if "rarest class" in str(exc):
            return [_skipped(params, subject, str(exc).rstrip("."))]
        return [_refit_failed(params, model.description, exc)]
    except Exception as exc:  # the estimator's own fit failed: say which model and why
        return [_refit_failed(params, model.description, exc)]
    return [_finding(ctx, params, options, ev, folds, y, metric, seed)]


def _finding(
    ctx: Context,
    params: CheckParams,
    options: CrossValidationOptions,
    ev: Any,
    folds: list[Fold],
    y: np.ndarray,
    metric: str,
    seed: int,
) -> Finding:
    per_fold: list[dict[str, Any]] = []
    fold_values: list[float | None] = []
    values: list[float] = []
    reasons: list[str] = []
    for fold in folds:
        scored = task_metrics(
            ev.task,
            y[fold.test],
            fold.y_pred,
            fold.proba,
            probabilistic=fold.probabilistic,
            classes=fold.classes,
            positive=ev.positive,
        )
        value = json_value(scored[metric])
        fold_values.append(value)
        if value is None:
            reasons.append(f"fold {fold.index}: {scored.undefined.get(metric, 'undefined')}")
        else:
            values.append(float(value))
        per_fold.append(
            {
                "fold": fold.index,
                "train_rows": fold.train_rows,
                "test_rows": int(fold.test.size),
                "metrics": {k: json_value(v) for k, v in scored.values.items()},
                "undefined": dict(scored.undefined),
            }
        )
    higher = higher_is_better(metric)
    mean = float(np.mean(values)) if values else None
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    worst = (min(values) if higher else max(values)) if values else None
    metrics: dict[str, Metric] = {
        f"{metric}_mean": mean,
        f"{metric}_std": std,
        f"{metric}_worst": worst,
        "n_folds": len(folds),
        "n_defined_folds": len(values),
        "n_rows": int(y.size),
    }
    undefined = {}
    for key, value in metrics.items():
        if value is None:
            undefined[key] = (
                "defined in fewer than two folds"
                if key.endswith("_std") and values
                else "; ".join(reasons) or "undefined"
            )
    evidence = ctx.add_artefact(
        "model/cross_validation/train.json",
        {
            "metric": metric,
            "higher_is_better": higher,
            "k": options.k,
            "seed": seed,
            "splitter": "StratifiedKFold" if ev.task == "classification" else "KFold",
            "shuffle": True,
            "model": ctx.model.description if ctx.model else None,
            "rows": int(y.size),
            "folds": per_fold,
            "values": fold_values,
        },
    )
    shown = ", ".join("undefined" if v is None else f"{v:.3f}" for v in fold_values)
    message = (
        f"{metric} over {len(folds)} folds of train ({y.size:,} rows, a clone of the model "
        f"refitted per fold): mean {number(mean)}, std {number(std)}, worst {number(worst)} "
        f"(folds: {shown}); {ctx.model.description if ctx.model else 'model'}."
    )
    return graded(
        params,
        "train",
        metrics,
        [f"{metric}_worst", f"{metric}_std"],
        message=message,
        undefined=undefined,
        evidence=(evidence,),
    )


def _skipped(params: CheckParams, subject: str, reason: str) -> Finding:
    return params.finding(
        subject,
        status=Status.SKIPPED,
        message=f"{reason}.",
        remediation="Give the spec a scikit-learn model and a `train` dataset with the target "
        "to cross-validate it.",
    )


def _refit_failed(params: CheckParams, model: str, exc: Exception) -> Finding:
    return params.finding(
        "train",
        status=Status.ERROR,
        message=REFIT_FAILED.format(model=model, problem=f"{type(exc).__name__}: {exc}") + ".",
        remediation="Check that the estimator can be fitted on the train columns the spec "
        "gives it (`model.features`).",
    )
