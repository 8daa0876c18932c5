"""Label checks: class balance of the target, and rows whose features agree but labels differ.

Both apply to classification targets only: a float target with many distinct values is taken
for a regression target and the checks say so (``skipped``) rather than judge it.
"""

from __future__ import annotations

from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.integrity_common import (
    column_subject,
    is_missing,
    label_text,
    listing,
    not_a_class_label,
    pct,
    plain,
    plural,
    show,
    skipped,
)

CONFLICTS_NONE = (
    "{name}: no rows share identical values on {columns} with different labels of {target!r}."
)
CONFLICTS_FOUND = (
    "{name}: {rows:,} rows ({ratio}) in {groups} share identical values on {columns} "
    "but carry different labels of {target!r}."
)


# integrity.class_balance -------------------------------------------------------------------


@check(
    "integrity.class_balance",
    domain="integrity",
    title="Class balance of the target",
    thresholds=(Threshold("minority_class_ratio", warn=0.1, fail=0.01, direction="min"),),
    requires=("target",),
    min_rows=20,
    remediation="Collect more examples of the rare classes, or use class weights or resampling "
    "and judge the model with metrics that respect imbalance (recall per class, PR AUC).",
)
def class_balance(ctx: Context, params: CheckParams) -> list[Finding]:
    """The rarest class of each target holds a fair share of the labelled rows.

    With ``positive_label`` set, ``positive_rate`` is reported too and the label must occur.
    """
    findings = []
    for name, ds in ctx.datasets.items():
        target = ds.spec.target
        if target is None:
            continue
        subject = column_subject(name, target)
        manifest = ctx.manifest(name)
        reason = not_a_class_label(ctx, name, target)
        if reason:
            findings.append(skipped(params, subject, reason, evidence=(manifest,)))
            continue
        counts = [
            (v, n) for v, n in ctx.facts.value_counts(ds, target, limit=1_000) if not is_missing(v)
        ]
        labelled = sum(n for _, n in counts)
        if labelled < max(params.min_rows, 1):
            findings.append(params.insufficient(subject, labelled, evidence=(manifest,)))
            continue
        findings.append(_balance_finding(ctx, params, name, target, counts, labelled, manifest))
    return findings


def _balance_finding(
    ctx: Context,
    params: CheckParams,
    name: str,
    target: str,
    counts: list[tuple[Any, int]],
    labelled: int,
    manifest: str,
) -> Finding:
    ds = ctx.dataset(name)
    subject = column_subject(name, target)
    minority_value, minority = counts[-1]  # ordered by count, then value
    metrics: dict[str, Any] = {
        "n_classes": len(counts),
        "minority_class_ratio": minority / labelled if len(counts) > 1 else None,
        "majority_class_ratio": counts[0][1] / labelled,
        "missing_label_count": ctx.stats(name)[target].missing,
    }
    undefined = {"minority_class_ratio": "only one class is present"} if len(counts) == 1 else {}
    positive = ds.spec.positive_label
    if positive is not None:
        hits = sum(n for v, n in counts if label_text(v) == label_text(positive))
        metrics["positive_rate"] = hits / labelled
    artefact = {
        "dataset": name,
        "target": target,
        "labelled_rows": labelled,
        "positive_label": plain(positive),
        "classes": [{"value": plain(v), "count": n} for v, n in counts],
    }
    evidence = (manifest, ctx.add_artefact(f"integrity.class_balance/{name}.json", artefact))
    rate = f"; positive rate {pct(metrics['positive_rate'])}" if positive is not None else ""
    if len(counts) == 1:
        message = (
            f"{subject}: every labelled row ({labelled:,}) has the same class "
            f"{show(counts[0][0])}; "
            "a classifier cannot learn, nor be evaluated, from one class."
        )
        return params.finding(
            subject,
            status=Status.FAIL,
            message=message,
            metrics=metrics,
            undefined=undefined,
            threshold=params.thresholds["minority_class_ratio"],
            evidence=evidence,
        )
    if positive is not None and not metrics["positive_rate"]:
        classes = listing([show(v) for v, _ in counts])
        message = (
            f"{subject}: positive_label {show(positive)} never occurs; the classes are {classes}."
        )
        return params.finding(
            subject,
            status=Status.FAIL,
            message=message,
            metrics=metrics,
            threshold=params.thresholds["minority_class_ratio"],
            evidence=evidence,
            remediation="Set `positive_label:` to the value the target uses for the positive class "
            "(mind the type: 1 and '1' differ in YAML only by quotes, and both match here).",
        )
    message = (
        f"{subject}: {plural(len(counts), 'class', 'classes')}; "
        f"the rarest, {show(minority_value)}, "
        f"has {minority:,} of {labelled:,} labelled rows ({pct(minority / labelled)}){rate}."
    )
    return params.judge(
        subject, "minority_class_ratio", metrics, message=message, evidence=evidence
    )


# integrity.label_conflicts -----------------------------------------------------------------


@check(
    "integrity.label_conflicts",
    domain="integrity",
    title="Identical features, different labels",
    severity=Severity.MINOR,
    thresholds=(Threshold("conflicting_row_ratio", warn=0.01, fail=0.1),),
    requires=("target",),
    min_rows=20,
    remediation="Review the conflicting groups (row numbers in the evidence): fix labelling "
    "errors, or add the feature that tells the cases apart.",
)
def label_conflicts(ctx: Context, params: CheckParams) -> list[Finding]:
    """Rows whose model inputs (features and sensitive columns) agree but whose labels differ.

    Compared columns: every column but the target, prediction, score, id and timestamp.
    """
    findings = []
    for name, ds in ctx.datasets.items():
        target = ds.spec.target
        if target is None:
            continue
        manifest = ctx.manifest(name)
        reason = not_a_class_label(ctx, name, target)
        features = ctx.feature_columns(name)
        if reason is None and not features:
            reason = "the dataset has no feature columns besides the target and role columns"
        if reason:
            findings.append(skipped(params, name, reason, evidence=(manifest,)))
            continue
        if ds.rows < params.min_rows:
            findings.append(params.insufficient(name, ds.rows, evidence=(manifest,)))
            continue
        facts = ctx.facts.conflicts(ds, features, target)
        ratio = facts.rows_in_groups / facts.rows
        metrics = {
            "conflicting_row_ratio": ratio,
            "conflicting_row_count": facts.rows_in_groups,
            "conflicting_groups": facts.groups,
        }
        columns = plural(len(features), "feature column")
        evidence: tuple[str, ...] = (manifest,)
        if facts.groups:
            artefact = {
                "dataset": name,
                "target": target,
                "features": features,
                "conflicting_groups": facts.groups,
                "rows_in_groups": facts.rows_in_groups,
                "largest_groups": sorted(facts.examples, key=lambda e: (-e["count"], -e["labels"])),
            }
            evidence += (ctx.add_artefact(f"integrity.label_conflicts/{name}.json", artefact),)
            message = CONFLICTS_FOUND.format(
                name=name,
                rows=facts.rows_in_groups,
                ratio=pct(ratio),
                groups=plural(facts.groups, "group"),
                columns=columns,
                target=target,
            )
        else:
            message = CONFLICTS_NONE.format(name=name, columns=columns, target=target)
        findings.append(
            params.judge(name, "conflicting_row_ratio", metrics, message=message, evidence=evidence)
        )
    return findings
