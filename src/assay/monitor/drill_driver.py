"""Drills, one scenario's driver (:class:`_Drill`): the service's time (moved or waited for),
how much traffic closes each rule window, sending events, labels and failing requests through
the HTTP API, and the unresolved incidents that would block a drill.

The scenarios (:mod:`assay.monitor.drill_scenarios`) drive it; :mod:`assay.monitor.drills`
makes one per scenario and describes a drill as a whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from assay.monitor.drill_client import (
    AUTH_METRICS,
    BACKGROUND_KEYS,
    BATCH_EVENTS,
    BURST_SHARE,
    LOW_SHARE,
    NUDGE_AFTER_S,
    SYNC_STEPS,
    TIME_WINDOW_UNITS,
    ManualTime,
    Target,
    TrafficGenerator,
    WallTime,
    _Api,
    _error_text,
    _ScenarioError,
)
from assay.monitor.drill_expectations import expected_rules, expected_subject, rule_stream
from assay.monitor.webhooks import CLAIM_SECONDS
from assay.profiles.baseline import Baseline
from assay.spec import Spec
from assay.spec.monitor import Monitor, Rule, Window, window_key


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
