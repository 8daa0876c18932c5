"""``fairness.disparate_impact``: AIF360's convention against the privileged group, and the
four-fifths rule. The shared policy is described in :mod:`assay.checks.fairness`.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.checks._context import Context
from assay.checks._registry import (
    CheckParams,
    Finding,
    Status,
    Threshold,
    check,
)
from assay.checks.fairness_common import (
    BAD_PRIVILEGED,
    FIX_PRIVILEGED,
    NO_PRIVILEGED,
    FairnessOptions,
    _base_metrics,
    _ci,
    _each_dataset,
    _fmt,
    _grade,
    _group,
    _Inputs,
    _listed,
    _notes,
    _number,
    _one_group,
    _options,
    _plain,
    _with_ci,
)
from assay.stats.fairness import (
    FairnessResult,
    PrivilegedComparison,
    fairness_metrics,
)


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
