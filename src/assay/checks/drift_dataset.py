"""Drift of a comparison as a whole: the share of drifted features, and a domain classifier.

These read what the per-column checks of :mod:`assay.checks.drift` found, or rows the profile
pass sampled; subjects are the current dataset's name.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, Threshold, check
from assay.checks.drift import MIN_ROWS, Pair, _columns, pairs

MULTIVARIATE_ITERATIONS = 30
"""Trees of the domain classifier. The audit waits for the fit after the pass: 30 trees
took the 1M-row benchmark audit from 2.60 s (50 trees) to 2.25 s and kept every verdict of
50 on the test tables (docs/drift-statistics.md)."""


@check(
    "drift.dataset",
    domain="drift",
    title="Share of drifted features",
    severity=Severity.MAJOR,
    thresholds=(Threshold("drift_share", warn=0.25, fail=0.5),),
    requires=("reference_current",),
    after_checks=True,
    remediation="Many features moved at once: look for a change in the data source or the "
    "population before retraining.",
)
def dataset_drift(ctx: Context, params: CheckParams) -> list[Finding]:
    """The share of feature columns whose ``drift.feature`` finding failed, per comparison."""
    findings = []
    for pair in pairs(ctx):
        mine = [
            f
            for f in ctx.findings
            if f.check_id == "drift.feature" and f.subject.startswith(f"{pair.current}:")
        ]
        judged = [
            f for f in mine if f.status in (Status.PASS, Status.WARN, Status.FAIL, Status.WAIVED)
        ]
        drifted = sorted(f.subject.split(":", 1)[1] for f in judged if f.status is Status.FAIL)
        metrics: dict[str, float | int | None] = {
            "drifted_features": len(drifted),
            "features": len(judged),
            "drift_share": len(drifted) / len(judged) if judged else None,
        }
        shown = ", ".join(drifted[:10]) + (" …" if len(drifted) > 10 else "")
        findings.append(
            params.judge(
                pair.current,
                "drift_share",
                metrics,
                message=f"{pair.current}: {len(drifted)} of {len(judged)} features drifted "
                f"against {pair.reference}" + (f" ({shown})." if drifted else "."),
                undefined={} if judged else {"drift_share": "no feature could be compared"},
            )
        )
    return findings


def _classifier_inputs(ctx: Context, pair: Pair) -> tuple[Any, Any, list[str]] | None:
    ref, cur = ctx.sample(pair.reference), ctx.sample(pair.current)
    if ref is None or cur is None:
        return None
    return ref, cur, _columns(ctx, pair, "feature")


def _start_classifiers(ctx: Context, params: CheckParams) -> None:
    """Start each comparison's domain classifier on a worker: the first fold's model fits
    there while this process runs the checks before this one, then fits the other fold."""
    from assay.stats.domain_classifier import fit_folds, prepare_folds

    if ctx.pool is None:  # no worker: the check fits every fold at once when it runs
        return
    for pair in pairs(ctx):
        inputs = _classifier_inputs(ctx, pair)
        if inputs is None:
            continue
        ref, cur, features = inputs
        if min(ref.num_rows, cur.num_rows) < params.min_rows or not features:
            continue
        folds = prepare_folds(
            ref.select(features),
            cur.select(features),
            seed=params.rng_seed(pair.current),
            max_iter=MULTIVARIATE_ITERATIONS,
        )
        ctx.jobs[(params.info.id, pair.current)] = (folds, ctx.submit(fit_folds, folds, [0]))


@check(
    "drift.multivariate",
    domain="drift",
    title="Multivariate drift (domain classifier)",
    severity=Severity.MAJOR,
    thresholds=(Threshold("auc", warn=0.55, fail=0.6),),
    requires=("reference_current",),
    remediation="A model tells current rows from reference rows: the joint distribution moved "
    "even if no single column did. Compare the per-feature findings and retrain if needed.",
    sample_rows=5000,
    min_rows=MIN_ROWS,
    prepare=_start_classifiers,
)
def multivariate_drift(ctx: Context, params: CheckParams) -> list[Finding]:
    """A classifier trained to tell reference rows from current rows, on seeded samples.

    Its out-of-fold ROC AUC is 0.5 when the two are alike. The finding fails when the AUC is
    past the fail level and its bootstrap interval lies above 0.5; past the warn level, or
    past the fail level with an interval that reaches 0.5, it warns.
    """
    from assay.stats.domain_classifier import domain_classifier, finish_folds, fit_folds

    findings = []
    for pair in pairs(ctx):
        subject = pair.current
        ref, cur = ctx.sample(pair.reference), ctx.sample(pair.current)
        if ref is None or cur is None:
            missing = pair.reference if ref is None else pair.current
            findings.append(
                params.finding(
                    subject,
                    status=Status.SKIPPED,
                    message=f"{subject}: {missing} has no rows to sample (a stored profile).",
                    remediation="",
                )
            )
            continue
        features = [c for c in _columns(ctx, pair, "feature")]
        if min(ref.num_rows, cur.num_rows) < params.min_rows or not features:
            findings.append(params.insufficient(subject, min(ref.num_rows, cur.num_rows)))
            continue
        started = ctx.jobs.pop((params.info.id, pair.current), None)
        if started is not None:
            folds, first = started
            rest = fit_folds(folds, range(1, folds.n_splits))
            result = finish_folds(folds, [*first.result(), *rest])
        else:
            result = domain_classifier(
                ref.select(features),
                cur.select(features),
                seed=params.rng_seed(pair.current),
                max_iter=MULTIVARIATE_ITERATIONS,
            )
        metrics = {
            "auc": result.auc,
            "auc_ci_low": result.ci_low,
            "auc_ci_high": result.ci_high,
            "n_reference": result.n_ref,
            "n_current": result.n_cur,
        }
        finding = params.judge(
            subject,
            "auc",
            metrics,
            message=f"{subject}: a classifier tells it from {pair.reference} with ROC AUC "
            f"{result.auc:.3f} (95% CI {result.ci_low:.3f}–{result.ci_high:.3f}; "
            f"{result.n_ref:,} + {result.n_cur:,} sampled rows, {len(result.features)} features).",
            evidence=tuple(ctx.manifest(n) for n in (pair.reference, pair.current)),
        )
        if finding.status is Status.FAIL and result.ci_low <= 0.5:
            finding = replace(finding, status=Status.WARN)
        findings.append(finding)
    return findings
