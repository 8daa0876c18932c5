"""Fairness: does a binary classifier treat the groups of each sensitive feature alike?

For every evaluated dataset (role ``test`` by default, with a target and ``sensitive:``
columns) each check judges every **grouping**: each sensitive feature alone (subject
``test:colour``) and, with two or more, their intersection (``test:colour & sex``). The
statistics come from :mod:`assay.stats.fairness` (docs/fairness.md); the checks add the
policy (docs/checks-fairness.md):

- groups smaller than ``min_group_size`` are flagged, never dropped: each graded value is
  computed twice, over the groups of at least ``min_group_size`` rows and over every group,
  and the second **can warn but never fail** ("small groups can warn, not fail");
- a value that divides by zero is ``None`` with the reason under ``undefined``, never 0;
- every fairness check bootstraps with the same seed (from the spec's seed and the dataset),
  so their intervals agree and they cite one ``fairness/<dataset>.json`` artefact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from assay.checks._context import Context
from assay.checks._evaluation import Evaluation
from assay.checks._registry import (
    CheckParams,
    Finding,
    Metric,
    Severity,
    Status,
    Threshold,
    check,
    derive_seed,
)
from assay.checks.model_common import json_value
from assay.stats.fairness import (
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_RATIO,
    EQUALIZED_ODDS_DIFFERENCE,
    EQUALIZED_ODDS_RATIO,
    Disparity,
    FairnessResult,
    GroupStats,
    PrivilegedComparison,
    fairness_by_grouping,
    fairness_metrics,
)

MISSING = "(missing)"
"""The group of rows without a value for a sensitive feature."""

NO_DATASET = (
    "no dataset with role {roles}, a target and `sensitive:` columns: nothing to measure "
    "fairness on."
)
NO_DATASET_FIX = (
    "Declare `sensitive:` columns on a held-out dataset with a target (role test), or list its "
    "role under `checks.{check}.params.roles`."
)
NOT_EVALUATED = "could not evaluate {dataset}: {error}"
REGRESSION = (
    "{dataset} is a regression task: these fairness metrics (selection rate, TPR, FPR) are "
    "defined for classifiers."
)
MULTICLASS = (
    "{dataset} has {count} classes; the fairness checks handle binary classifiers only for now."
)
ONE_GROUP = "only one group ({group}) in {dataset}: nothing to compare."
MISSING_NOTE = "{count} row(s) without a {column} value form the group {column}={missing}"
SMALL_NOTE = "small groups (fewer than {size} rows, can warn but not fail): {groups}"
TOO_FEW = (
    "fewer than two groups with a defined {rate} remain in {dataset}: nothing to compare "
    "(insufficient data)."
)
NO_PRIVILEGED = (
    "no privileged value declared for {features}: compared with the most-selected group "
    "{group} (the four-fifths rule of the Uniform Guidelines). Declare one as "
    "`sensitive: [{example}]`"
)
BAD_PRIVILEGED = "dataset {dataset!r}: {error} Fix `sensitive:` ({{column, privileged}})."
FIX_PRIVILEGED = "Declare a privileged value that occurs in the data, e.g. {example}."


class FairnessOptions(BaseModel):
    """``checks.fairness.*.params``: which datasets, and how groups and intervals are made."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(
        default_factory=lambda: ["test"],
        min_length=1,
        description="Roles of the datasets evaluated (e.g. add `current` for labelled "
        "production data).",
    )
    min_group_size: int = Field(default=30, ge=1, description="Groups below are flagged small.")
    n_bootstrap: int = Field(default=1000, ge=0, le=100_000)
    confidence: float = Field(default=0.95, gt=0, lt=1)


@dataclass(frozen=True)
class _Inputs:
    """One dataset's predictions with its sensitive values aligned to the evaluated rows."""

    dataset: str
    ev: Evaluation
    features: dict[str, np.ndarray]
    privileged: dict[str, Any]
    notes: tuple[str, ...]
    seed: int
    results: tuple[FairnessResult, ...] = ()
    evidence: tuple[str, ...] = field(default=())

    def subject(self, features: Sequence[str]) -> str:
        return f"{self.dataset}:{' & '.join(features)}"


def _options(params: CheckParams) -> FairnessOptions:
    options = params.options
    assert isinstance(options, FairnessOptions)
    return options


def _datasets(ctx: Context, params: CheckParams) -> list[str]:
    roles = _options(params).roles
    return [
        name
        for name, ds in ctx.datasets.items()
        if ds.role in roles and ds.spec.target is not None and ds.spec.sensitive
    ]


def _each_dataset(
    ctx: Context, params: CheckParams, judge: Callable[[_Inputs], list[Finding]]
) -> list[Finding]:
    """``judge`` on every evaluated dataset; skipped/error findings where it cannot run."""
    names = _datasets(ctx, params)
    if not names:
        return [
            params.finding(
                "*",
                status=Status.SKIPPED,
                message=NO_DATASET.format(roles=" or ".join(_options(params).roles)),
                remediation=NO_DATASET_FIX.format(check=params.info.id),
            )
        ]
    findings: list[Finding] = []
    for name in names:
        prepared = _prepare(ctx, params, name)
        findings.extend(judge(prepared) if isinstance(prepared, _Inputs) else [prepared])
    return findings


def _prepare(ctx: Context, params: CheckParams, name: str) -> _Inputs | Finding:
    try:
        ev = ctx.evaluation(name)
    except Exception as exc:  # a failing model: reported, the audit goes on
        return params.finding(
            name, status=Status.ERROR, message=NOT_EVALUATED.format(dataset=name, error=exc)
        )
    if ev.task == "regression":
        return params.finding(name, status=Status.SKIPPED, message=REGRESSION.format(dataset=name))
    if not ev.binary:
        count = len(ev.classes or ())
        return params.finding(
            name, status=Status.SKIPPED, message=MULTICLASS.format(dataset=name, count=count)
        )
    if ev.n < params.min_rows:
        return params.insufficient(name, ev.n)
    declared = ctx.datasets[name].spec.sensitive
    columns = list(dict.fromkeys(f.column for f in declared))
    table = ctx.table(name, columns).take(ev.rows)
    features: dict[str, np.ndarray] = {}
    notes = []
    for column in columns:
        values, missing = _values(table.column(column).to_pylist())
        features[column] = values
        if missing:
            notes.append(MISSING_NOTE.format(count=missing, column=column, missing=MISSING))
    privileged = {
        f.column: _match(f.privileged, features[f.column])
        for f in declared
        if f.privileged is not None
    }
    options = _options(params)
    inputs = _Inputs(
        name, ev, features, privileged, tuple(notes), derive_seed(ctx.spec.seed, "fairness", name)
    )
    results = fairness_by_grouping(
        ev.y_true,
        ev.y_pred,
        features,
        pos_label=ev.positive,
        seed=inputs.seed,
        min_group_size=options.min_group_size,
        n_bootstrap=options.n_bootstrap,
        confidence=options.confidence,
    )
    evidence = ctx.add_artefact(
        f"fairness/{name}.json",
        {
            "dataset": name,
            "source": ev.source,
            "positive": json_value(ev.positive),
            "rows": ev.n,
            "rows_without_target": ev.dropped,
            "notes": list(notes),
            "groupings": [_plain(r.to_json()) for r in results],
        },
    )
    return replace(inputs, results=results, evidence=(evidence,))


def _values(raw: list[Any]) -> tuple[np.ndarray, int]:
    """A column's values as an array, missing ones (None, NaN) replaced by :data:`MISSING`."""
    missing = [v is None or (isinstance(v, float) and math.isnan(v)) for v in raw]
    count = sum(missing)
    if not count:
        return np.asarray(raw), 0
    out = np.empty(len(raw), dtype=object)
    out[:] = [MISSING if m else v for v, m in zip(raw, missing, strict=True)]
    return out, count


def _match(declared: Any, values: np.ndarray) -> Any:
    """The column's own value for a declared privileged value (``"1"`` matches ``1``)."""
    uniques = {v.item() if isinstance(v, np.generic) else v for v in np.unique(values)}
    if declared in uniques:
        return declared
    same = [u for u in uniques if str(u) == str(declared)]
    return same[0] if len(same) == 1 else declared


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become ``None``."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return json_value(value)


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _group(result: FairnessResult, label: str | None) -> GroupStats | None:
    return next((g for g in result.groups if g.group == label), None)


def _small(result: FairnessResult) -> list[GroupStats]:
    return [g for g in result.groups if g.small]


def _ci(d: Disparity, confidence: float) -> str:
    if _number(d.ci_low) is None:
        return ""
    return f" ({round(confidence * 100)}% CI {d.ci_low:.2f}–{d.ci_high:.2f})"


def _with_ci(
    metrics: dict[str, Metric], undefined: dict[str, str], name: str, d: Disparity, reason: str
) -> None:
    """``name``, ``name_ci_low`` and ``name_ci_high`` into ``metrics`` (None with a reason)."""
    metrics[name] = _number(d.value)
    if metrics[name] is None:
        undefined[name] = reason
    for end, value in (("low", d.ci_low), ("high", d.ci_high)):
        key = f"{name}_ci_{end}"
        metrics[key] = _number(value)
        if metrics[key] is None:
            undefined[key] = (
                "no bootstrap (n_bootstrap: 0)"
                if d.ci_resamples == 0 and metrics[name] is not None
                else "undefined in every bootstrap resample"
                if metrics[name] is not None
                else reason
            )


def _grade(
    params: CheckParams, graded: Mapping[str, tuple[float | None, float | None]]
) -> tuple[Status | None, Threshold | None, bool]:
    """The worst status over ``metric → (value over large groups, value over all groups)``.

    The all-groups value is capped at WARN: small groups can warn, never fail. Returns the
    status (None when every value is undefined), the threshold that set it and whether the
    all-groups value did.
    """
    order = [Status.PASS, Status.WARN, Status.FAIL]
    worst: tuple[Status | None, Threshold | None, bool] = (None, None, False)
    for metric, (large, every) in graded.items():
        threshold = params.thresholds.get(metric)
        if threshold is None:
            continue
        for value, capped in ((large, False), (every, True)):
            status = threshold.grade(value)
            if status is None:
                continue
            if capped and status is Status.FAIL:
                status = Status.WARN
            if worst[0] is None or order.index(status) > order.index(worst[0]):
                worst = (status, threshold, capped)
    return worst


def _base_metrics(result: FairnessResult) -> dict[str, Metric]:
    return {
        "n_groups": len(result.groups),
        "small_group_count": len(_small(result)),
        "n_rows": result.n_rows,
    }


def _one_group(params: CheckParams, inputs: _Inputs, result: FairnessResult) -> Finding | None:
    if len(result.groups) > 1:
        return None
    return params.finding(
        inputs.subject(result.features),
        status=Status.SKIPPED,
        message=ONE_GROUP.format(group=result.groups[0].group, dataset=inputs.dataset),
        metrics=_base_metrics(result),
        evidence=inputs.evidence,
        remediation="Nothing to fix: a feature with one value cannot be compared.",
    )


def _notes(
    inputs: _Inputs,
    result: FairnessResult,
    rates: Sequence[str],
    min_group_size: int,
    keywords: Sequence[str] = (),
) -> str:
    """What a reader needs next to the value: undefined rates (0/0), the warnings matching
    ``keywords``, the small groups and the missing sensitive values."""
    parts = []
    for rate in rates:
        name, why = _UNDEFINED_RATES[rate]
        groups = [g.group for g in result.groups if not math.isfinite(getattr(g, rate))]
        if groups:
            parts.append(f"{name} undefined (0/0) for {_listed(groups)}: {why}")
    parts += [w.rstrip(".") for w in result.warnings if any(k in w for k in keywords)]
    small = _small(result)
    if small:
        listed = _listed([f"{g.group} ({g.size} rows)" for g in small])
        parts.append(SMALL_NOTE.format(size=min_group_size, groups=listed))
    parts += [n for n in inputs.notes if any(f"a {f} value" in n for f in result.features)]
    return "".join(f"; {p}" for p in parts)


_UNDEFINED_RATES = {
    "tpr": ("TPR", "no actual positives, left out of the TPR comparison"),
    "fpr": ("FPR", "no actual negatives, left out of the FPR comparison"),
    "precision": ("precision", "no predicted positives"),
}


def _listed(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} and {len(items) - limit} more"


# ---------------------------------------------------------------------------------------------
# fairness.group_metrics

_GROUP_NOTES = ("tpr", "fpr", "precision")


@check(
    "fairness.group_metrics",
    domain="fairness",
    title="Group sizes and rates",
    severity=Severity.MINOR,
    thresholds=(Threshold("small_group_count", warn=0, direction="max"),),
    requires=("target", "scored", "sensitive"),
    options=FairnessOptions,
    min_rows=30,
    remediation="Collect more labelled rows for the small groups (or merge rare values into "
    "a documented wider group); until then read their rates and disparities as unstable.",
)
def group_metrics(ctx: Context, params: CheckParams) -> list[Finding]:
    """Per-group selection rate, TPR, FPR, precision, error rate and size, for every grouping.

    Stored as ``fairness/<dataset>.json``; warns when a group has fewer than
    ``min_group_size`` rows, since every disparity involving it is unstable.
    """
    size = _options(params).min_group_size

    def judge(inputs: _Inputs) -> list[Finding]:
        findings = []
        for result in inputs.results:
            single = _one_group(params, inputs, result)
            if single is not None:
                findings.append(single)
                continue
            smallest = min(result.groups, key=lambda g: g.size)
            metrics = {**_base_metrics(result), "smallest_group_size": smallest.size}
            message = (
                f"{len(result.groups)} groups of {' & '.join(result.features)} in "
                f"{inputs.dataset} ({result.n_rows:,} rows); smallest {smallest.group} with "
                f"{smallest.size} rows{_notes(inputs, result, _GROUP_NOTES, size)}."
            )
            findings.append(
                params.judge(
                    inputs.subject(result.features),
                    "small_group_count",
                    metrics,
                    message=message,
                    evidence=inputs.evidence,
                )
            )
        return findings

    return _each_dataset(ctx, params, judge)


# ---------------------------------------------------------------------------------------------
# Between-groups disparities (Fairlearn): demographic parity, equal opportunity, equalized odds


@dataclass(frozen=True)
class _Spread:
    """What one between-groups check compares."""

    difference: str
    ratio: str
    rates: tuple[str, ...]  # GroupStats fields
    names: tuple[str, ...]  # how messages name them


DEMOGRAPHIC_PARITY = _Spread(
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    ("selection_rate",),
    ("selection rate",),
)
EQUAL_OPPORTUNITY = _Spread(
    EQUAL_OPPORTUNITY_DIFFERENCE, EQUAL_OPPORTUNITY_RATIO, ("tpr",), ("TPR",)
)
EQUALIZED_ODDS = _Spread(
    EQUALIZED_ODDS_DIFFERENCE, EQUALIZED_ODDS_RATIO, ("tpr", "fpr"), ("TPR", "FPR")
)

_DIFFERENCE_REMEDIATION = (
    "Find where the groups' {what} part (features acting as proxies, thresholds, unbalanced "
    "training labels); mitigate (reweighing, group-aware thresholds, more data for the "
    "worse-served group) or document why the gap is justified."
)


def _between_check(ctx: Context, params: CheckParams, spread: _Spread) -> list[Finding]:
    options = _options(params)

    def judge(inputs: _Inputs) -> list[Finding]:
        return [_between_finding(params, options, inputs, r, spread) for r in inputs.results]

    return _each_dataset(ctx, params, judge)


def _between_finding(
    params: CheckParams,
    options: FairnessOptions,
    inputs: _Inputs,
    result: FairnessResult,
    spread: _Spread,
) -> Finding:
    single = _one_group(params, inputs, result)
    if single is not None:
        return single
    rate = " and ".join(spread.names)
    large_reason = (
        f"fewer than two groups of at least {options.min_group_size} rows have a defined {rate}"
    )
    all_reason = f"fewer than two groups have a defined {rate}"
    metrics, undefined = _base_metrics(result), dict[str, str]()
    for name in (spread.difference, spread.ratio):
        head, every = result.disparities[name], result.all_groups_disparities[name]
        reason = large_reason if name == spread.difference else f"{large_reason}, or 0/0"
        _with_ci(metrics, undefined, name, head, reason)
        _with_ci(
            metrics,
            undefined,
            f"{name}_all_groups",
            every,
            reason.replace(large_reason, all_reason),
        )
    graded = {
        name: (
            _number(result.disparities[name].value),
            _number(result.all_groups_disparities[name].value),
        )
        for name in (spread.difference, spread.ratio)
    }
    status, threshold, from_small = _grade(params, graded)
    keywords = tuple(f"the largest {name} is 0" for name in spread.names)
    rates = [r for r in spread.rates if r != "selection_rate"]
    notes = _notes(inputs, result, rates, options.min_group_size, keywords)
    subject = inputs.subject(result.features)
    if status is None:
        return params.finding(
            subject,
            status=Status.SKIPPED,
            message=TOO_FEW.format(rate=rate, dataset=inputs.dataset).rstrip(".") + notes + ".",
            metrics=metrics,
            undefined=undefined,
            threshold=params.thresholds.get(spread.difference),
            evidence=inputs.evidence,
        )
    shown = result.all_groups_disparities if from_small else result.disparities
    if _number(shown[spread.difference].value) is None:
        shown = result.all_groups_disparities
    d = shown[spread.difference]
    scope = (
        " (all groups, small ones included)"
        if shown is result.all_groups_disparities and (_small(result))
        else ""
    )
    message = (
        f"{_ends(result, d, spread)}: difference {d.value:.2f}{_ci(d, options.confidence)}, "
        f"ratio {_fmt(shown[spread.ratio].value)}{scope}{notes}."
    )
    return params.finding(
        subject,
        status=status,
        message=message,
        metrics=metrics,
        undefined=undefined,
        threshold=threshold,
        evidence=inputs.evidence,
    )


def _ends(result: FairnessResult, d: Disparity, spread: _Spread) -> str:
    """``selection rate 0.62 (colour=White) vs 0.41 (colour=Black)``: the two extremes."""
    high, low = _group(result, d.high_group), _group(result, d.low_group)
    if high is None or low is None:
        return spread.names[0]
    for field_name, name in zip(spread.rates, spread.names, strict=True):
        a, b = getattr(high, field_name), getattr(low, field_name)
        if math.isfinite(a) and math.isfinite(b) and abs((a - b) - d.value) < 1e-9:
            if d.value == 0:
                return f"{name} {a:.2f} in every group"
            return f"{name} {a:.2f} ({high.group}) vs {b:.2f} ({low.group})"
    return f"{spread.names[0]} ({high.group} vs {low.group})"


def _fmt(value: float) -> str:
    return "undefined" if _number(value) is None else f"{value:.2f}"


@check(
    "fairness.demographic_parity",
    domain="fairness",
    title="Demographic parity",
    thresholds=(
        Threshold(DEMOGRAPHIC_PARITY_DIFFERENCE, warn=0.1, fail=0.2, direction="max"),
        Threshold(DEMOGRAPHIC_PARITY_RATIO, direction="min"),
    ),
    requires=("target", "scored", "sensitive"),
    options=FairnessOptions,
    min_rows=30,
    remediation=_DIFFERENCE_REMEDIATION.format(what="selection rates"),
)
def demographic_parity(ctx: Context, params: CheckParams) -> list[Finding]:
    """Spread of the selection rate P(ŷ=1) across groups: max − min and min / max."""
    return _between_check(ctx, params, DEMOGRAPHIC_PARITY)


@check(
    "fairness.equal_opportunity",
    domain="fairness",
    title="Equal opportunity",
    thresholds=(
        Threshold(EQUAL_OPPORTUNITY_DIFFERENCE, warn=0.1, fail=0.2, direction="max"),
        Threshold(EQUAL_OPPORTUNITY_RATIO, direction="min"),
    ),
    requires=("target", "scored", "sensitive"),
    options=FairnessOptions,
    min_rows=30,
    remediation=_DIFFERENCE_REMEDIATION.format(what="true positive rates"),
)
def equal_opportunity(ctx: Context, params: CheckParams) -> list[Finding]:
    """Spread of the true positive rate P(ŷ=1 | y=1) across groups."""
    return _between_check(ctx, params, EQUAL_OPPORTUNITY)


@check(
    "fairness.equalized_odds",
    domain="fairness",
    title="Equalized odds",
    thresholds=(
        Threshold(EQUALIZED_ODDS_DIFFERENCE, warn=0.1, fail=0.2, direction="max"),
        Threshold(EQUALIZED_ODDS_RATIO, direction="min"),
    ),
    requires=("target", "scored", "sensitive"),
    options=FairnessOptions,
    min_rows=30,
    remediation=_DIFFERENCE_REMEDIATION.format(what="true and false positive rates"),
)
def equalized_odds(ctx: Context, params: CheckParams) -> list[Finding]:
    """The worse of the TPR and FPR spreads across groups."""
    return _between_check(ctx, params, EQUALIZED_ODDS)


# ---------------------------------------------------------------------------------------------
# fairness.disparate_impact (AIF360, four-fifths rule)


@check(
    "fairness.disparate_impact",
    domain="fairness",
    title="Disparate impact (four-fifths rule)",
    thresholds=(
        Threshold("min_disparate_impact", warn=0.9, fail=0.8, direction="min"),
        Threshold("disparate_impact", direction="min"),
    ),
    requires=("target", "scored", "sensitive"),
    options=FairnessOptions,
    min_rows=30,
    remediation="Groups selected at under four fifths of the reference group's rate show "
    "adverse impact: find the features acting as proxies, mitigate (reweighing, group-aware "
    "thresholds) or document the business necessity.",
)
def disparate_impact(ctx: Context, params: CheckParams) -> list[Finding]:
    """Selection rate of each group, and of all unprivileged rows pooled, over the privileged
    group's (AIF360); without a declared privileged value, over the most-selected group's."""
    options = _options(params)

    def judge(inputs: _Inputs) -> list[Finding]:
        findings = []
        for base in inputs.results:
            single = _one_group(params, inputs, base)
            findings.append(single or _impact_finding(ctx, params, options, inputs, base))
        return findings

    return _each_dataset(ctx, params, judge)


def _impact_finding(
    ctx: Context,
    params: CheckParams,
    options: FairnessOptions,
    inputs: _Inputs,
    base: FairnessResult,
) -> Finding:
    features = base.features
    subject = inputs.subject(features)
    declared = all(f in inputs.privileged for f in features)
    if declared:
        reference = {f: inputs.privileged[f] for f in features}
    else:
        pool = [g for g in base.groups if not g.small] or list(base.groups)
        top = max(pool, key=lambda g: g.selection_rate)  # first of equals: groups are sorted
        reference = dict(top.values)
    try:
        result = fairness_metrics(
            inputs.ev.y_true,
            inputs.ev.y_pred,
            inputs.features,
            pos_label=inputs.ev.positive,
            seed=inputs.seed,
            features=features,
            privileged=reference,
            min_group_size=options.min_group_size,
            n_bootstrap=options.n_bootstrap,
            confidence=options.confidence,
        )
    except ValueError as exc:  # a declared privileged value (or combination) that never occurs
        example = ", ".join(f"{{column: {f}, privileged: …}}" for f in features)
        return params.finding(
            subject,
            status=Status.ERROR,
            message=BAD_PRIVILEGED.format(dataset=inputs.dataset, error=exc),
            evidence=inputs.evidence,
            remediation=FIX_PRIVILEGED.format(example=f"`sensitive: [{example}]`"),
        )
    versus = result.privileged
    assert versus is not None
    evidence = (
        *inputs.evidence,
        ctx.add_artefact(
            f"fairness/{inputs.dataset}/disparate_impact/{' & '.join(features)}.json",
            {
                "dataset": inputs.dataset,
                "features": list(features),
                "reference": "privileged" if declared else "most selected",
                **_plain(versus.to_json()),
                "warnings": list(result.warnings),
            },
        ),
    )
    metrics, undefined = _base_metrics(result), dict[str, str]()
    reason = f"the reference group {versus.privileged} has no predicted positives (0/0)"
    _with_ci(metrics, undefined, "disparate_impact", versus.pooled.disparate_impact, reason)
    _with_ci(
        metrics,
        undefined,
        "statistical_parity_difference",
        versus.pooled.statistical_parity_difference,
        reason,
    )
    large = [c for c in versus.by_group if not c.small] if not versus.privileged_small else []
    lowest_large, lowest_all = _lowest(large), _lowest(list(versus.by_group))
    nothing = f"no compared group (nor the reference) has {options.min_group_size} rows or more"
    for name, found in (
        ("min_disparate_impact", lowest_large),
        ("min_disparate_impact_all_groups", lowest_all),
    ):
        metrics[name] = None if found is None else _number(found.disparate_impact.value)
        if metrics[name] is None:
            undefined[name] = reason if lowest_all is None else nothing
    metrics["four_fifths_failure_count"] = len(versus.four_fifths_failures)
    metrics["privileged_size"] = versus.privileged_size
    pooled_large = not versus.privileged_small and versus.pooled.size >= options.min_group_size
    pooled = _number(versus.pooled.disparate_impact.value)
    graded = {
        "min_disparate_impact": (
            metrics["min_disparate_impact"],
            metrics["min_disparate_impact_all_groups"],
        ),
        "disparate_impact": (pooled if pooled_large else None, pooled),
    }
    status, threshold, from_small = _grade(params, graded)
    keywords = ("The privileged group", "Disparate impact is undefined")
    notes = _notes(inputs, result, (), options.min_group_size, keywords)
    if not declared:
        notes = notes.replace("The privileged group", "The reference group")
        example = ", ".join(f"{{column: {f}, privileged: <value>}}" for f in features)
        notes += "; " + NO_PRIVILEGED.format(
            features=" & ".join(features), group=versus.privileged, example=example
        )
    if status is None:
        return params.finding(
            subject,
            status=Status.SKIPPED,
            message=f"disparate impact is undefined: {reason}{notes}.",
            metrics=metrics,
            undefined=undefined,
            threshold=params.thresholds.get("min_disparate_impact"),
            evidence=evidence,
        )
    worst = lowest_all if from_small or lowest_large is None else lowest_large
    assert worst is not None
    ref = _group(result, versus.privileged)
    low = _group(result, worst.group)
    assert ref is not None and low is not None
    role = "privileged" if declared else "most selected"
    di, spd = versus.pooled.disparate_impact, versus.pooled.statistical_parity_difference
    rule = _four_fifths(versus.by_group, versus.privileged_small)
    message = (
        f"selection rate {low.selection_rate:.2f} ({low.group}) vs {ref.selection_rate:.2f} "
        f"({ref.group}, {role}): disparate impact {worst.disparate_impact.value:.2f}"
        f"{_ci(worst.disparate_impact, options.confidence)}; {rule}; all other rows pooled: "
        f"disparate impact {_fmt(di.value)}{_ci(di, options.confidence)}, statistical parity "
        f"difference {spd.value:+.2f}{_ci(spd, options.confidence)}{notes}."
    )
    return params.finding(
        subject,
        status=status,
        message=message,
        metrics=metrics,
        undefined=undefined,
        threshold=threshold,
        evidence=evidence,
    )


def _four_fifths(comparisons: Sequence[PrivilegedComparison], reference_small: bool) -> str:
    """``four-fifths rule fails for a, b (small groups: c)``, or that every group passes."""
    failing = [c for c in comparisons if c.passes_four_fifths is False]
    large = [c.group for c in failing if not c.small and not reference_small]
    small = [c.group for c in failing if c.small or reference_small]
    if not failing:
        return "every group passes the four-fifths rule"
    listed = _listed(large) if large else ""
    if small:
        listed += ("; " if large else "") + f"small groups or reference: {_listed(small)}"
    return f"four-fifths rule fails for {listed}"


def _lowest(comparisons: list[PrivilegedComparison]) -> PrivilegedComparison | None:
    defined = [c for c in comparisons if _number(c.disparate_impact.value) is not None]
    return min(defined, key=lambda c: c.disparate_impact.value) if defined else None
