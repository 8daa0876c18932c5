"""Governance checks: what an audit owes to the runs before it."""

from __future__ import annotations

from itertools import groupby

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, check
from assay.evidence.diff import regressions


@check(
    "governance.baseline_regression",
    domain="governance",
    title="No metric regressed against the baseline run",
    severity=Severity.MAJOR,
    requires=("baseline",),
    after_checks=True,
    remediation="Find what changed since the baseline run (`assay runs diff BASELINE latest`), "
    "fix it, or raise the check's `tolerance` if the change is accepted.",
)
def baseline_regression(ctx: Context, params: CheckParams) -> list[Finding]:
    """One failed finding per graded metric or status that got worse than in the baseline run.

    A metric regresses when it moved against its threshold's direction by more than the
    check's ``tolerance`` (``checks.<id>.tolerance``, else ``policy.baseline_tolerance``).
    A warn, fail or error finding with no counterpart in the baseline, of a check the baseline
    ran, is a regression too: missing values that appear in a column that had none give a
    new ``train:age`` finding where the baseline had a clean ``train`` one.
    """
    baseline = ctx.baseline
    assert baseline is not None  # planned only with a baseline
    label = baseline.created
    current = sorted(ctx.findings, key=lambda f: f.check_id)
    found: list[Finding] = []
    for check_id, group in groupby(current, key=lambda f: f.check_id):
        override = ctx.spec.checks.get(check_id)
        tolerance = (
            override.tolerance
            if override and override.tolerance is not None
            else ctx.spec.policy.baseline_tolerance
        )
        for reg in regressions(baseline, list(group), tolerance=tolerance):
            subject = f"{check_id} [{reg.new.subject}] {reg.metric}"
            if reg.metric == "status":
                message = (
                    f"{check_id} [{reg.new.subject}] went from {reg.old_value} to {reg.new_value}."
                )
                metrics: dict[str, float | int | None] = {}
            else:
                assert isinstance(reg.old_value, int | float) and isinstance(
                    reg.new_value, int | float
                )
                message = (
                    f"{reg.metric} of {check_id} [{reg.new.subject}] worsened from "
                    f"{reg.old_value:.6g} "
                    f"to {reg.new_value:.6g} (tolerance {tolerance:g})."
                )
                metrics = {
                    "baseline_value": reg.old_value,
                    "value": reg.new_value,
                    "change": float(reg.new_value) - float(reg.old_value),
                }
            found.append(
                params.finding(
                    subject,
                    status=Status.FAIL,
                    message=f"{message} Baseline run of {label}.",
                    metrics=metrics,
                    evidence=reg.new.evidence,
                )
            )
    found += _new_failures(ctx, params, label)
    if not found:
        found.append(
            params.finding(
                "baseline",
                status=Status.PASS,
                message=f"No graded metric or status regressed against the baseline run of {label} "
                f"({len(ctx.findings)} findings compared).",
                metrics={"findings_compared": len(ctx.findings)},
            )
        )
    return found


_BAD = (Status.WARN, Status.FAIL, Status.ERROR)


def _new_failures(ctx: Context, params: CheckParams, label: str) -> list[Finding]:
    baseline = ctx.baseline
    assert baseline is not None
    before = {f.key for f in baseline.findings}
    ran = {
        f.check_id
        for f in baseline.findings
        if not (f.status is Status.SKIPPED and f.subject == "*")
    }
    return [
        params.finding(
            f"{f.check_id} [{f.subject}] new",
            status=Status.FAIL,
            message=f"{f.check_id} [{f.subject}] is a new {f.status.value} finding: the baseline "
            f"run of {label} ran the check and had no such finding.",
            evidence=f.evidence,
        )
        for f in ctx.findings
        if f.status in _BAD
        and f.key not in before
        and f.check_id in ran
        and f.check_id != params.info.id
    ]
