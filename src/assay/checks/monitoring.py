"""Monitoring readiness: is the live watch wired before launch, and does it really fire?

* ``monitoring.baseline`` stores what the monitor compares live traffic against: the
  reference dataset's per-feature bins and category shares, the score and prediction
  distributions, the audited accuracy and the latency objectives (``monitor/baseline.json``,
  an artefact of the run; ``assay monitor serve`` reads it from the run it watches).
* ``monitoring.readiness`` passes for a signal only when it has a rule, the rule has an
  automated action, an owner and a runbook link, and — for signals a drill exercises — a
  passing drill (``assay monitor drill``) younger than ``monitor.drill_max_age_days`` is in
  the evidence repository.

The audit path does not import :mod:`assay.monitor`: drill records are read from the evidence
repository (attachments of kind ``monitor_drill``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assay.checks._context import Context
from assay.checks._registry import CheckParams, Finding, Severity, Status, check
from assay.spec.monitor import DRILL_SCENARIOS, SIGNALS, Monitor

BASELINE_ARTEFACT = "monitor/baseline.json"
DRILL_KIND = "monitor_drill"
"""Evidence attachment kind of a drill record (``drill.json``)."""

#: Signals every monitored system must watch; ``kpi_out_of_band`` joins when KPIs are declared.
REQUIRED_SIGNALS = ("input_shift", "score_shift", "accuracy_drop", "latency_spike",
                    "suspicious_output", "security_anomaly")  # fmt: skip


@check(
    "monitoring.baseline",
    domain="monitoring",
    title="The live watch has a baseline: reference bins, score distribution, accuracy",
    severity=Severity.MAJOR,
    requires=("monitor", "datasets"),
    after_checks=True,
    remediation="Name the reference dataset in `monitor.reference` (a dataset of the spec) so "
    "the monitor has a profile to compare live traffic with.",
)
def baseline(ctx: Context, params: CheckParams) -> list[Finding]:
    """Build the monitor's baseline from the reference dataset's profile and store it."""
    from assay.profiles.baseline import Baseline

    monitor = ctx.spec.monitor
    assert monitor is not None
    name = monitor.reference
    if name not in ctx.spec.datasets:
        return [
            params.finding(
                subject=name,
                status=Status.FAIL,
                message=f"monitor.reference names {name!r}, which is not a dataset of the spec "
                f"(datasets: {', '.join(ctx.spec.datasets)}).",
            )
        ]
    ds = ctx.spec.datasets[name]
    objectives = ctx.spec.performance.objectives if ctx.spec.performance else None
    built = Baseline.from_profile(
        ctx.profile(name),
        features=monitor.detection.features,
        target=ds.target,
        prediction=ds.prediction,
        score=ds.score,
        accuracy=_audited_accuracy(ctx),
        latency_p95_ms=objectives.p95_ms if objectives else None,
        latency_p99_ms=objectives.p99_ms if objectives else None,
    )
    ref = ctx.add_artefact(BASELINE_ARTEFACT, built.to_json(), "application/json")
    metrics: dict[str, float | int | None] = {
        "n_features": len(built.features),
        "reference_rows": ctx.profile(name).rows,
        "accuracy": built.accuracy,
    }
    message = f"Baseline of {len(built.features)} features from {name!r} stored for the monitor" + (
        f"; audited accuracy {built.accuracy:.4f}." if built.accuracy is not None else "."
    )
    return [
        params.finding(
            subject=name, status=Status.PASS, message=message, metrics=metrics, evidence=(ref,)
        )
    ]


def _audited_accuracy(ctx: Context) -> float | None:
    """The accuracy ``model.performance`` measured on a test dataset, if it ran."""
    for finding in ctx.findings:
        if finding.check_id == "model.performance":
            value = finding.metrics.get("accuracy")
            if isinstance(value, int | float):
                return float(value)
    return None


@dataclass(frozen=True)
class _Drill:
    scenario: str
    passed: bool
    finished: float
    ref: str


@check(
    "monitoring.readiness",
    domain="monitoring",
    title="Every live signal has a rule, an action, an owner, a runbook and a recent drill",
    severity=Severity.MAJOR,
    requires=("monitor",),
    remediation="Add the missing rule fields in `monitor.rules` and run "
    "`assay monitor drill --scenario all` against the service; a drill older than "
    "`monitor.drill_max_age_days` no longer counts.",
)
def readiness(ctx: Context, params: CheckParams) -> list[Finding]:
    """One finding per required signal: what it lacks, or that it is ready."""
    monitor = ctx.spec.monitor
    assert monitor is not None
    now = (ctx.now or datetime.now(UTC)).timestamp()
    drills = _latest_drills(ctx)
    signals = list(REQUIRED_SIGNALS) + (["kpi_out_of_band"] if monitor.kpis else [])
    return [_signal_readiness(ctx, params, monitor, s, drills, now) for s in signals]


def _signal_readiness(
    ctx: Context,
    params: CheckParams,
    monitor: Monitor,
    signal: str,
    drills: dict[str, _Drill],
    now: float,
) -> Finding:
    assert signal in SIGNALS
    rules = [r for r in monitor.rules if r.signal == signal]
    missing: list[str] = []
    if not rules:
        missing.append("no rule watches it")
    else:
        if not any(r.actions for r in rules):
            missing.append("no rule has an automated action")
        if not any(r.owner or ctx.spec.owners.monitoring or ctx.spec.owners.default for r in rules):
            missing.append("no owner")
        if not any(r.runbook for r in rules):
            missing.append("no runbook link")
    metrics: dict[str, float | int | None] = {"rules": len(rules)}
    evidence: tuple[str, ...] = ()
    if signal in DRILL_SCENARIOS:
        drill = drills.get(signal)
        max_age = monitor.drill_max_age_days
        if drill is None:
            missing.append("no drill on record (`assay monitor drill`)")
        else:
            age_days = max(0.0, (now - drill.finished) / 86_400)
            metrics["drill_age_days"] = round(age_days, 3)
            metrics["drill_passed"] = int(drill.passed)
            evidence = (drill.ref,)
            if not drill.passed:
                missing.append("its last drill failed")
            elif age_days > max_age:
                missing.append(f"its last passing drill is {age_days:.1f} days old (> {max_age:g})")
    if missing:
        return params.finding(
            subject=signal,
            status=Status.FAIL,
            message=f"Signal {signal} is not ready: {'; '.join(missing)}.",
            metrics=metrics,
            evidence=evidence,
        )
    return params.finding(
        subject=signal,
        status=Status.PASS,
        message=f"Signal {signal} has {len(rules)} rule(s) with actions, an owner and a runbook"
        + ("; its last drill passed." if signal in DRILL_SCENARIOS else "."),
        metrics=metrics,
        evidence=evidence,
    )


def _latest_drills(ctx: Context) -> dict[str, _Drill]:
    """The newest drill record per scenario in the evidence repository."""
    repo = ctx.repository
    if repo is None:
        return {}
    found: dict[str, _Drill] = {}
    for stored in repo.attachments_of_kind(DRILL_KIND, limit=200):
        for file in stored.attachment.files:
            if not file.name.endswith(".json"):
                continue
            record: dict[str, Any] = json.loads(repo.get(file.sha256))
            scenario = str(record.get("scenario", ""))
            if scenario and scenario not in found:
                found[scenario] = _Drill(
                    scenario=scenario,
                    passed=bool(record.get("passed")),
                    finished=float(record.get("finished", 0.0)),
                    ref=f"sha256:{file.sha256}",
                )
    return found
