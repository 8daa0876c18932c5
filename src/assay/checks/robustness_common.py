"""What the robustness checks share: the sampled rows, the training facts, one perturbed
prediction pass and its outcome, grading and wording (docs/robustness.md).

Every robustness check works on a seeded sample of at most ``max_rows`` rows of each
test-role dataset with a target. The unperturbed predictions are those of
:meth:`Context.evaluation` (the runner reports a model that fails on them); each perturbation
predicts a perturbed copy of the sample's feature columns with the spec's model again. A
model that raises on a perturbed copy does not stop the check: the pass is recorded as
``raised`` — not graceful — and graded by ``model_error_count``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import (
    CheckParams,
    Finding,
    Metric,
    Status,
    Threshold,
    derive_seed,
)
from assay.checks.integrity_common import graded, pct
from assay.checks.model_common import evaluated_datasets, headline_metric, metric_values
from assay.stats.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from assay.stats.perturb import FeatureFacts, feature_kind, sample_positions

LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse", "mape"})
"""Metrics whose drop is ``perturbed − unperturbed`` (for the rest: ``unperturbed − perturbed``)."""

METRIC_NAMES = {"roc_auc": "ROC AUC", "balanced_accuracy": "balanced accuracy", "r2": "R²"}
MIN_ROWS = 30
PROBA_SLACK = 1e-9
"""Probabilities may leave [0, 1] by this much (rounding) before they count as out of range."""
MAX_ERROR_TEXT = 300

NO_TEST = "no dataset with role test and a target: nothing held out to perturb."
NO_MODEL = "robustness needs the spec's `model:` to predict perturbed rows; there is none."
RAISED = "the model raised {level} ({error}): not graceful"
INVALID = "{share} of rows got non-finite or out-of-range outputs {level}"

COMMON_THRESHOLDS = (
    Threshold("model_error_count", fail=0, direction="max"),
    Threshold("invalid_output_rate", fail=0, direction="max"),
)
"""Every check fails when the model raised on a perturbed copy or gave invalid outputs."""


class RobustnessOptions(BaseModel):
    """The options every robustness check takes."""

    model_config = ConfigDict(extra="forbid")

    max_rows: int = Field(
        default=2000, ge=1, le=1_000_000, description="Rows sampled (seeded) per dataset."
    )
    metric: str | None = Field(
        default=None,
        description="The metric whose drop is graded (default: as model.performance — roc_auc "
        "or balanced_accuracy for classifiers, r2 for regressors).",
    )
    tolerance: float = Field(
        default=0.25,
        ge=0,
        description="Regression: a prediction 'flips' when it moves by more than tolerance × "
        "the std of the target on the sampled rows.",
    )


@dataclass(frozen=True)
class Sample:
    """The sampled rows of one dataset, ready to perturb."""

    ev: Evaluation
    """The dataset's evaluation restricted to the sampled rows (unperturbed predictions)."""
    table: pa.Table
    """The sampled rows' feature columns, in the model's order."""
    facts: dict[str, FeatureFacts]
    reference: str
    """The dataset the training facts (std, range, median, categories) come from."""
    metric: str
    unperturbed: float | None
    unperturbed_undefined: str | None
    flip_tolerance: float | None
    """Regression only: how far a prediction may move before it counts as flipped."""
    seed: int

    @property
    def dataset(self) -> str:
        return self.ev.dataset

    @property
    def n(self) -> int:
        return self.ev.n

    def of_kind(self, kind: str) -> list[str]:
        return [c for c in self.table.column_names if self.facts[c].kind == kind]


@dataclass(frozen=True)
class Outcome:
    """One perturbed prediction pass: the metric, its drop, flips and how the model coped."""

    level: Any
    metric: float | None = None
    drop: float | None = None
    flip_rate: float | None = None
    invalid_rate: float | None = None
    raised: str | None = None
    undefined: str | None = None
    """Why ``metric`` (and ``drop``) is undefined, when it is."""

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "metric": self.metric,
            "metric_drop": self.drop,
            "flip_rate": self.flip_rate,
            "invalid_output_rate": self.invalid_rate,
            "raised": self.raised,
            "undefined": self.undefined,
        }


def no_datasets(ctx: Context, params: CheckParams) -> list[Finding] | None:
    """The ``skipped`` finding when there is no model or no test dataset; else ``None``."""
    if ctx.model is None:
        reason, fix = NO_MODEL, "Add the audited model under `model:`."
    elif not evaluated_datasets(ctx, "test"):
        reason, fix = NO_TEST, "Add a held-out `test` dataset with the target column."
    else:
        return None
    return [params.finding("*", status=Status.SKIPPED, message=reason, remediation=fix)]


def bad_metric(params: CheckParams, ev: Evaluation, metric: str) -> Finding | None:
    """The ``error`` finding for a ``metric`` param that is not a metric of the task."""
    known = REGRESSION_METRICS if ev.task == "regression" else CLASSIFICATION_METRICS
    if metric in known:
        return None
    return params.finding(
        ev.dataset,
        status=Status.ERROR,
        message=f"params.metric {metric!r} is not a {ev.task} metric; use one of "
        f"{', '.join(known)}.",
        remediation=f"Fix `checks.{params.info.id}.params.metric`.",
    )


def take_sample(
    ctx: Context, params: CheckParams, ev: Evaluation, options: RobustnessOptions
) -> Sample:
    """At most ``max_rows`` rows of ``ev``'s dataset (seeded), with their training facts."""
    name = ev.dataset
    # The spec's seed, not the check's: every robustness check perturbs the same rows.
    seed = derive_seed(ctx.spec.seed, "robustness", "sample", name)
    picked = sample_positions(ev.n, options.max_rows, seed)
    proba = None if ev.proba is None else ev.proba[picked]
    y_true = None if ev.y_true is None else ev.y_true[picked]
    sub = replace(ev, y_true=y_true, y_pred=ev.y_pred[picked], proba=proba, rows=ev.rows[picked])
    target = ctx.datasets[name].spec.target
    features = list(ev.features)
    columns = list(dict.fromkeys([*features, *([target] if target else [])]))
    table = ctx.table(name, columns).select(features).take(pa.array(sub.rows))
    reference = reference_dataset(ctx, name, features)
    facts = feature_facts(ctx, reference, name, table)
    metric = headline_metric(sub, options.metric)
    value, why = metric_of(sub, metric)
    tolerance = None
    if sub.task == "regression" and y_true is not None:
        spread = float(np.nanstd(np.asarray(y_true, dtype=np.float64))) if len(y_true) else 0.0
        tolerance = options.tolerance * spread
    return Sample(sub, table, facts, reference, metric, value, why, tolerance, seed)


def reference_dataset(ctx: Context, name: str, features: Sequence[str]) -> str:
    """The first train-role dataset holding every feature, else ``name`` itself."""
    for other in ctx.spec.datasets:
        if ctx.spec.role_of(other) != "train":
            continue
        columns = ctx.profile(other).columns
        if all(f in columns for f in features):
            return other
    return name


def feature_facts(
    ctx: Context, reference: str, name: str, table: pa.Table
) -> dict[str, FeatureFacts]:
    """Each feature's kind (from its type in ``table``) and training facts (from the profile
    of ``reference``)."""
    profile = ctx.profile(reference)
    facts = {}
    for column in table.column_names:
        kind = feature_kind(table.schema.field(column).type)
        p = profile.columns.get(column) or ctx.profile(name).columns[column]
        if kind == "numeric":
            median = p.quantiles([0.5])
            facts[column] = FeatureFacts(
                column,
                kind,
                std=p.std,
                low=_number(p.min),
                high=_number(p.max),
                median=median[0] if median else None,
            )
        elif kind == "categorical":
            counts = p.items.counts  # commonest first: categories[0] is the mode
            seen = sorted(counts, key=lambda v: (-counts[v], type(v).__name__, str(v)))
            facts[column] = FeatureFacts(column, kind, categories=tuple(seen))
        else:
            facts[column] = FeatureFacts(column, kind)
    return facts


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def metric_of(ev: Evaluation, metric: str) -> tuple[float | None, str | None]:
    """``metric`` on ``ev``, or ``None`` and the reason it is undefined."""
    if ev.n == 0:
        return None, "no row has a valid output"
    try:
        values = metric_values(ev)
    except ValueError as exc:
        return None, str(exc)
    value = values.values.get(metric)
    if value is None or not np.isfinite(value):
        return None, values.undefined.get(metric, "undefined on these rows")
    return float(value), None


def assess(ctx: Context, sample: Sample, table: pa.Table, level: Any) -> Outcome:
    """Predict ``table`` (a perturbed copy of the sample) and compare with the unperturbed
    predictions: metric and its drop, flip rate, share of invalid outputs, or ``raised``."""
    assert ctx.model is not None
    ev = sample.ev
    try:
        out = ctx.model.predict_all(table)
        labels, proba = np.asarray(out.labels), _aligned(out.proba, out.classes, ev.classes)
        if len(labels) != ev.n:
            raise ValueError(f"the model returned {len(labels)} predictions for {ev.n} rows")
    except Exception as exc:  # any failure of the model on perturbed rows is the finding
        return Outcome(level, raised=_error_text(exc), undefined="the model raised")
    valid = _valid_rows(ev, labels, proba)
    flipped = _flipped(ev, labels, sample.flip_tolerance) | ~valid
    kept = replace(
        ev,
        y_true=None if ev.y_true is None else ev.y_true[valid],
        y_pred=labels[valid],
        proba=None if proba is None else proba[valid],
        rows=ev.rows[valid],
    )
    value, why = metric_of(kept, sample.metric)
    drop = None
    if value is not None and sample.unperturbed is not None:
        drop = value - sample.unperturbed
        drop = drop if sample.metric in LOWER_IS_BETTER else -drop
    elif value is not None:
        why = f"the unperturbed {sample.metric} is undefined: {sample.unperturbed_undefined}"
    n = max(ev.n, 1)
    return Outcome(
        level,
        metric=value,
        drop=drop,
        flip_rate=float(flipped.sum() / n),
        invalid_rate=float((~valid).sum() / n),
        undefined=why,
    )


def _error_text(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def _aligned(
    proba: np.ndarray | None, got: tuple[Any, ...] | None, want: tuple[Any, ...] | None
) -> np.ndarray | None:
    """Probability columns in the order of ``want`` (``None`` if they cannot be matched)."""
    if proba is None or want is None:
        return proba
    proba = np.asarray(proba, dtype=np.float64)
    if got is None or tuple(got) == tuple(want):
        return proba if proba.shape[1:] == (len(want),) else None
    if set(got) != set(want):
        return None
    return proba[:, [list(got).index(c) for c in want]]


def _valid_rows(ev: Evaluation, labels: np.ndarray, proba: np.ndarray | None) -> np.ndarray:
    """Rows with a usable output: a finite value (regression); a known class and finite
    probabilities, inside [0, 1] when they are probabilities (classification)."""
    if ev.task == "regression":
        try:
            values = np.asarray(labels, dtype=np.float64)
        except (TypeError, ValueError):
            return np.zeros(len(labels), dtype=bool)
        return np.isfinite(values)
    known = set(ev.classes or ())
    valid = np.array([_known(v, known) for v in labels.tolist()], dtype=bool)
    if proba is not None:
        finite = np.isfinite(proba).all(axis=1)
        valid &= finite
        if ev.probabilistic:
            with np.errstate(invalid="ignore"):
                inside = ((proba >= -PROBA_SLACK) & (proba <= 1 + PROBA_SLACK)).all(axis=1)
            valid &= inside
    return valid


def _known(value: Any, known: set[Any]) -> bool:
    try:
        return value in known
    except TypeError:
        return False


def _flipped(ev: Evaluation, labels: np.ndarray, tolerance: float | None) -> np.ndarray:
    if ev.task == "regression":
        with np.errstate(invalid="ignore"):
            moved = np.abs(np.asarray(labels, dtype=np.float64) - ev.y_pred.astype(np.float64))
        return ~(moved <= (tolerance or 0.0))
    before = ev.y_pred.tolist()
    return np.array([a != b for a, b in zip(labels.tolist(), before, strict=True)], dtype=bool)


# Grading and wording ------------------------------------------------------------------------


def level_metrics(
    sample: Sample, outcomes: Sequence[Outcome], reference: Outcome
) -> dict[str, Metric]:
    """The finding's metrics: at the reference level, worst over levels, and counts."""
    flips = [o.flip_rate for o in outcomes if o.flip_rate is not None]
    drops = [o.drop for o in outcomes if o.drop is not None]
    invalid = [o.invalid_rate for o in outcomes if o.invalid_rate is not None]
    return {
        "flip_rate": reference.flip_rate,
        "metric_drop": reference.drop,
        "unperturbed_metric": sample.unperturbed,
        "perturbed_metric": reference.metric,
        "max_flip_rate": max(flips) if flips else None,
        "max_metric_drop": max(drops) if drops else None,
        "invalid_output_rate": max(invalid) if invalid else None,
        "model_error_count": sum(o.raised is not None for o in outcomes),
        "n_rows": sample.n,
    }


def undefined_reasons(metrics: Mapping[str, Metric], reference: Outcome) -> dict[str, str]:
    """Why each ``None`` metric is undefined."""
    why = reference.undefined or "undefined on these rows"
    if reference.raised:
        why = f"the model raised at the reference level ({reference.raised})"
    reasons = {
        "flip_rate": why,
        "metric_drop": why,
        "perturbed_metric": why,
        "unperturbed_metric": "undefined on the sampled rows",
        "max_flip_rate": "the model raised at every level",
        "max_metric_drop": "undefined at every level",
        "invalid_output_rate": "the model raised at every level",
    }
    return {k: reasons.get(k, "undefined") for k, v in metrics.items() if v is None}


def metric_label(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def show(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def summary(
    sample: Sample,
    outcomes: Sequence[Outcome],
    reference: Outcome,
    describe: Callable[[Any], str],
    *,
    what: str = "",
) -> str:
    """``flip rate 12.4% at σ = 0.1 × std; ROC AUC 0.870 → 0.810 (2,000 rows of test)``,
    then what raised or gave invalid outputs. ``describe(level)`` words a level as a phrase
    (``at σ = 0.1 × std``, ``with x1 null``)."""
    at = describe(reference.level)
    if reference.raised:
        head = RAISED.format(level=at, error=reference.raised)
    else:
        flips = "undefined" if reference.flip_rate is None else pct(reference.flip_rate)
        head = (
            f"flip rate {flips} {at}; {metric_label(sample.metric)} "
            f"{show(sample.unperturbed)} → {show(reference.metric)}"
        )
    parts = [f"{what}{head} ({sample.n:,} rows of {sample.dataset})"]
    raised = [o for o in outcomes if o.raised and o is not reference]
    if raised:
        parts.append(RAISED.format(level=describe(raised[0].level), error=raised[0].raised))
        if len(raised) > 1:
            parts[-1] += f" (and at {len(raised) - 1} more level{'s' * (len(raised) > 2)})"
    invalid = [o for o in outcomes if o.invalid_rate]
    if invalid:
        worst = max(invalid, key=lambda o: o.invalid_rate or 0.0)
        share = pct(worst.invalid_rate or 0.0)
        parts.append(INVALID.format(share=share, level=describe(worst.level)))
    return "; ".join(parts) + "."


def judge(
    params: CheckParams,
    subject: str,
    metrics: Mapping[str, Metric],
    *,
    message: str,
    undefined: Mapping[str, str],
    evidence: tuple[str, ...],
) -> Finding:
    """A finding graded by the worst of the check's thresholds."""
    names = [
        m
        for m in ("model_error_count", "invalid_output_rate", "metric_drop", "flip_rate")
        if m in params.thresholds
    ]
    names += [m for m in params.thresholds if m not in names]
    return graded(
        params, subject, metrics, names, message=message, undefined=undefined, evidence=evidence
    )


def evidence_of(
    ctx: Context,
    check: str,
    sample: Sample,
    outcomes: Sequence[Outcome],
    reference: Any,
    **extra: Any,
) -> str:
    """Store the degradation curve (level → metric, flip rate, …) as
    ``robustness/<check>/<dataset>.json``; returns its reference."""
    return ctx.add_artefact(
        f"robustness/{check}/{sample.dataset}.json",
        {
            "schema": "assay.robustness/1",
            "check": f"robustness.{check}",
            "dataset": sample.dataset,
            "task": sample.ev.task,
            "rows": sample.n,
            "sample_seed": sample.seed,
            "facts_from": sample.reference,
            "metric": sample.metric,
            "unperturbed_metric": sample.unperturbed,
            "flip_tolerance": sample.flip_tolerance,
            "reference_level": reference,
            "curve": [o.to_json() for o in outcomes],
            **extra,
        },
    )


def samples(ctx: Context, params: CheckParams) -> list[Finding | Sample]:
    """Per test-role dataset: its :class:`Sample`, or the finding that stops it (no model or
    test data, too few rows, a bad ``metric`` param)."""
    stop = no_datasets(ctx, params)
    if stop is not None:
        return list(stop)
    options = params.options
    assert isinstance(options, RobustnessOptions)
    out: list[Finding | Sample] = []
    for name in evaluated_datasets(ctx, "test"):
        ev = ctx.evaluation(name)
        if ev.n < params.min_rows:
            out.append(params.insufficient(name, ev.n))
            continue
        bad = bad_metric(params, ev, headline_metric(ev, options.metric))
        out.append(bad if bad is not None else take_sample(ctx, params, ev, options))
    return out


def skipped(params: CheckParams, sample: Sample, reason: str) -> Finding:
    """The ``skipped`` finding for a dataset the check does not apply to, saying why."""
    return params.finding(
        sample.dataset,
        status=Status.SKIPPED,
        message=f"{sample.dataset}: {reason}.",
        metrics={"n_rows": sample.n},
        remediation="",
    )
