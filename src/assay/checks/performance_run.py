"""The load tests the performance checks share: one run at the declared peak, one saturation
search, each run at most once per audit and kept in ``ctx.jobs``.

Both run in the foreground, when the first check that needs them runs: a load test measures
the endpoint's latency, and background work of the audit competing for the same cores would
distort it. The endpoint, its request bodies and the key come from the spec's
``performance:`` section (docs/spec.md#performance); the key is read from the environment,
sent, and never stored — evidence names only the variable.

A load test that cannot start (the endpoint is unreachable, a body template is malformed, a
load-generator worker fails) is kept as its problem, and every check reports it as an
``error`` finding naming the URL; a server that fails during the test is measured: the test
completes and its errors are counted.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from assay.checks._context import Context
from assay.errors import AssayError
from assay.loadtest import (
    LoadResult,
    Objective,
    SaturationResult,
    Schedule,
    Target,
    check_reachable,
    find_saturation,
    make_target,
    run_load,
)
from assay.loadtest.result import decode
from assay.spec.models import Performance

LOAD_JOB = "performance.load"
SATURATION_JOB = "performance.saturation"
"""Keys of the shared runs in ``ctx.jobs``."""

LOAD_ARTEFACT = "performance/load.json"
SATURATION_ARTEFACT = "performance/saturation.json"
HPA_ARTEFACT = "performance/hpa.yaml"

ROW_LIMIT = 1_000
"""Request bodies rendered from a dataset's first rows at most (the requests cycle through them)."""

SPECTRUM = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999)
"""Percentiles stored as the latency spectrum (the report draws them on a "nines" axis)."""

NO_ROWS = (
    "performance.data names {name!r}, which has no rows to read (only a stored profile). "
    "Point `data:` at a dataset with rows, or give a fixed `body:`."
)


@dataclass(frozen=True)
class Measured:
    """A load run shared by the checks: its result and evidence, or why it did not run."""

    url: str
    result: Any = None
    """A :class:`LoadResult` (peak run) or :class:`SaturationResult` (search); ``None`` on a
    problem."""
    problem: str | None = None
    evidence: str | None = None


def section(ctx: Context) -> Performance:
    perf = ctx.spec.performance
    assert perf is not None
    return perf


def endpoint_url(ctx: Context) -> str:
    """The loaded URL: ``performance.url``, else ``serving.url``; any user:password removed."""
    perf = section(ctx)
    url = perf.url or (ctx.spec.serving.url if ctx.spec.serving else "")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        url = urlunsplit(parts._replace(netloc=netloc))
    return url


def key_source(
    perf: Performance, environ: Mapping[str, str] | None = None
) -> tuple[str | None, str]:
    """The key and where it came from, or why none is sent (the second is safe to store)."""
    environ = os.environ if environ is None else environ
    if perf.key_env is None:
        return None, "no `key_env`"
    key = environ.get(perf.key_env) or None
    if key is None:
        return None, f"not sent: environment variable {perf.key_env} is not set"
    return key, f"environment variable {perf.key_env}"


def build_target(ctx: Context) -> Target:
    """The endpoint, method, auth header and request bodies the spec declares."""
    perf = section(ctx)
    url = perf.url or (ctx.spec.serving.url if ctx.spec.serving else "")
    headers: list[tuple[str, str]] = []
    key, _ = key_source(perf)
    if key is not None:
        scheme = perf.auth_scheme.strip()
        headers.append((perf.auth_header, f"{scheme} {key}" if scheme else key))
    if perf.data is not None:
        return make_target(
            url,
            method=perf.method,
            headers=headers,
            template=perf.template or "$row",
            rows=_rows(ctx, perf.data),
        )
    body = perf.body
    if body is None and perf.method == "POST" and ctx.spec.serving is not None:
        body = ctx.spec.serving.request
    return make_target(
        url,
        method=perf.method,
        headers=headers,
        body=body.encode("utf-8") if body is not None else None,
    )


def _rows(ctx: Context, name: str) -> list[dict[str, Any]]:
    from assay.checks._evaluation import model_features

    if not ctx.has_rows(name):
        raise AssayError(NO_ROWS.format(name=name))
    table = ctx.table(name, model_features(ctx, name, ctx.model))
    return list(table.slice(0, ROW_LIMIT).to_pylist())


def objective(perf: Performance) -> Objective:
    o = perf.objectives
    return Objective(p99_ms=o.p99_ms, p95_ms=o.p95_ms, max_error_rate=o.max_error_rate)


def rates(perf: Performance) -> list[float]:
    """The saturation search's offered rates: ``start``, ``start + step`` … up to ``stop``."""
    assert perf.saturation is not None
    r = perf.saturation
    count = math.floor((r.stop - r.start) / r.step + 1e-9) + 1
    return [round(r.start + i * r.step, 9) for i in range(count)]


def _settings(ctx: Context, source: str) -> dict[str, Any]:
    """What was asked of the test, as stored with its result (never the key)."""
    perf = section(ctx)
    return {
        "url": endpoint_url(ctx),
        "method": perf.method,
        "bodies": "rows of dataset " + perf.data if perf.data else "fixed body",
        "auth_header": perf.auth_header if perf.key_env else None,
        "key": source,
        "peak_rate": perf.peak_rate,
        "arrival": perf.arrival,
        "duration": perf.duration,
        "warmup": perf.warmup,
        "workers": perf.workers,
        "connections": perf.connections,
        "timeout": perf.timeout,
        "seed": ctx.spec.seed,
        "objectives": perf.objectives.model_dump(),
        "replicas": perf.replicas,
        "headroom": perf.headroom,
    }


def spectrum(result: LoadResult) -> list[dict[str, float | None]]:
    """Latency (ms) at each of :data:`SPECTRUM`'s percentiles, from the merged histogram."""
    if not result.latency.count:
        return [{"percentile": q, "latency_ms": None} for q in SPECTRUM]
    hist = decode(result.histogram)
    return [
        {"percentile": q, "latency_ms": hist.get_value_at_percentile(q) / 1000.0} for q in SPECTRUM
    ]


def _cached(ctx: Context, key: str, work: Any) -> Measured:
    if key not in ctx.jobs:
        future: Future[Measured] = Future()
        try:
            future.set_result(work(ctx))
        except Exception as exc:  # kept: every check that asks reports the same error
            future.set_exception(exc)
        ctx.jobs[key] = future
    measured: Measured = ctx.jobs[key].result()
    return measured


def load_run(ctx: Context) -> Measured:
    """The audit's open-loop test at ``peak_rate``, run once and shared."""
    return _cached(ctx, LOAD_JOB, _load)


def saturation_run(ctx: Context) -> Measured:
    """The audit's saturation search over ``saturation:``'s rates, run once and shared.

    Not run when the test at the peak could not start (its problem is reported instead).
    """
    return _cached(ctx, SATURATION_JOB, _saturation)


def _load(ctx: Context) -> Measured:
    perf = section(ctx)
    url = endpoint_url(ctx)
    try:
        target = build_target(ctx)
        check_reachable(target, timeout=min(perf.timeout, 5.0))
        schedule = Schedule(
            rate=perf.peak_rate,
            duration=perf.duration,
            warmup=perf.warmup,
            arrival=perf.arrival,
            seed=ctx.spec.seed,
        )
        result = run_load(
            target,
            schedule,
            workers=perf.workers,
            connections=perf.connections,
            timeout=perf.timeout,
        )
    except AssayError as exc:
        return Measured(url, problem=str(exc).rstrip("."))
    _, source = key_source(perf)
    record = {
        **result.to_json(),
        "url": url,
        "settings": _settings(ctx, source),
        "objectives": objective(perf).to_json(),
        "misses": list(objective(perf).misses(result)),
        "spectrum": spectrum(result),
    }
    return Measured(url, result, evidence=ctx.add_artefact(LOAD_ARTEFACT, record))


def _saturation(ctx: Context) -> Measured:
    perf = section(ctx)
    peak = load_run(ctx)
    if peak.problem is not None:
        return Measured(peak.url, problem=peak.problem)
    try:
        search = find_saturation(
            build_target(ctx),
            rates(perf),
            objective(perf),
            duration=perf.duration,
            warmup=perf.warmup,
            arrival=perf.arrival,
            seed=ctx.spec.seed,
            workers=perf.workers,
            connections=perf.connections,
            timeout=perf.timeout,
        )
    except AssayError as exc:
        return Measured(peak.url, problem=str(exc).rstrip("."))
    _, source = key_source(perf)
    record = {
        **search.to_json(),
        "url": peak.url,
        "rates": rates(perf),
        "settings": _settings(ctx, source),
    }
    for step in record["steps"]:
        step["url"] = peak.url
    return Measured(peak.url, search, evidence=ctx.add_artefact(SATURATION_ARTEFACT, record))


def per_replica(search: SaturationResult, replicas: int) -> float | None:
    """The saturation rate of one replica (the search measured ``replicas`` of them)."""
    rate = search.saturation_rate
    return rate / replicas if rate is not None else None


def replicas_needed(peak: float, headroom: float, per_replica: float) -> int:
    """``ceil(peak × headroom / per_replica)``, at least 1 (rounding noise ignored)."""
    return max(1, math.ceil(peak * headroom / per_replica - 1e-9))


def hpa_manifest(
    perf: Performance, search: SaturationResult, *, per: float, needed: int, replicas: int
) -> str:
    """An ``autoscaling/v2`` HorizontalPodAutoscaler for the recommendation, as YAML.

    The figures it rests on are in a comment on top and in ``assay/…`` annotations.
    """
    scaling = perf.autoscaling
    objectives = perf.objectives
    met = ", ".join(
        f"{name} ≤ {value:g} ms"
        for name, value in (("p95", objectives.p95_ms), ("p99", objectives.p99_ms))
        if value is not None
    )
    met = (met + ", " if met else "") + f"errors ≤ {objectives.max_error_rate:.2%}"
    header = [
        "# Autoscaling recommendation written by Assay (assay audit: performance.autoscaling).",
        f"# Measured: {search.saturation_rate:g} requests/s met the objectives ({met})",
        f"#   with {perf.replicas} replica(s): {per:g} requests/s per replica"
        + ("." if search.saturated else " (a lower bound: no rate tried missed them)."),
        f"# Replicas: ceil(peak {perf.peak_rate:g} × headroom {perf.headroom:g} / {per:g}) = "
        f"{needed}; minReplicas {scaling.min_replicas}, maxReplicas {replicas}.",
        "# The HPA scales on CPU; check that CPU tracks load for this model.",
    ]
    document = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": scaling.name,
            "namespace": scaling.namespace,
            "annotations": {
                "assay/saturation-rate-per-replica": f"{per:g}",
                "assay/peak-rate": f"{perf.peak_rate:g}",
                "assay/headroom": f"{perf.headroom:g}",
                "assay/replicas-needed": str(needed),
            },
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": scaling.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body
