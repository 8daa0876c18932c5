"""Performance of the serving endpoint under its declared peak load, and the replicas it needs.

Four checks (docs/checks-performance.md) grade two shared load tests of the spec's
``performance:`` endpoint (:mod:`assay.checks.performance_run`): an open-loop test at
``peak_rate`` and, with ``saturation:``, a search for the highest rate that meets the
objectives. The subject of every finding is the endpoint's URL.

- ``performance.latency``: p95 and p99 at the peak against ``objectives.p95_ms``/``p99_ms``.
- ``performance.error_rate``: the share of failed requests at the peak against
  ``objectives.max_error_rate``.
- ``performance.saturation`` and ``performance.autoscaling``: capacity, in
  :mod:`assay.checks.performance_capacity`.

The spec's objectives are the fail levels; a warn level can be added per check under
``checks:``.
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.checks._context import Context
from assay.checks._registry import (
    CheckParams,
    Finding,
    Metric,
    Severity,
    Status,
    Threshold,
    check,
)
from assay.checks.performance_run import (
    Measured,
    load_run,
    section,
)
from assay.loadtest import LoadResult

NOT_MEASURED = "{url}: the load test did not run: {problem}. {what} is not verified."
FIX_NOT_MEASURED = (
    "Make the endpoint reachable from where the audit runs (the message says what failed), "
    "then audit again."
)
NO_OBJECTIVE = (
    "no latency objective to grade against: set `performance.objectives.p95_ms` or `p99_ms`"
)
NO_SUCCESS = (
    "{url} answered none of the {n:,} requests at {rate:g} requests/s successfully ({errors}), "
    "so its latency cannot be measured"
)
LATENCY = (
    "at {rate:g} requests/s ({arrival}, {n:,} requests over {duration:g} s) {url} answered "
    "with p50 {p50} ms, p95 {p95} ms, p99 {p99} ms (objectives: {objectives})"
)
ERRORS = (
    "{n_errors:,} of {n:,} requests to {url} at {rate:g} requests/s failed ({rate_text}){kinds}"
)


def not_measured(params: CheckParams, measured: Measured, what: str) -> Finding:
    return params.finding(
        measured.url,
        status=Status.ERROR,
        message=NOT_MEASURED.format(
            url=measured.url,
            problem=(measured.problem or "").removeprefix(f"{measured.url}: "),
            what=what,
        ),
        remediation=FIX_NOT_MEASURED,
    )


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def graded(
    params: CheckParams, metric: str, level: float | None, *, warn: float | None = None
) -> Threshold:
    """``metric``'s threshold with the spec's level as its fail level (when given)."""
    base = params.thresholds[metric]
    return Threshold(
        metric,
        fail=level if level is not None else base.fail,
        warn=base.warn if base.warn is not None else warn,
        direction=base.direction,
    )


def _worst(
    values: Mapping[str, Metric], thresholds: list[Threshold]
) -> tuple[Status, Threshold] | None:
    """The worst grade of the defined, levelled metrics, and the threshold that gave it."""
    order = (Status.PASS, Status.WARN, Status.FAIL)
    worst: tuple[Status, Threshold] | None = None
    for t in thresholds:
        value = values.get(t.metric)
        if value is None or (t.fail is None and t.warn is None):
            continue
        status = t.grade(float(value))
        if status is not None and (worst is None or order.index(status) >= order.index(worst[0])):
            worst = (status, t)
    return worst


def _errors_text(result: LoadResult) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(result.errors.items())) or "no errors"


# ------------------------------------------------------------------------------ the checks


@check(
    "performance.latency",
    domain="performance",
    title="Tail latency at the declared peak",
    severity=Severity.MAJOR,
    thresholds=(Threshold("p95_ms"), Threshold("p99_ms")),
    requires=("performance",),
    remediation="Find what the slowest requests wait for — a queue before the model, garbage "
    "collection, a cold cache, too few workers per replica — and fix it, or add replicas; the "
    "stored series shows whether the tail is steady or comes in bursts.",
)
def latency(ctx: Context, params: CheckParams) -> list[Finding]:
    """p95 and p99 of the successful requests at ``peak_rate`` against the objectives."""
    perf = section(ctx)
    measured = load_run(ctx)
    if measured.problem is not None:
        return [not_measured(params, measured, "Latency")]
    result: LoadResult = measured.result
    evidence = (measured.evidence,) if measured.evidence else ()
    lat = result.latency
    objectives = perf.objectives
    metrics: dict[str, Metric] = {
        "p50_ms": lat.p50,
        "p90_ms": lat.p90,
        "p95_ms": lat.p95,
        "p99_ms": lat.p99,
        "p99_9_ms": lat.p99_9,
        "max_ms": lat.max,
        "mean_ms": lat.mean,
        "n_requests": result.requests,
        "n_ok": result.ok,
        "peak_rate": perf.peak_rate,
        "throughput": result.throughput,
        "p95_objective_ms": objectives.p95_ms,
        "p99_objective_ms": objectives.p99_ms,
        "send_lag_p99_ms": result.send_lag.p99,
    }
    thresholds = [
        graded(params, "p95_ms", objectives.p95_ms),
        graded(params, "p99_ms", objectives.p99_ms),
    ]
    if not lat.count:
        reason = NO_SUCCESS.format(
            url=measured.url, n=result.requests, rate=perf.peak_rate, errors=_errors_text(result)
        )
        return [
            params.finding(
                measured.url,
                status=Status.ERROR,
                message=reason + ". Latency is not verified.",
                metrics=metrics,
                undefined={
                    m: "no successful response"
                    for m in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "max_ms")
                    if metrics[m] is None
                }
                | ({"mean_ms": "no successful response"} if lat.mean is None else {})
                | _undefined_objectives(metrics),
                threshold=thresholds[1],
                evidence=evidence,
                remediation="Make the endpoint answer the spec's requests (see "
                "`performance.error_rate` for what failed), then audit again.",
            )
        ]
    shown = [f"{t.metric.removesuffix('_ms')} ≤ {t.fail:g} ms" for t in thresholds if t.fail]
    message = LATENCY.format(
        rate=perf.peak_rate,
        arrival=perf.arrival,
        n=result.requests,
        duration=perf.duration,
        url=measured.url,
        p50=_ms(lat.p50),
        p95=_ms(lat.p95),
        p99=_ms(lat.p99),
        objectives=", ".join(shown) or "none",
    )
    worst = _worst(metrics, thresholds)
    undefined = _undefined_objectives(metrics)
    if worst is None:
        return [
            params.finding(
                measured.url,
                status=Status.SKIPPED,
                message=f"{message}; {NO_OBJECTIVE}.",
                metrics=metrics,
                undefined=undefined,
                evidence=evidence,
                remediation="Declare the latency objectives of the service in "
                "`performance.objectives` and audit again.",
            )
        ]
    status, threshold = worst
    return [
        params.finding(
            measured.url,
            status=status,
            message=message + ".",
            metrics=metrics,
            undefined=undefined,
            threshold=threshold,
            evidence=evidence,
        )
    ]


def _undefined_objectives(metrics: Mapping[str, Metric]) -> dict[str, str]:
    out = {}
    for name in ("p95_objective_ms", "p99_objective_ms"):
        if metrics.get(name) is None:
            out[name] = f"no `performance.objectives.{name.removesuffix('_objective_ms')}_ms`"
    if metrics.get("send_lag_p99_ms") is None:
        out["send_lag_p99_ms"] = "no request was measured"
    return out


@check(
    "performance.error_rate",
    domain="performance",
    title="Errors at the declared peak",
    severity=Severity.MAJOR,
    thresholds=(Threshold("error_rate", fail=0.01),),
    requires=("performance",),
    remediation="Read the error kinds in the message and the stored per-second series: "
    "timeouts and refused connections under load call for more capacity or a larger queue; "
    "HTTP 5xx answers for a fix in the service; 401/403 for the key in `performance.key_env`.",
)
def error_rate(ctx: Context, params: CheckParams) -> list[Finding]:
    """The share of requests at ``peak_rate`` that failed (HTTP ≥ 400, timeouts, resets)."""
    perf = section(ctx)
    measured = load_run(ctx)
    if measured.problem is not None:
        return [not_measured(params, measured, "The error rate")]
    result: LoadResult = measured.result
    kinds = _errors_text(result) if result.errors else ""
    message = ERRORS.format(
        n_errors=result.error_count,
        n=result.requests,
        url=measured.url,
        rate=perf.peak_rate,
        rate_text=f"{result.error_rate:.2%}",
        kinds=f": {kinds}" if kinds else "",
    )
    metrics: dict[str, Metric] = {
        "error_rate": result.error_rate if result.requests else None,
        "n_requests": result.requests,
        "n_errors": result.error_count,
        "max_error_rate": perf.objectives.max_error_rate,
    }
    threshold = graded(params, "error_rate", perf.objectives.max_error_rate)
    status = threshold.grade(result.error_rate) if result.requests else None
    if status is None:
        return [
            params.finding(
                measured.url,
                status=Status.ERROR,
                message=f"{measured.url}: no request was measured at {perf.peak_rate:g} "
                "requests/s. The error rate is not verified.",
                metrics=metrics,
                undefined={"error_rate": "no request was measured"},
                threshold=threshold,
                evidence=(measured.evidence,) if measured.evidence else (),
                remediation="Lengthen `performance.duration` or raise `peak_rate`.",
            )
        ]
    return [
        params.finding(
            measured.url,
            status=status,
            message=message + ".",
            metrics=metrics,
            threshold=threshold,
            evidence=(measured.evidence,) if measured.evidence else (),
        )
    ]
