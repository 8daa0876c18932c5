"""Drills: prove, against the real service, that each expected automated action fires within
its deadline and that an incident nobody acknowledges escalates — and keep the proof.

A drill of one *scenario* (``input_shift``, ``accuracy_drop``, ``latency_spike``,
``suspicious_output``, ``security_anomaly``; :data:`SCENARIOS`):

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
(:class:`ManualTime`); against one running on ``--time-scale S`` it waits
``seconds / S`` (:class:`WallTime`), and fails at once when that would exceed ``--timeout``.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from assay.errors import AssayError
from assay.monitor.drill_client import (
    ACTION_DEADLINE_S,
    AUTH_METRICS,
    BACKGROUND_KEYS,
    BATCH_EVENTS,
    BURST_SHARE,
    DEFAULT_TIMEOUT_S,
    ESCALATION_SLACK_S,
    FORMAT,
    LOW_SHARE,
    NUDGE_AFTER_S,
    SHIFT_STDS,
    SUBJECTS,
    SYNC_STEPS,
    TIME_WINDOW_UNITS,
    DrillResult,
    DrillSetupError,
    ManualTime,
    Target,
    TrafficGenerator,
    WallTime,
    _Api,
    _error_text,
    _ScenarioError,
)
from assay.monitor.drill_verify import _cleanup, _Found, _incident_entry, _verify
from assay.monitor.webhooks import CLAIM_SECONDS
from assay.profiles.baseline import Baseline
from assay.spec import Spec
from assay.spec.monitor import DRILL_SCENARIOS, Monitor, Rule, Window, window_key

# --------------------------------------------------------------------------- expectations


def rule_stream(rule: Rule) -> str:
    """What a rule's window counts: ``events``, ``labels`` or ``auth`` (requests)."""
    if rule.signal == "accuracy_drop":
        return "labels"
    if rule.signal == "security_anomaly" and rule.condition.metric in AUTH_METRICS:
        return "auth"
    return "events"


def expected_rules(monitor: Monitor, scenario: str) -> list[Rule]:
    return [r for r in monitor.rules if r.signal == scenario]


def expected_subject(rule: Rule, key_id: str | None) -> str | None:
    """The subject a drill trips ``rule`` on (``key_id``: the drill's bursting key)."""
    if rule.signal == "security_anomaly":
        return "auth" if rule.condition.metric in AUTH_METRICS else key_id
    return SUBJECTS.get(rule.signal)


def expectation(
    spec: Spec, scenario: str, *, key_id: str | None, action_deadline: float
) -> dict[str, Any]:
    """What the spec expects of a scenario: its rules, their actions and the escalation."""
    monitor = spec.monitor
    assert monitor is not None
    default_owner = spec.owner_for("monitoring")
    levels = [
        {"name": lv.name, "webhook": lv.webhook is not None, "after_minutes": lv.after_minutes}
        for lv in monitor.escalation
    ]
    rules = []
    for rule in expected_rules(monitor, scenario):
        rules.append(
            {
                "rule": rule.name,
                "when": rule.when,
                "window": window_key(monitor.window_of(rule)),
                "subject": expected_subject(rule, key_id),
                "severity": str(rule.severity),
                "owner": rule.owner or default_owner,
                "actions": list(rule.actions),
                "ack_within_minutes": rule.ack_within_minutes,
                "first_escalation": levels[0]["name"] if levels else None,
            }
        )
    return {
        "signal": scenario,
        "rules": rules,
        "escalation": levels,
        "action_deadline_s": action_deadline,
        "escalation_slack_s": ESCALATION_SLACK_S,
    }


# ------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class Scenario:
    """One drill: what traffic it sends, and which signal that must trip."""

    name: str
    traffic: str
    drive: Callable[[_Drill], None]


def _drive_input_shift(d: _Drill) -> None:
    n = d.units("events")
    d.post_events(lambda k, now: d.gen.events(k, now=now, mode="shift"), n)
    d.close_time_windows("events")


def _drive_accuracy_drop(d: _Drill) -> None:
    n = d.units("labels")
    sent: list[dict[str, Any]] = []

    def make(k: int, now: float) -> list[dict[str, Any]]:
        batch = d.gen.events(k, now=now)
        sent.extend(batch)
        return batch

    d.post_events(make, n)
    d.post_labels([(e["id"], d.gen.wrong_label(e)) for e in sent])
    d.close_time_windows("labels")


def _drive_latency_spike(d: _Drill) -> None:
    n = d.units("events")
    spike = d.spike_latency_ms()
    d.post_events(lambda k, now: d.gen.events(k, now=now, latency_ms=spike), n)
    d.close_time_windows("events")


def _drive_suspicious_output(d: _Drill) -> None:
    n = d.units("events")
    d.post_events(lambda k, now: d.gen.events(k, now=now, suspicious=True), n)
    d.close_time_windows("events")


def _drive_security_anomaly(d: _Drill) -> None:
    d.auth_burst()
    d.key_burst()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "input_shift",
            f"numeric features shifted {SHIFT_STDS:g} reference std (kept in range), the "
            "rarest category of each categorical feature taking all the traffic",
            _drive_input_shift,
        ),
        Scenario(
            "accuracy_drop",
            "normal events, then a label for each that its prediction gets wrong",
            _drive_accuracy_drop,
        ),
        Scenario(
            "latency_spike",
            "latencies far above the objective (or 10x the drill's normal p99, or twice a "
            "rule's threshold, whichever is highest)",
            _drive_latency_spike,
        ),
        Scenario(
            "suspicious_output",
            "output texts with a synthetic e-mail address and card number, NaN or "
            "out-of-range predictions, out-of-distribution inputs in every other event",
            _drive_suspicious_output,
        ),
        Scenario(
            "security_anomaly",
            "a burst of requests with unknown, malformed or missing keys, then one key id "
            "sending far above its baseline share of the traffic",
            _drive_security_anomaly,
        ),
    )
}
assert tuple(SCENARIOS) == DRILL_SCENARIOS


# ---------------------------------------------------------------------------- one scenario


class _Drill:
    """One scenario run against the service."""

    def __init__(
        self,
        *,
        spec: Spec,
        baseline: Baseline,
        api: _Api,
        target: Target,
        scenario: str,
        run: str,
        seed: int,
        timeout: float,
        action_deadline: float,
    ) -> None:
        assert spec.monitor is not None
        self.spec = spec
        self.monitor: Monitor = spec.monitor
        self.baseline = baseline
        self.api = api
        self.target = target
        self.time = target.time
        self.scenario = scenario
        self.run = run
        self.seed = seed
        self.timeout = timeout
        self.action_deadline = action_deadline
        self.rules = expected_rules(self.monitor, scenario)
        self.gen = TrafficGenerator(
            baseline,
            self.monitor,
            seed=seed,
            scenario=scenario,
            run=run,
            normal_latency_ms=self._normal_latency_ms(),
        )
        self.began = time.monotonic()
        self.failures: list[str] = []
        self.warnings: list[str] = []
        self.traffic: dict[str, Any] = {
            "events": 0,
            "labels": 0,
            "auth_requests": 0,
            "id_prefix": self.gen.prefix,
            "keys": [self.gen.key],
        }
        self.timings: dict[str, float | None] = {}
        self.clock_offset: tuple[float, float] | None = None  # (service now, monotonic)
        self.batch = max(1, min(BATCH_EVENTS, self.monitor.limits.max_batch))
        self.nudged = 0

    # time ----------------------------------------------------------------------------------

    def left(self) -> float:
        return self.timeout - (time.monotonic() - self.began)

    def service_now(self, *, fresh: bool = False) -> float:
        """The service's clock: read from ``GET /v1/summary`` (once, then extrapolated at
        the time scale, unless ``fresh``). A fresh reading also checks the time scale."""
        if isinstance(self.time, ManualTime):
            return self.time.clock.now()
        if self.clock_offset is None or fresh:
            mono = time.monotonic()
            now = float(self.api.json("GET", "/v1/summary")["now"])
            if self.clock_offset is not None:
                self._check_scale(now, mono)
            self.clock_offset = (now, mono)
        service, mono = self.clock_offset
        return service + (time.monotonic() - mono) * self.time.scale

    def _check_scale(self, now: float, mono: float) -> None:
        """Compare the service clock's pace with the time scale the drill was given."""
        assert self.clock_offset is not None
        before, then = self.clock_offset
        real = mono - then
        if real < 1.0:
            return
        measured = (now - before) / real
        if measured < 1e-3:
            raise _ScenarioError(
                "the service's clock does not move (it runs on a manual test clock?); its "
                "acknowledgement deadlines can never pass. Drill a service on wall time or "
                "--time-scale."
            )
        if abs(measured / self.time.scale - 1.0) > 0.25:
            self.warnings.append(
                f"the service's clock runs {measured:.3g}x real time, not the "
                f"{self.time.scale:g}x given with --time-scale; the drill waits by the measured "
                "pace"
            )
            self.time = WallTime(measured)

    def pass_time(self, service_seconds: float, why: str) -> None:
        """Let ``service_seconds`` pass on the service's clock (moved, or waited for)."""
        real = self.time.real_seconds(service_seconds)
        if real > self.left():
            raise _ScenarioError(
                f"{why} takes {service_seconds:g} s of the service's time, which at time scale "
                f"{self.time.scale:g} is {real:.0f} s — more than the {self.left():.0f} s "
                f"--timeout leaves. Run the service with --time-scale "
                f"{math.ceil(service_seconds / max(self.left() / 2, 1.0))} or more, or raise "
                "--timeout."
            )
        self.time.pass_time(service_seconds)

    def nudge_outbox(self, since: float, what: str) -> None:
        """On a manual clock nothing in the outbox is retried or re-claimed while the drill
        waits (its times are on the service's clock). After :data:`NUDGE_AFTER_S` real
        seconds, move the clock past the outbox's claim once, as the time a running service
        would spend; the record says so (a delivery whose outcome was not recorded shows
        up this way)."""
        if not self.time.manual or self.nudged >= 2 or time.monotonic() - since < NUDGE_AFTER_S:
            return
        self.nudged += 1
        step = CLAIM_SECONDS + 1.0
        self.time.pass_time(step)
        self.warnings.append(
            f"{what} was still waiting in the webhook outbox {NUDGE_AFTER_S:g} s after the "
            f"traffic; the drill moved the service's manual clock {step:g} s on so the outbox "
            "retried it, as a running service would (look in the service log for a delivery "
            "whose outcome was not recorded)"
        )

    # sizes ---------------------------------------------------------------------------------

    def _stream_windows(self, stream: str) -> list[Window]:
        if self.scenario == "security_anomaly":
            return [self.monitor.window_of(r) for r in self.rules]
        return [self.monitor.window_of(r) for r in self.rules if rule_stream(r) == stream]

    def units(self, stream: str) -> int:
        """Units to send so every rule window closes with one window of drill traffic only:
        twice the largest count window (whatever was in the window before), else
        :data:`TIME_WINDOW_UNITS` for time windows."""
        counts = [w.events for w in self._stream_windows(stream) if w.events is not None]
        if counts:
            return 2 * max(counts)
        return TIME_WINDOW_UNITS

    def step(self, stream: str) -> int:
        """The batch size: at most one count window of ``stream`` per request, so each
        window's observation reaches the service's rules on its own (one that fails to be
        handled does not take the next window's with it)."""
        counts = [w.events for w in self._stream_windows(stream) if w.events is not None]
        return max(1, min([self.batch, *counts]))

    def close_time_windows(self, stream: str) -> None:
        """Move time past the end of every time-only window (count windows closed already)."""
        durations = [
            w.duration_s
            for w in self._stream_windows(stream)
            if w.events is None and w.duration_s is not None
        ]
        if durations:
            self.pass_time(max(durations) + 1.0, "closing the time window")

    def _latency_rules(self) -> list[Rule]:
        return [r for r in self.monitor.rules if r.signal == "latency_spike"]

    def _objective(self) -> float | None:
        found = [v for v in (self.baseline.latency_p95_ms, self.baseline.latency_p99_ms) if v]
        return max(found) if found else None

    def _normal_latency_ms(self) -> float:
        candidates = [50.0]
        objective = self._objective()
        if objective:
            candidates.append(objective)
        for rule in self._latency_rules():
            c = rule.condition
            if c.op in (">", ">="):
                if c.metric.endswith("_ms"):
                    candidates.append(c.value)
                elif objective:
                    candidates.append(c.value * objective)
        return max(min(candidates), 0.001)

    def spike_latency_ms(self) -> float:
        normal_p99 = 0.5 * self.gen.normal_latency_ms
        objective = self._objective()
        spike = [10 * normal_p99]
        if objective:
            spike.append(10 * objective)
        for rule in self._latency_rules():
            c = rule.condition
            if c.op in (">", ">="):
                if c.metric.endswith("_ms"):
                    spike.append(2 * c.value)
                elif objective:
                    spike.append(2 * c.value * objective)
        return max(spike)

    # sending -------------------------------------------------------------------------------

    def post_events(
        self, make: Callable[[int, float], list[dict[str, Any]]], n: int, *, step: int = 0
    ) -> None:
        """Send ``n`` events made by ``make(count, service now)`` in batches."""
        step = step or self.step("events")
        sent = 0
        while sent < n:
            k = min(step, n - sent)
            self._send_events(make(k, self.service_now()))
            sent += k

    def _send_events(self, events: list[dict[str, Any]]) -> None:
        response = self.api.call("POST", "/v1/events", body={"events": events}, ok=(202, 413))
        if response.status_code == 413 and len(events) > 1:
            half = len(events) // 2
            self.batch = max(1, half)
            self._send_events(events[:half])
            self._send_events(events[half:])
            return
        if response.status_code == 413:
            raise _ScenarioError(f"POST /v1/events refused one event: {_error_text(response)}")
        accepted = int(response.json().get("accepted", 0))
        if accepted != len(events):
            self.warnings.append(
                f"the service stored {accepted} of {len(events)} drill events (duplicates?)"
            )
        self.traffic["events"] += len(events)

    def post_labels(self, labels: list[tuple[str, float]]) -> None:
        now = self.service_now()
        step = self.step("labels")
        for start in range(0, len(labels), step):
            chunk = labels[start : start + step]
            body = {"labels": [{"event_id": e, "label": v, "timestamp": now} for e, v in chunk]}
            self.api.call("POST", "/v1/labels", body=body)
            self.traffic["labels"] += len(chunk)

    def auth_burst(self) -> None:
        """Requests that fail authentication: unknown key ids (mostly), malformed tokens and
        no token, enough to close the security windows with failures only."""
        rules = [r for r in self.rules if r.condition.metric in AUTH_METRICS]
        thresholds = [r.condition.value for r in rules if r.condition.op in (">", ">=")]
        counts = [w.events for w in self._stream_windows("auth") if w.events is not None]
        top = max(thresholds, default=20.0)
        n = 2 * max(counts) if counts else max(50, int(2 * top) + 10)
        unknown_needed = max(
            [r.condition.value for r in rules if r.condition.metric == "unknown_keys"],
            default=5.0,
        )
        tokens = self.gen.unknown_tokens(int(min(max(12, 2 * unknown_needed + 2), 1000)))
        self.traffic["unknown_key_ids"] = [t.split("_")[1] for t in tokens]

        def headers(i: int) -> dict[str, str]:
            if i % 10 == 0:
                return {}
            if i % 10 == 1:
                return {"Authorization": "Bearer drill-not-a-key"}
            return {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}

        def one(i: int) -> int:
            try:
                return self.api.anon.get("/v1/route", headers=headers(i)).status_code
            except httpx.TransportError:
                return 0

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(one, range(n)))
        refused = sum(1 for s in statuses if s == 401)
        self.traffic["auth_requests"] += n
        if refused != n:
            raise _ScenarioError(
                f"{n - refused} of {n} requests with bad keys were not refused (401)"
            )
        self.close_time_windows("auth")

    def key_burst(self) -> None:
        """Background keys, then one key sending far above its baseline share."""
        windows = self._stream_windows("events")
        counted = [w for w in windows if w.events is not None]
        background = [f"{self.gen.prefix}k{i}" for i in range(1, BACKGROUND_KEYS + 1)]
        burst_key = self.gen.key
        self.traffic["keys"] = [burst_key, *background]
        sweeping = any(
            r.condition.metric == "key_spread" and r.condition.op in (">", ">=") for r in self.rules
        )

        def mix(k: int, share: float, *, sweep: bool = False) -> tuple[list[str], list[bool]]:
            chosen = self.gen.rng.random(k) < share
            if share > 0 and not chosen.any():
                chosen[0] = True
            keys = [
                burst_key if c else background[i % BACKGROUND_KEYS]
                for i, c in enumerate(chosen.tolist())
            ]
            return keys, [bool(c and sweep) for c in chosen.tolist()]

        def send(k: int, share: float, *, sweep: bool = False, step: int = 0) -> None:
            def make(size: int, now: float) -> list[dict[str, Any]]:
                keys, swept = mix(size, share, sweep=sweep)
                return self.gen.events(size, now=now, keys=keys, sweep=swept)

            self.post_events(make, k, step=step)

        if counted:
            widest = max(counted, key=lambda w: w.events or 0)
            n = widest.events or 0
            key = window_key(widest)
            send(n, LOW_SHARE)  # closes a window: the key has a history from here
            self._sync(key, background[0], n, lambda k: send(k, 0.0))
            send(n, BURST_SHARE, sweep=sweeping)
            return
        durations = [w.duration_s for w in windows if w.duration_s is not None]
        span = max(durations, default=60.0) + 1.0
        send(TIME_WINDOW_UNITS, LOW_SHARE)
        self.pass_time(span, "letting the key's baseline window close")
        send(TIME_WINDOW_UNITS, BURST_SHARE, sweep=sweeping)
        self.pass_time(span, "closing the burst's time window")

    def _sync(self, key: str, probe_key: str, n: int, send: Callable[[int], None]) -> None:
        """Send background traffic in small steps until a ``key`` window closes (seen as a
        new observation of ``probe_key``), so the next ``n`` events fill a window."""

        def latest() -> float | None:
            for s in self.api.json("GET", "/v1/summary")["signals"]:
                if (
                    s["signal"] == "security_anomaly"
                    and s["subject"] == probe_key
                    and s["window"] == key
                ):
                    return float(s["end"]) + 1e-9 * float(s["n"])
            return None

        before = latest()
        step = max(1, n // SYNC_STEPS)
        for _ in range(3 * SYNC_STEPS):
            if self.time.manual:  # a count window's end is "now": make each close tell apart
                self.time.pass_time(0.001)
            send(step)
            if latest() != before:
                return
        self.warnings.append(f"no {key} window was seen closing before the burst")

    # verification ----------------------------------------------------------------------------

    def incidents_after(self, max_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.json("GET", "/v1/incidents", params={"limit": 1000})
        return [i for i in found if int(i["id"]) > max_id]

    def expected_subject(self, rule: Rule) -> str | None:
        return expected_subject(rule, self.gen.key)

    def blockers(self) -> list[str]:
        """Unresolved incidents that would swallow the drill's firing (a rule updates its open
        incident instead of opening one, and its actions do not run again)."""
        active = [
            incident
            for status in ("open", "acknowledged")
            for incident in self.api.json(
                "GET", "/v1/incidents", params={"status": status, "limit": 1000}
            )
        ]
        out = []
        for rule in self.rules:
            subject = self.expected_subject(rule)
            for i in active:
                if i["rule"] == rule.name and i["subject"] == subject:
                    out.append(
                        f"rule {rule.name} already has {i['status']} incident {i['id']} on "
                        f"{subject}; resolve it (POST /v1/incidents/{i['id']}/resolve) before "
                        "drilling, or the drill's firing would only update it"
                    )
        return out


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
