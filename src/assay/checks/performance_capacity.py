"""Capacity of the serving endpoint: saturation headroom above the declared peak, and the
replicas (with a HorizontalPodAutoscaler manifest) that serve it.

- ``performance.saturation``: headroom, the saturation rate over the peak, against 1 (fail)
  and the spec's ``headroom`` factor (warn).
- ``performance.autoscaling``: the replicas that serve the peak with that headroom, and a
  HorizontalPodAutoscaler manifest stored as ``performance/hpa.yaml`` (informational).

Both grade the saturation search of :mod:`assay.checks.performance_run`; the latency and
error-rate checks at the peak are in :mod:`assay.checks.performance`.
"""

from __future__ import annotations

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Metric, Severity, Status, Threshold, check
from assay.checks.performance import graded, not_measured
from assay.checks.performance_run import (
    HPA_ARTEFACT,
    hpa_manifest,
    per_replica,
    replicas_needed,
    saturation_run,
    section,
)
from assay.loadtest import SaturationResult

SATURATION = (
    "{url} met the objectives up to {sat:g} requests/s with {replicas} replica(s) "
    "({per:g} per replica), {headroom:.2f}× the peak of {peak:g} requests/s (headroom wanted: "
    "{factor:g}×){bound}"
)
NOT_SATURATED = "; it met them at every rate tried, so its capacity is at least that"
FIRST_MISSED = (
    "{url} missed the objectives already at {start:g} requests/s, the lowest rate of the "
    "saturation search ({misses}){where}"
)
AUTOSCALING = (
    "{replicas} replicas serve the peak of {peak:g} requests/s with {factor:g}× headroom: "
    "ceil({peak:g} × {factor:g} / {per:g} per replica) = {needed}{floor}; HPA {name} in "
    "{namespace}: {min_r}–{max_r} replicas at {cpu}% CPU"
)
NO_RATE = (
    "no replica count: the saturation search found no rate that met the objectives "
    "(the lowest, {start:g} requests/s, missed them)"
)
FIX_NO_RATE = (
    "Lower `performance.saturation.start` until the first step meets the objectives, or make "
    "the endpoint faster, and audit again."
)
FIX_NOT_SATURATED = (
    "Raise `performance.saturation.stop` until a step misses the objectives: the replica count "
    "rests on a lower bound of the capacity, so it may be more than needed."
)


@check(
    "performance.saturation",
    domain="performance",
    title="Saturation headroom above the declared peak",
    severity=Severity.MAJOR,
    thresholds=(Threshold("headroom", fail=1.0, direction="min"),),
    requires=("performance",),
    remediation="Add replicas or make each one faster until the measured deployment meets the "
    "objectives at the peak times the headroom factor; `performance.autoscaling` says how many "
    "replicas that takes.",
)
def saturation(ctx: Context, params: CheckParams) -> list[Finding]:
    """The highest rate that meets the objectives, over the declared peak."""
    perf = section(ctx)
    if perf.saturation is None:
        return [_skipped(ctx, params)]
    measured = saturation_run(ctx)
    if measured.problem is not None:
        return [not_measured(params, measured, "Saturation")]
    search: SaturationResult = measured.result
    evidence = (measured.evidence,) if measured.evidence else ()
    threshold = graded(params, "headroom", None, warn=perf.headroom)
    per = per_replica(search, perf.replicas)
    sat = search.saturation_rate
    headroom = sat / perf.peak_rate if sat is not None else None
    metrics: dict[str, Metric] = {
        "saturation_rate": sat,
        "saturation_rate_per_replica": per,
        "headroom": headroom,
        "headroom_factor": perf.headroom,
        "peak_rate": perf.peak_rate,
        "replicas": perf.replicas,
        "n_steps": len(search.steps),
        "saturated": int(search.saturated),
    }
    if sat is None:
        first = search.steps[0]
        below_peak = first.rate <= perf.peak_rate
        where = (
            ", so its capacity is below the peak"
            if below_peak
            else "; start the search lower to find the capacity"
        )
        reason = "even the lowest rate of the search missed the objectives"
        return [
            params.finding(
                measured.url,
                status=Status.FAIL if below_peak else Status.WARN,
                message=FIRST_MISSED.format(
                    url=measured.url,
                    start=first.rate,
                    misses="; ".join(first.misses),
                    where=where,
                )
                + ".",
                metrics=metrics,
                undefined={
                    "saturation_rate": reason,
                    "saturation_rate_per_replica": reason,
                    "headroom": reason,
                },
                threshold=threshold,
                evidence=evidence,
                remediation=None if below_peak else FIX_NO_RATE,
            )
        ]
    assert headroom is not None and per is not None
    status = threshold.grade(headroom) or Status.SKIPPED
    message = SATURATION.format(
        url=measured.url,
        sat=sat,
        replicas=perf.replicas,
        per=per,
        headroom=headroom,
        peak=perf.peak_rate,
        factor=perf.headroom,
        bound="" if search.saturated else NOT_SATURATED,
    )
    return [
        params.finding(
            measured.url,
            status=status,
            message=message + ".",
            metrics=metrics,
            threshold=threshold,
            evidence=evidence,
        )
    ]


def _skipped(ctx: Context, params: CheckParams) -> Finding:
    from assay.checks.performance_run import endpoint_url

    return params.finding(
        endpoint_url(ctx),
        status=Status.SKIPPED,
        message="the spec has no `performance.saturation` search, so there is no saturation "
        "rate to judge.",
        remediation="Add `performance.saturation: {start, stop, step}` (requests/s) to find it.",
    )


@check(
    "performance.autoscaling",
    domain="performance",
    title="Autoscaling recommendation (replicas and HPA manifest)",
    severity=Severity.INFO,
    requires=("performance",),
    remediation="Review the stored HorizontalPodAutoscaler manifest (performance/hpa.yaml) and "
    "apply it to the deployment that serves the endpoint.",
)
def autoscaling(ctx: Context, params: CheckParams) -> list[Finding]:
    """Replicas for the peak with headroom, from the saturation rate per replica, as an HPA."""
    perf = section(ctx)
    if perf.saturation is None:
        return [_skipped(ctx, params)]
    measured = saturation_run(ctx)
    if measured.problem is not None:
        return [not_measured(params, measured, "The replica count")]
    search: SaturationResult = measured.result
    evidence = (measured.evidence,) if measured.evidence else ()
    per = per_replica(search, perf.replicas)
    scaling = perf.autoscaling
    metrics: dict[str, Metric] = {
        "saturation_rate_per_replica": per,
        "peak_rate": perf.peak_rate,
        "headroom_factor": perf.headroom,
        "replicas_needed": None,
        "replicas": None,
        "min_replicas": scaling.min_replicas,
        "max_replicas": None,
        "target_cpu_percent": scaling.target_cpu_percent,
    }
    if per is None:
        reason = NO_RATE.format(start=search.steps[0].rate)
        return [
            params.finding(
                measured.url,
                status=Status.WARN,
                message=reason + "; no manifest was written.",
                metrics=metrics,
                undefined={
                    m: "the saturation search found no rate"
                    for m in ("saturation_rate_per_replica", "replicas_needed", "replicas")
                }
                | {"max_replicas": "the saturation search found no rate"},
                evidence=evidence,
                remediation=FIX_NO_RATE,
            )
        ]
    needed = replicas_needed(perf.peak_rate, perf.headroom, per)
    replicas = max(needed, scaling.min_replicas)
    metrics.update(replicas_needed=needed, replicas=replicas, max_replicas=replicas)
    manifest = hpa_manifest(perf, search, per=per, needed=needed, replicas=replicas)
    ref = ctx.add_artefact(HPA_ARTEFACT, manifest.encode("utf-8"), "application/yaml")
    floor = f", at least min_replicas {scaling.min_replicas}" if needed < replicas else ""
    message = AUTOSCALING.format(
        replicas=replicas,
        peak=perf.peak_rate,
        factor=perf.headroom,
        per=per,
        needed=needed,
        floor=floor,
        name=scaling.name,
        namespace=scaling.namespace,
        min_r=scaling.min_replicas,
        max_r=replicas,
        cpu=scaling.target_cpu_percent,
    )
    if not search.saturated:
        return [
            params.finding(
                measured.url,
                status=Status.WARN,
                message=f"{message}; the endpoint met the objectives at every rate tried "
                f"(up to {search.saturation_rate:g} requests/s), so this rests on a lower bound "
                "of its capacity.",
                metrics=metrics,
                evidence=(ref, *evidence),
                remediation=FIX_NOT_SATURATED,
            )
        ]
    return [
        params.finding(
            measured.url,
            status=Status.PASS,
            message=message + ".",
            metrics=metrics,
            evidence=(ref, *evidence),
        )
    ]
