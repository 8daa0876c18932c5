"""``model.calibration``: do the model's probabilities match how often it is right?"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Threshold, check
from assay.checks.model_common import each_test_dataset, json_value
from assay.stats.calibration import STRATEGIES, CalibrationResult, calibration

NOT_A_CLASSIFIER = "{name}: calibration applies to classifiers' probabilities; this is a regressor"
NO_PROBABILITIES = (
    "{name}: the predictions are labels only ({source}); calibration needs probabilities — give "
    "the dataset a `score:` column or use a model with predict_proba"
)
SCORES_ONLY = (
    "{name}: the model gives scores (a decision_function), not probabilities ({source}); "
    "scores have no frequency to match. Wrap it in CalibratedClassifierCV to get probabilities"
)


class CalibrationOptions(BaseModel):
    """``checks.model.calibration.params``."""

    model_config = ConfigDict(extra="forbid")

    strategy: Literal["uniform", "quantile"] = Field(
        default="uniform",
        description="The graded ECE: equal-width (uniform) or equal-mass (quantile) bins.",
    )
    n_bins: int = Field(default=10, ge=2, le=100)


@check(
    "model.calibration",
    domain="model",
    title="Probability calibration",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("ece_uniform", warn=0.1, fail=0.2),
        Threshold("ece_quantile", warn=0.1, fail=0.2),
        Threshold("mce"),
        Threshold("brier"),
    ),
    requires=("target", "scored"),
    options=CalibrationOptions,
    min_rows=50,
    remediation="Recalibrate the probabilities on held-out data (Platt scaling or isotonic "
    "regression, e.g. scikit-learn's CalibratedClassifierCV), or stop using them as "
    "probabilities downstream.",
)
def calibration_check(ctx: Context, params: CheckParams) -> list[Finding]:
    """ECE (equal-width and equal-mass bins), MCE and Brier score on every test-role dataset.

    Binary: the positive class's probability against whether the row is positive; multiclass:
    top-label (the largest probability against whether the prediction is right). The reliability
    diagram's bins of both binnings are stored for the report.
    """
    options = params.options
    assert isinstance(options, CalibrationOptions)
    return each_test_dataset(
        ctx,
        params,
        lambda ev: [_calibration(ctx, params, options, ev)],
        skip=_not_applicable,
    )


def _not_applicable(ev: Evaluation) -> str | None:
    if ev.task == "regression":
        return NOT_A_CLASSIFIER.format(name=ev.dataset)
    if ev.proba is None:
        return NO_PROBABILITIES.format(name=ev.dataset, source=ev.source)
    if not ev.probabilistic:
        return SCORES_ONLY.format(name=ev.dataset, source=ev.source)
    return None


def _calibration(
    ctx: Context, params: CheckParams, options: CalibrationOptions, ev: Evaluation
) -> Finding:
    assert ev.y_true is not None and ev.classes is not None
    results = {
        strategy: calibration(
            ev.y_true,
            ev.proba,
            classes=ev.classes,
            positive=ev.positive if ev.binary else None,
            n_bins=options.n_bins,
            strategy=strategy,
        )
        for strategy in STRATEGIES
    }
    graded = results[options.strategy]
    metrics: dict[str, Metric] = {
        "ece_uniform": results["uniform"].ece,
        "ece_quantile": results["quantile"].ece,
        "mce": graded.mce,
        "brier": graded.brier,
        "n_rows": ev.n,
    }
    evidence = ctx.add_artefact(
        f"model/calibration/{ev.dataset}.json",
        {
            "dataset": ev.dataset,
            "kind": graded.kind,
            "positive": json_value(ev.positive) if ev.binary else None,
            "source": ev.source,
            "rows": ev.n,
            "n_bins": options.n_bins,
            "graded": options.strategy,
            "brier": graded.brier,
            "strategies": {s: _diagram(r) for s, r in results.items()},
        },
    )
    view = f"P({ev.positive!r})" if graded.kind == "binary" else "top-label confidence"
    message = (
        f"ECE {graded.ece:.4f} ({options.strategy} bins; "
        f"{'quantile' if options.strategy == 'uniform' else 'uniform'} "
        f"{results['quantile' if options.strategy == 'uniform' else 'uniform'].ece:.4f}), "
        f"MCE {graded.mce:.4f}, Brier {graded.brier:.4f} of {view} on {ev.n:,} rows of "
        f"{ev.dataset}{_worst_bin(graded)}; {', '.join(ev.notes())}."
    )
    return params.judge(
        ev.dataset, f"ece_{options.strategy}", metrics, message=message, evidence=(evidence,)
    )


def _diagram(result: CalibrationResult) -> dict[str, Any]:
    return {
        "ece": result.ece,
        "mce": result.mce,
        "bins": [
            {
                "lower": b.lower,
                "upper": b.upper,
                "mean_predicted": b.mean_predicted,
                "observed": b.observed,
                "count": b.count,
            }
            for b in result.bins
        ],
    }


def _worst_bin(result: CalibrationResult) -> str:
    worst = max(result.bins, key=lambda b: (b.gap * b.count, b.count))
    return (
        f"; the largest contribution: {worst.count:,} rows predicted {worst.mean_predicted:.2f} "
        f"on average, observed {worst.observed:.2f}"
    )
