"""Model validation across datasets: the train/test gap and out-of-distribution degradation.

Both compare the graded metric (``params.metric``; by default ROC AUC with probabilities or
scores, balanced accuracy without, R² for regressors) between two datasets, oriented so a
positive difference means *worse* on the second, with a bootstrap interval of the difference
drawn from independent resamples of the two datasets.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.model_common import (
    bootstrap_metric,
    difference_interval,
    evaluated_datasets,
    evaluation_metrics,
    graded,
    headline_metric,
    higher_is_better,
    json_value,
    number,
    unknown_metric,
)
from assay.stats.bootstrap import BootstrapResult

NO_TRAIN_TARGET = "train has no `target:` column, so the model's fit on it cannot be measured"
NO_HELD_OUT = "no dataset with role test and a target: nothing held out to compare train with"
NO_TEST_TO_COMPARE = (
    "no dataset with role test and a target to compare {name} with: the degradation is "
    "measured against the test set"
)


class GapOptions(BaseModel):
    """``checks.model.overfitting.params`` and ``checks.model.ood.params``."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(
        default=None,
        description="The compared metric (default: roc_auc for classifiers with probabilities "
        "or scores, balanced_accuracy for others, r2 for regressors).",
    )
    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


# model.overfitting ---------------------------------------------------------------------------


@check(
    "model.overfitting",
    domain="model",
    title="Train/test gap (overfitting)",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("gap", warn=0.05, fail=0.1),
        Threshold("shared_row_ratio", warn=0.01),
    ),
    requires=("train_test", "target", "scored"),
    options=GapOptions,
    min_rows=30,
    remediation="Regularise the model (shallower trees, stronger penalty, early stopping), give "
    "it more training data or fewer features, and keep test rows out of train.",
)
def overfitting(ctx: Context, params: CheckParams) -> list[Finding]:
    """The graded metric on train minus on each test-role dataset (positive: worse on test).

    A gap beyond the threshold means the model learnt its training rows rather than the
    pattern. Test rows that also occur in train (by id, else feature for feature) make the gap
    understate overfitting; their share is graded too.
    """
    options = params.options
    assert isinstance(options, GapOptions)
    names = [n for n in evaluated_datasets(ctx, "test") if n != "train"]
    if not names:
        return [_skipped(params, "*", NO_HELD_OUT)]
    if ctx.datasets["train"].spec.target is None:
        return [_skipped(params, "*", NO_TRAIN_TARGET)]
    train = ctx.evaluation("train")
    findings = []
    for name in names:
        subject = f"{name} vs train"
        ev = ctx.evaluation(name)
        if min(ev.n, train.n) < params.min_rows:
            findings.append(params.insufficient(subject, min(ev.n, train.n)))
            continue
        metric = headline_metric(ev, options.metric)
        problem = unknown_metric(params, subject, metric, ev.task)
        if problem is not None:
            findings.append(problem)
            continue
        findings.append(_overfitting(ctx, params, options, train, ev, metric))
    return findings


def _overfitting(
    ctx: Context,
    params: CheckParams,
    options: GapOptions,
    train: Evaluation,
    ev: Evaluation,
    metric: str,
) -> Finding:
    subject = f"{ev.dataset} vs train"
    compared = _compare(params, options, reference=train, other=ev, metric=metric)
    shared, how = _shared_rows(ctx, ev.dataset)
    rows = ctx.dataset(ev.dataset).rows
    metrics: dict[str, Metric] = {
        "train_value": compared["reference"],
        "test_value": compared["other"],
        "gap": compared["difference"],
        "gap_ci_low": compared["low"],
        "gap_ci_high": compared["high"],
        "relative_gap": compared["relative"],
        "shared_row_ratio": None if shared is None else shared / rows if rows else None,
        "n_rows": ev.n,
        "n_train_rows": train.n,
    }
    undefined = _undefined(compared, metrics, "gap", "train", ev.dataset)
    if shared is None:
        undefined["shared_row_ratio"] = how
    evidence = ctx.add_artefact(
        f"model/overfitting/{ev.dataset}.json",
        {
            "metric": metric,
            "higher_is_better": higher_is_better(metric),
            "train": _side(train, compared["reference_metrics"], compared["reference_ci"]),
            ev.dataset: _side(ev, compared["other_metrics"], compared["other_ci"]),
            "gap": compared["difference"],
            "gap_interval": [compared["low"], compared["high"]],
            "shared_rows": shared,
            "shared_rows_by": how,
        },
    )
    gap = compared["difference"]
    message = (
        f"{metric} {number(compared['reference'])} on train, {number(compared['other'])} on "
        f"{ev.dataset}: gap {'undefined' if gap is None else f'{gap:+.4f}'}"
        f"{_band(compared)} (positive: worse on {ev.dataset})"
    )
    if shared:
        message += (
            f"; {shared:,} of {rows:,} {ev.dataset} rows also occur in train ({how}), so the "
            "gap understates overfitting"
        )
    message += f"; {', '.join(ev.notes())}."
    return graded(
        params,
        subject,
        metrics,
        ["gap", "shared_row_ratio"],
        message=message,
        undefined=undefined,
        evidence=(evidence,),
    )


def _shared_rows(ctx: Context, name: str) -> tuple[int | None, str]:
    """How many rows of ``name`` also occur in train: by a shared id column, else feature for
    feature (with the target); ``None`` and the reason when neither can be compared."""
    ds, train = ctx.dataset(name), ctx.dataset("train")
    key = ds.spec.id
    if key and key == train.spec.id and key in ds.columns and key in train.columns:
        known = ctx.table("train", [key]).column(key).drop_null().combine_chunks()
        ids = ctx.table(name, [key]).column(key)
        try:
            hits = pc.is_in(ids, value_set=known)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None, f"the `{key}` columns of train and {name} have different types"
        return int(pc.sum(hits.cast(pa.int64())).as_py() or 0), f"same `{key}`"
    in_train = set(ctx.feature_columns("train"))
    columns = [c for c in ctx.feature_columns(name) if c in in_train]
    if not columns:
        return None, f"train and {name} share no id and no feature column"
    if ds.spec.target and ds.spec.target == train.spec.target and ds.spec.target in train.columns:
        columns.append(ds.spec.target)
    return ctx.facts.overlap(train, ds, columns), "same features and target"


# model.ood -------------------------------------------------------------------------------------


@check(
    "model.ood",
    domain="model",
    title="Out-of-distribution performance",
    severity=Severity.MAJOR,
    thresholds=(Threshold("degradation", warn=0.05, fail=0.15),),
    requires=("ood", "target", "scored"),
    options=GapOptions,
    min_rows=30,
    remediation="Train on data that covers the shifted population, add features that explain "
    "the shift, or guard the model in production (abstain or route shifted inputs elsewhere).",
)
def ood(ctx: Context, params: CheckParams) -> list[Finding]:
    """The graded metric on every ``ood``-role dataset and how far it falls below the test set.

    Degradation is test − ood for higher-is-better metrics (ROC AUC, R²) and ood − test for
    lower-is-better ones (log loss, MAE): positive means worse out of distribution.
    """
    options = params.options
    assert isinstance(options, GapOptions)
    shifted = evaluated_datasets(ctx, "ood")
    if not shifted:
        return [_skipped(params, "*", "no dataset with role ood and a target: nothing to compare")]
    tests = evaluated_datasets(ctx, "test")
    findings = []
    for name in shifted:
        if not tests:
            findings.append(_skipped(params, name, NO_TEST_TO_COMPARE.format(name=name)))
            continue
        reference = "test" if "test" in tests else tests[0]
        subject = f"{name} vs {reference}"
        ev, test = ctx.evaluation(name), ctx.evaluation(reference)
        if min(ev.n, test.n) < params.min_rows:
            findings.append(params.insufficient(subject, min(ev.n, test.n)))
            continue
        metric = headline_metric(test, options.metric)
        problem = unknown_metric(params, subject, metric, ev.task)
        if problem is not None:
            findings.append(problem)
            continue
        findings.append(_ood(ctx, params, options, test, ev, metric))
    return findings


def _ood(
    ctx: Context,
    params: CheckParams,
    options: GapOptions,
    test: Evaluation,
    ev: Evaluation,
    metric: str,
) -> Finding:
    subject = f"{ev.dataset} vs {test.dataset}"
    compared = _compare(params, options, reference=test, other=ev, metric=metric)
    metrics: dict[str, Metric] = {
        "ood_value": compared["other"],
        "ood_value_ci_low": _ci(compared["other_ci"], "low"),
        "ood_value_ci_high": _ci(compared["other_ci"], "high"),
        "test_value": compared["reference"],
        "test_value_ci_low": _ci(compared["reference_ci"], "low"),
        "test_value_ci_high": _ci(compared["reference_ci"], "high"),
        "degradation": compared["difference"],
        "degradation_ci_low": compared["low"],
        "degradation_ci_high": compared["high"],
        "relative_degradation": compared["relative"],
        "n_rows": ev.n,
        "n_test_rows": test.n,
    }
    undefined = _undefined(compared, metrics, "degradation", test.dataset, ev.dataset)
    for side, key in (("ood_value", "other_ci"), ("test_value", "reference_ci")):
        if compared[key] is not None and metrics[f"{side}_ci_low"] is None:
            reason = "undefined in every resample"
            undefined[f"{side}_ci_low"] = undefined[f"{side}_ci_high"] = reason
    evidence = ctx.add_artefact(
        f"model/ood/{ev.dataset}.json",
        {
            "metric": metric,
            "higher_is_better": higher_is_better(metric),
            "reference": test.dataset,
            test.dataset: _side(test, compared["reference_metrics"], compared["reference_ci"]),
            ev.dataset: _side(ev, compared["other_metrics"], compared["other_ci"]),
            "degradation": compared["difference"],
            "degradation_interval": [compared["low"], compared["high"]],
        },
    )
    value = compared["difference"]
    message = (
        f"{metric} {number(compared['other'])}{_interval(compared['other_ci'])} on "
        f"{ev.dataset} against {number(compared['reference'])}"
        f"{_interval(compared['reference_ci'])} on {test.dataset}: degradation "
        f"{'undefined' if value is None else f'{value:+.4f}'}{_band(compared)} (positive: worse "
        f"out of distribution); {', '.join(ev.notes())}."
    )
    return params.judge(
        subject, "degradation", metrics, message=message, undefined=undefined, evidence=(evidence,)
    )


# shared ----------------------------------------------------------------------------------------


def _compare(
    params: CheckParams,
    options: GapOptions,
    *,
    reference: Evaluation,
    other: Evaluation,
    metric: str,
) -> dict[str, Any]:
    """``metric`` on both evaluations and their oriented difference (positive: ``other``
    is worse), with bootstrap intervals when ``options.n_bootstrap`` > 0."""
    ref_values, other_values = evaluation_metrics(reference), evaluation_metrics(other)
    ref, oth = json_value(ref_values[metric]), json_value(other_values[metric])
    difference = relative = None
    if ref is not None and oth is not None:
        difference = ref - oth if higher_is_better(metric) else oth - ref
        relative = difference / abs(ref) if ref else None
    ref_ci = other_ci = None
    low = high = None
    if options.n_bootstrap:

        def interval(ev: Evaluation) -> BootstrapResult:
            return bootstrap_metric(
                ev,
                metric,
                n_resamples=options.n_bootstrap,
                confidence=options.confidence,
                seed=params.rng_seed("bootstrap", ev.dataset),
            )

        ref_ci, other_ci = interval(reference), interval(other)
        first, second = (ref_ci, other_ci) if higher_is_better(metric) else (other_ci, ref_ci)
        low, high = difference_interval(first, second, options.confidence)
    return {
        "reference": ref,
        "other": oth,
        "difference": difference,
        "relative": relative,
        "low": low,
        "high": high,
        "reference_ci": ref_ci,
        "other_ci": other_ci,
        "reference_metrics": ref_values,
        "other_metrics": other_values,
        "confidence": options.confidence,
    }


def _undefined(
    compared: dict[str, Any], metrics: dict[str, Metric], name: str, first: str, second: str
) -> dict[str, str]:
    reasons: dict[str, str] = {}
    for key, value in metrics.items():
        if value is not None:
            continue
        if key.endswith("_ci_low") or key.endswith("_ci_high"):
            reasons[key] = (
                "bootstrap intervals are off (n_bootstrap: 0)"
                if compared["reference_ci"] is None
                else "undefined in every resample"
            )
        elif key.startswith("relative_"):
            reasons[key] = f"the {first} value is 0 or undefined"
        elif key in (name, "train_value", "test_value", "ood_value"):
            reasons[key] = f"the metric is undefined on {first} or {second}: " + "; ".join(
                f"{k}" for k in _reasons(compared)
            )
    return reasons


def _reasons(compared: dict[str, Any]) -> list[str]:
    out = []
    for key in ("reference_metrics", "other_metrics"):
        out.extend(compared[key].undefined.values())
    return sorted(set(out)) or ["see the evidence"]


def _side(ev: Evaluation, values: Any, ci: BootstrapResult | None) -> dict[str, Any]:
    return {
        "rows": ev.n,
        "rows_without_target": ev.dropped,
        "source": ev.source,
        "metrics": {k: json_value(v) for k, v in values.values.items()},
        "undefined": dict(values.undefined),
        "interval": None
        if ci is None
        else {
            "low": json_value(ci.low),
            "high": json_value(ci.high),
            "resamples": ci.n_resamples,
            "undefined_resamples": ci.n_undefined,
            "confidence": ci.confidence,
            "seed": ci.seed,
        },
    }


def _ci(result: BootstrapResult | None, side: str) -> float | None:
    if result is None:
        return None
    value: float | None = json_value(result.low if side == "low" else result.high)
    return value


def _interval(result: BootstrapResult | None) -> str:
    if result is None or json_value(result.low) is None:
        return ""
    return f" (CI {result.low:.4f}–{result.high:.4f})"


def _band(compared: dict[str, Any]) -> str:
    if compared["low"] is None:
        return ""
    share = round(compared["confidence"] * 100)
    return f" ({share}% CI {compared['low']:+.4f} to {compared['high']:+.4f})"


def _skipped(params: CheckParams, subject: str, reason: str) -> Finding:
    return params.finding(subject, status=Status.SKIPPED, message=f"{reason}.")
