"""Drills: prove, against the real service, that each expected automated action fires within
its deadline and that an incident nobody acknowledges escalates — and keep the proof.

A drill of one *scenario* (``input_shift``, ``accuracy_drop``, ``latency_spike``,
``suspicious_output``, ``security_anomaly``;
:data:`~assay.monitor.drill_scenarios.SCENARIOS`):

1. reads what the spec expects: the rules watching the scenario's signal, their actions, their
   acknowledgement deadlines and the escalation levels (a signal no rule watches fails the
   drill with "no rule watches <signal>");
2. sends seeded synthetic traffic, drawn from the baseline the service watches and shaped to
   trip the signal, through the HTTP API (``POST /v1/events``, ``/v1/labels``; failing
   requests for the authentication part). Every id is marked: events
   ``drill-<scenario>-<run>-0000001``, sessions ``drill-<scenario>-<run>-s3``, key ids
   ``drill-<scenario>-<run>-k0``, so drill traffic can be told from real traffic in the store;
3. verifies through the HTTP API only (so it works against a remote service): an incident
   opened for every expected rule, every expected action in the action log with outcome
   ``ok`` within :data:`ACTION_DEADLINE_S` seconds of the end of the traffic that closed the
   window, and — without acknowledging — an ``escalation`` entry on each incident's timeline
   once its acknowledgement deadline has passed (for a level with a webhook, delivered);
4. cleans up: resolves the incidents it opened (note "drill …"), puts the route and degraded
   mode back as it found them (``POST /v1/route``, a human step in the action log);
5. returns a record (:func:`run_drills`; format in docs/monitor-drills.md) and stores it:
   directly (:func:`assay.monitor.drill_routes.store_record`) for an in-process service, else
   with ``POST /v1/drills``. The ``monitoring.readiness`` check reads the records.

Time: against a service on a :class:`~assay.monitor.clock.ManualClock` (in-process, tests)
the drill moves the clock past time windows and acknowledgement deadlines
(:class:`~assay.monitor.drill_client.ManualTime`); against one running on ``--time-scale S`` it
waits ``seconds / S`` (:class:`~assay.monitor.drill_client.WallTime`), and fails at once when
that would exceed ``--timeout``.

This module runs drills (:func:`run_drills`, :func:`run_scenario`) and re-exports the names of
the modules a drill is made of: :mod:`~assay.monitor.drill_expectations` (step 1),
:mod:`~assay.monitor.drill_scenarios` (the scenario table and its traffic, step 2),
:mod:`~assay.monitor.drill_driver` (:class:`_Drill`: the service's time, sending, sizes),
:mod:`~assay.monitor.drill_verify` (steps 3 and 4) and :mod:`~assay.monitor.drill_client`
(the clock, the service client, the seeded traffic).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from assay.errors import AssayError
from assay.monitor.drill_client import (
    ACTION_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    FORMAT,
    DrillResult,
    DrillSetupError,
    Target,
    TrafficGenerator,
    _Api,
    _ScenarioError,
)
from assay.monitor.drill_driver import _Drill as _Drill
from assay.monitor.drill_expectations import expectation as expectation
from assay.monitor.drill_expectations import expected_rules as expected_rules
from assay.monitor.drill_expectations import expected_subject as expected_subject
from assay.monitor.drill_expectations import rule_stream as rule_stream
from assay.monitor.drill_scenarios import SCENARIOS as SCENARIOS
from assay.monitor.drill_scenarios import Scenario as Scenario
from assay.monitor.drill_verify import _cleanup, _Found, _incident_entry, _verify
from assay.profiles.baseline import Baseline
from assay.spec import Spec
from assay.spec.monitor import DRILL_SCENARIOS

# ---------------------------------------------------------------------------- one scenario


def run_scenario(
    spec: Spec,
    baseline: Baseline,
    api: _Api,
    target: Target,
    scenario: str,
    *,
    run: str,
    seed: int,
    timeout: float,
    action_deadline: float,
) -> dict[str, Any]:
    """Drill one scenario; the record (see the module docstring)."""
    assert spec.monitor is not None
    started = time.time()
    d = _Drill(
        spec=spec,
        baseline=baseline,
        api=api,
        target=target,
        scenario=scenario,
        run=run,
        seed=seed,
        timeout=timeout,
        action_deadline=action_deadline,
    )
    expected = expectation(spec, scenario, key_id=d.gen.key, action_deadline=action_deadline)
    observed: dict[str, Any] = {"incidents": [], "traffic": d.traffic}
    unsupported = _unsupported(d.gen, scenario)
    if not d.rules:
        d.failures.append(f"no rule watches {scenario} (add one to monitor.rules)")
    elif unsupported:
        d.failures.append(unsupported)
    else:
        try:
            _drill(d, observed)
        except _ScenarioError as exc:
            d.failures.append(str(exc))
    finished = time.time()
    d.timings["total_s"] = round(time.monotonic() - d.began, 3)
    if target.service_log is not None:
        logged = target.service_log()
        observed["service_log"] = logged[:20]
        if logged:
            d.warnings.append(
                f"the service logged {len(logged)} warning(s) or error(s) during the drill; "
                f"the first: {logged[0]}"
            )
    return {
        "format": FORMAT,
        "scenario": scenario,
        "run": run,
        "started": started,
        "finished": finished,
        "passed": not d.failures,
        "expected": expected,
        "observed": observed,
        "timings": d.timings,
        "failures": d.failures,
        "warnings": d.warnings,
        "service": target.url,
        "mode": "in-process" if target.in_process else "remote",
        "time_scale": None if target.time.manual else target.time.scale,
        "seed": seed,
        "traffic": SCENARIOS[scenario].traffic,
    }


def _unsupported(gen: TrafficGenerator, scenario: str) -> str | None:
    if scenario == "input_shift" and not gen.features:
        return "the baseline summarises no feature, so the service cannot measure input_shift"
    return None


def _drill(d: _Drill, observed: dict[str, Any]) -> None:
    blocked = d.blockers()
    if blocked:
        d.failures.extend(blocked)
        return
    found_before = d.api.json("GET", "/v1/incidents", params={"limit": 1})
    max_id = max((int(i["id"]) for i in found_before), default=0)
    route_before = d.api.json("GET", "/v1/route")
    began = time.monotonic()
    found: list[_Found] = []
    try:
        try:
            SCENARIOS[d.scenario].drive(d)
        finally:
            d.timings["traffic_s"] = round(time.monotonic() - began, 3)
        traffic_end = time.monotonic()
        found = _verify(d, max_id, traffic_end)
        seen = [f.seen_after_s for f in found if f.seen_after_s is not None]
        recorded = [
            a["recorded_after_s"]
            for f in found
            for a in f.actions.values()
            if "recorded_after_s" in a
        ]
        d.timings["incidents_s"] = round(max(seen), 3) if seen else None
        d.timings["actions_s"] = max(recorded) if recorded else None
        escalated = [f.escalation["seen_after_s"] for f in found if f.escalation]
        d.timings["escalation_wait_s"] = max(escalated) if escalated else None
    finally:
        observed["incidents"] = [_incident_entry(f) for f in found]
        try:
            observed["cleanup"] = _cleanup(d, found, max_id, route_before)
        except _ScenarioError as exc:  # keep the first failure; say the cleanup failed too
            d.failures.append(f"the drill could not clean up after itself: {exc}")


def new_run_id() -> str:
    """A drill run's id: UTC time and 4 hex digits (marks the ids of its traffic)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + secrets.token_hex(2)


def run_drills(
    spec: Spec,
    baseline: Baseline,
    target: Target,
    scenarios: Sequence[str] = DRILL_SCENARIOS,
    *,
    seed: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    action_deadline: float = ACTION_DEADLINE_S,
    run: str | None = None,
    on_result: Callable[[DrillResult], None] | None = None,
) -> list[DrillResult]:
    """Drill ``scenarios`` one after the other against ``target`` and store each record
    (``target.store``, else ``POST /v1/drills``). ``seed`` defaults to the spec's."""
    if spec.monitor is None:
        raise DrillSetupError("the spec has no `monitor:` section, so there is nothing to drill")
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise DrillSetupError(
            f"unknown scenario {unknown[0]!r}; scenarios: {', '.join(SCENARIOS)} (or all)"
        )
    if timeout <= 0 or action_deadline <= 0:
        raise DrillSetupError("--timeout and the action deadline must be positive")
    seed = spec.seed if seed is None else seed
    run = run or new_run_id()
    api = _Api(target)
    results = []
    try:
        for scenario in scenarios:
            record = run_scenario(
                spec,
                baseline,
                api,
                target,
                scenario,
                run=run,
                seed=seed,
                timeout=timeout,
                action_deadline=action_deadline,
            )
            result = DrillResult(record)
            try:
                if target.store is not None:
                    result.stored = target.store(record)
                else:
                    result.stored = api.json("POST", "/v1/drills", body=record)
            except (_ScenarioError, ValueError, OSError, AssayError) as exc:
                result.store_error = f"the record could not be stored: {exc}"
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        api.close()
    return results
