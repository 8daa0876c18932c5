"""``model.slices``: where on the test set is the model markedly worse than elsewhere?

Two sources of slices: those the spec declares (``params.slices``, each a name and a ``where``
condition in the language of :mod:`assay.stats.slices`) and those the automatic search finds
(quantile bins of numeric columns, commonest categories, and pairs of them). Each slice is
tested against the rest of the dataset and the p-values are adjusted with Benjamini–Hochberg
across every tested slice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.model_common import each_test_dataset, json_value
from assay.stats.bootstrap import percentile_interval, resample_indices
from assay.stats.slice_conditions import describe, where_mask
from assay.stats.slices import SearchResult, SliceResult, search

Scalar = StrictBool | StrictInt | StrictFloat | StrictStr | None


class Range(BaseModel):
    """A mapping condition: bounds (numeric columns), membership or missingness."""

    model_config = ConfigDict(extra="forbid")

    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None
    gt: StrictInt | StrictFloat | None = None
    lt: StrictInt | StrictFloat | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    missing: StrictBool | None = None

    def condition(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


Condition = Scalar | list[Scalar] | Range


class DeclaredSlice(BaseModel):
    """One slice the spec asks about: ``{name: young, where: {age: {max: 25}}}``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    where: dict[str, Condition] = Field(min_length=1)

    def conditions(self) -> dict[str, Any]:
        return {c: v.condition() if isinstance(v, Range) else v for c, v in self.where.items()}


class SlicesOptions(BaseModel):
    """``checks.model.slices.params``."""

    model_config = ConfigDict(extra="forbid")

    slices: list[DeclaredSlice] = Field(default_factory=list)
    search: bool = Field(default=True, description="Search for weak slices automatically.")
    columns: list[str] | None = Field(
        default=None, description="Columns to slice by (default: the model's features)."
    )
    min_slice_rows: int | None = Field(
        default=None,
        ge=5,
        description="Smaller slices are not tested (default: 5% of the rows, at least 10 and "
        "at most 30).",
    )
    bins: int = Field(default=5, ge=2, le=20)
    max_categories: int = Field(default=10, ge=1, le=50)
    pair_columns: int = Field(default=4, ge=0, le=10)
    alpha: float = Field(default=0.05, gt=0, lt=1)
    top: int = Field(default=10, ge=1, le=100)
    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@check(
    "model.slices",
    domain="model",
    title="Weak slices",
    severity=Severity.MAJOR,
    thresholds=(
        Threshold("error_rate_gap", warn=0.1, fail=0.2),
        Threshold("mae_ratio", warn=1.5, fail=2.0),
    ),
    requires=("target", "scored"),
    options=SlicesOptions,
    min_rows=50,
    remediation="Look at the slice's rows: collect more training data like them, add features "
    "that explain them, or document the limitation and guard the slice in production.",
)
def slices(ctx: Context, params: CheckParams) -> list[Finding]:
    """Slices of every test-role dataset whose error rate (classification) or MAE
    (regression) is significantly worse than the rest's, by more than the threshold."""
    options = params.options
    assert isinstance(options, SlicesOptions)
    return each_test_dataset(
        ctx, params, lambda ev: _dataset(ctx, params, options, ev), purpose="slice"
    )


def _dataset(
    ctx: Context, params: CheckParams, options: SlicesOptions, ev: Evaluation
) -> list[Finding]:
    name = ev.dataset
    assert ev.y_true is not None
    classification = ev.task == "classification"
    if classification:
        loss = np.asarray(ev.y_pred != ev.y_true, dtype=np.float64)
    else:
        loss = np.abs(ev.y_true.astype(np.float64) - ev.y_pred.astype(np.float64))
    findings: list[Finding] = []
    wanted = options.columns if options.columns is not None else list(ev.features)
    declared_columns = {c for s in options.slices for c in s.where}
    available = set(ctx.datasets[name].columns)
    absent = sorted((set(wanted) | declared_columns) - available)
    columns, skipped = _columns(ctx, name, ev, [c for c in wanted if c in available])
    values = dict(columns)
    extra = [c for c in sorted(declared_columns & available) if c not in values]
    if extra:
        more, more_skipped = _columns(ctx, name, ev, extra)
        values.update(more)
        skipped.update(more_skipped)
    declared: list[tuple[str, dict[str, Any], np.ndarray]] = []
    for item in options.slices:
        where = item.conditions()
        try:
            mask = where_mask(values, where)
        except ValueError as exc:
            findings.append(
                params.finding(
                    f"{name} [{item.name}]",
                    status=Status.ERROR,
                    message=f"params.slices {item.name!r}: {exc}",
                    remediation=f"Fix `checks.{params.info.id}.params.slices`.",
                )
            )
            continue
        declared.append((item.name, where, mask))
    found = search(
        loss,
        columns if options.search else {},
        kind="error" if classification else "absolute_error",
        min_rows=min_slice_rows(options, ev.n),
        bins=options.bins,
        max_categories=options.max_categories,
        pair_columns=options.pair_columns,
        declared=declared,
    )
    rated = _rate(params, options, found, classification)
    flagged = [r for r in rated if r.flagged and not r.slice.declared]
    flagged.sort(key=lambda r: (-_effect(r), r.slice.label))
    evidence = ctx.add_artefact(
        f"model/slices/{name}.json",
        {
            "dataset": name,
            "metric": "error_rate" if classification else "mae",
            "test": "one-sided Fisher exact" if classification else "one-sided Welch t",
            "correction": "benjamini-hochberg",
            "alpha": options.alpha,
            "rows": found.n_rows,
            "overall": json_value(found.overall),
            "min_slice_rows": min_slice_rows(options, ev.n),
            "columns": list(found.columns),
            "pair_columns": list(found.pair_columns),
            "skipped_columns": {**skipped, **{c: "not in the dataset" for c in absent}},
            "untested_slices": found.untested,
            "slices": [_entry(r) for r in rated],
        },
    )
    run = _Run(
        params=params,
        options=options,
        ev=ev,
        loss=loss,
        classification=classification,
        tested=sum(1 for s in found.slices if not math.isnan(s.p_adjusted)),
        untested=found.untested,
        flagged=len(flagged),
        evidence=(evidence,),
    )
    masks = {label: mask for label, _, mask in declared}
    for rating in [r for r in rated if r.slice.declared]:
        findings.append(_declared(run, rating, masks[rating.slice.label]))
    for rating in flagged[: options.top]:
        findings.append(_flagged(run, rating, where_mask(values, rating.slice.where)))
    if not flagged and options.search:
        findings.append(_summary(run, rated))
    return findings


def min_slice_rows(options: SlicesOptions, rows: int) -> int:
    """``params.min_slice_rows``, else 5% of the rows, at least 10 and at most 30."""
    if options.min_slice_rows is not None:
        return options.min_slice_rows
    return min(30, max(10, math.ceil(0.05 * rows)))


@dataclass(frozen=True)
class _Rating:
    """A tested slice and the verdict on it."""

    slice: SliceResult
    effect: float | None
    """``error_rate_gap`` (slice − rest) or ``mae_ratio`` (slice / rest)."""
    significant: bool
    flagged: bool


@dataclass(frozen=True)
class _Run:
    params: CheckParams
    options: SlicesOptions
    ev: Evaluation
    loss: np.ndarray
    classification: bool
    tested: int
    untested: int
    flagged: int
    evidence: tuple[str, ...]

    @property
    def effect_metric(self) -> str:
        return "error_rate_gap" if self.classification else "mae_ratio"

    @property
    def metric(self) -> str:
        return "error_rate" if self.classification else "mae"


def _effect(rating: _Rating) -> float:
    return -math.inf if rating.effect is None else rating.effect


def _rate(
    params: CheckParams, options: SlicesOptions, found: SearchResult, classification: bool
) -> list[_Rating]:
    """Significant (BH-adjusted p < alpha) and beyond the warn level: flagged. A pair is
    flagged only when it is worse than each of its two single-column slices."""
    threshold = params.thresholds["error_rate_gap" if classification else "mae_ratio"]
    singles = {s.label: s.value for s in found.slices if not s.parents and not s.declared}
    out = []
    for s in found.slices:
        effect = s.gap if classification else s.ratio
        if effect is not None and not math.isfinite(effect):
            effect = None
        significant = not math.isnan(s.p_adjusted) and s.p_adjusted < options.alpha
        grade = threshold.grade(effect)
        beyond = grade in (Status.WARN, Status.FAIL)
        informative = all(s.value > singles[p] for p in s.parents if p in singles)
        out.append(_Rating(s, effect, significant, significant and beyond and informative))
    return out


def _entry(rating: _Rating) -> dict[str, Any]:
    s = rating.slice
    return {
        "slice": s.label,
        "where": s.where,
        "declared": s.declared,
        "rows": s.n,
        "value": json_value(s.value),
        "rest_value": json_value(s.rest_value),
        "effect": json_value(rating.effect),
        "p_value": json_value(s.p_value),
        "p_adjusted": json_value(s.p_adjusted),
        "significant": rating.significant,
        "flagged": rating.flagged,
    }


def _interval(run: _Run, rating: _Rating, mask: np.ndarray) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the slice's error rate or MAE.

    Error rate: a resample's error count is Binomial(n, rate) — exactly the distribution of
    the errors in n rows drawn with replacement — so it is drawn as such; MAE: the slice's
    rows are resampled (assay.stats.bootstrap's resamples).
    """
    options = run.options
    s = rating.slice
    if not options.n_bootstrap or s.n == 0:
        return None, None
    seed = run.params.rng_seed("bootstrap", run.ev.dataset, s.label)
    if run.classification:
        rng = np.random.default_rng(seed)
        draws = rng.binomial(s.n, s.value, size=options.n_bootstrap) / s.n
    else:
        picked = run.loss[mask]
        draws = np.concatenate(
            [picked[idx].mean(axis=1) for idx in resample_indices(s.n, options.n_bootstrap, seed)]
        )
    low, high = percentile_interval(np.asarray(draws, dtype=np.float64), options.confidence)
    return json_value(low), json_value(high)


def _slice_metrics(
    run: _Run, rating: _Rating, mask: np.ndarray
) -> tuple[dict[str, Metric], dict[str, str]]:
    s = rating.slice
    low, high = _interval(run, rating, mask)
    m = run.metric
    metrics: dict[str, Metric] = {
        "n_rows": s.n,
        m: json_value(s.value),
        f"{m}_ci_low": low,
        f"{m}_ci_high": high,
        f"rest_{m}": json_value(s.rest_value),
        run.effect_metric: rating.effect,
        "p_value": json_value(s.p_value),
        "p_adjusted": json_value(s.p_adjusted),
        "n_slices_tested": run.tested,
    }
    undefined = {}
    if low is None:
        undefined[f"{m}_ci_low"] = undefined[f"{m}_ci_high"] = (
            "bootstrap intervals are off (n_bootstrap: 0)"
        )
    if rating.effect is None:
        undefined[run.effect_metric] = f"the rest of {run.ev.dataset} has MAE 0"
    for key in ("p_value", "p_adjusted"):
        if metrics[key] is None:
            undefined[key] = "the slice could not be tested"
    return metrics, undefined


def _describe_slice(run: _Run, rating: _Rating, metrics: dict[str, Metric]) -> str:
    s = rating.slice
    m = run.metric
    name = "error rate" if run.classification else "MAE"
    band = ""
    if metrics[f"{m}_ci_low"] is not None:
        band = (
            f" ({round(run.options.confidence * 100)}% CI {metrics[f'{m}_ci_low']:.3f}–"
            f"{metrics[f'{m}_ci_high']:.3f})"
        )
    return (
        f"{name} {s.value:.3f}{band} on {s.n:,} rows, against "
        f"{s.rest_value:.3f} on the other {run.ev.n - s.n:,}; BH-adjusted p = "
        f"{_p(s.p_adjusted)} over {run.tested:,} tested slices"
    )


def _p(value: float) -> str:
    if math.isnan(value):
        return "undefined"
    return f"{value:.2g}" if value >= 1e-4 else f"{value:.1e}"


def _flagged(run: _Run, rating: _Rating, mask: np.ndarray) -> Finding:
    metrics, undefined = _slice_metrics(run, rating, mask)
    metrics["n_slices_flagged"] = run.flagged
    more = ""
    if run.flagged > run.options.top:
        more = f" ({run.flagged} slices flagged; the worst {run.options.top} are reported)"
    message = (
        f"{run.ev.dataset} [{rating.slice.label}]: {_describe_slice(run, rating, metrics)}"
        f"{more}; {', '.join(run.ev.notes())}."
    )
    return run.params.judge(
        f"{run.ev.dataset} [{rating.slice.label}]",
        run.effect_metric,
        metrics,
        message=message,
        undefined=undefined,
        evidence=run.evidence,
    )


def _declared(run: _Run, rating: _Rating, mask: np.ndarray) -> Finding:
    s = rating.slice
    subject = f"{run.ev.dataset} [{s.label}]"
    if s.n < min_slice_rows(run.options, run.ev.n):
        return run.params.insufficient(
            subject, s.n, min_slice_rows(run.options, run.ev.n), evidence=run.evidence
        )
    if s.n >= run.ev.n:
        return run.params.finding(
            subject,
            status=Status.SKIPPED,
            message=f"{subject}: the slice ({describe(s.where)}) holds every row of "
            f"{run.ev.dataset}; there is no rest to compare it with.",
            evidence=run.evidence,
        )
    metrics, undefined = _slice_metrics(run, rating, mask)
    text = f"{subject} ({describe(s.where)}): {_describe_slice(run, rating, metrics)}"
    if rating.significant:
        return run.params.judge(
            subject,
            run.effect_metric,
            metrics,
            message=f"{text}; {', '.join(run.ev.notes())}.",
            undefined=undefined,
            evidence=run.evidence,
        )
    return run.params.finding(
        subject,
        status=Status.PASS,
        message=f"{text}: not significantly worse (alpha {run.options.alpha:g}); "
        f"{', '.join(run.ev.notes())}.",
        metrics=metrics,
        undefined=undefined,
        threshold=run.params.thresholds[run.effect_metric],
        evidence=run.evidence,
    )


def _summary(run: _Run, rated: list[_Rating]) -> Finding:
    auto = [r for r in rated if not r.slice.declared and r.effect is not None]
    significant = sum(1 for r in auto if r.significant)
    worst = max(auto, key=lambda r: (_effect(r), r.slice.label), default=None)
    threshold = run.params.thresholds[run.effect_metric]
    what = "error rate" if run.classification else "MAE"
    by = "more than" if run.classification else "a ratio above"
    message = (
        f"no slice of {run.ev.dataset} has {what} significantly worse than the rest "
        f"(Benjamini–Hochberg, alpha {run.options.alpha:g}) by {by} {threshold.warn:g}: "
        f"{run.tested:,} slices tested, {run.untested:,} too small "
        f"(< {min_slice_rows(run.options, run.ev.n)} rows)"
    )
    if worst is not None:
        message += (
            f"; the worst, {worst.slice.label}, has {what} {worst.slice.value:.3f} against "
            f"{worst.slice.rest_value:.3f} (adjusted p {_p(worst.slice.p_adjusted)})"
        )
    metrics: dict[str, Metric] = {
        "n_slices_tested": run.tested,
        "n_slices_untested": run.untested,
        "n_slices_significant": significant,
        f"max_{run.effect_metric}": None if worst is None else worst.effect,
        "n_rows": run.ev.n,
    }
    undefined = {}
    if worst is None:
        undefined[f"max_{run.effect_metric}"] = "no slice was large enough to test"
    return run.params.finding(
        run.ev.dataset,
        status=Status.PASS,
        message=f"{message}; {', '.join(run.ev.notes())}.",
        metrics=metrics,
        undefined=undefined,
        threshold=threshold,
        evidence=run.evidence,
    )


def _columns(
    ctx: Context, name: str, ev: Evaluation, columns: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The evaluated rows' values of ``columns``: numeric as float (NaN for missing), text,
    booleans and categories as objects (``None``); other types are not sliced."""
    if not columns:
        return {}, {}
    table = ctx.table(name, columns)
    if ev.dropped:
        table = table.take(pa.array(ev.rows))
    out: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    for column in columns:
        data = table.column(column)
        kind = data.type
        if pa.types.is_dictionary(kind):
            data = data.cast(kind.value_type)
            kind = data.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            out[column] = np.asarray(
                data.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        elif (
            pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
        ):
            out[column] = np.asarray(data.to_pylist(), dtype=object)
        else:
            skipped[column] = f"{kind} columns are not sliced"
    return out, skipped
