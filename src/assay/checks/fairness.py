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
from dataclasses import dataclass

from assay.checks._context import Context
from assay.checks._registry import (
    CheckParams,
    Finding,
    Severity,
    Status,
    Threshold,
    check,
)
from assay.checks.fairness_common import (
    _GROUP_NOTES,
    TOO_FEW,
    FairnessOptions,
    _base_metrics,
    _ci,
    _each_dataset,
    _fmt,
    _grade,
    _group,
    _Inputs,
    _notes,
    _number,
    _one_group,
    _options,
    _small,
    _with_ci,
)
from assay.stats.fairness import (
    DEMOGRAPHIC_PARITY_DIFFERENCE,
    DEMOGRAPHIC_PARITY_RATIO,
    EQUAL_OPPORTUNITY_DIFFERENCE,
    EQUAL_OPPORTUNITY_RATIO,
    EQUALIZED_ODDS_DIFFERENCE,
    EQUALIZED_ODDS_RATIO,
    Disparity,
    FairnessResult,
)


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


# Disparate impact registers when its module is imported with this one.
from assay.checks import fairness_impact  # noqa: E402, F401
