"""Drills, the verifying half: what the drill saw of each expected rule, the wait for its
incident, actions and escalation through the HTTP API, and the clean-up afterwards.

:mod:`assay.monitor.drills` drives a scenario (:class:`~assay.monitor.drills._Drill`) and calls
:func:`_verify`, :func:`_cleanup` and :func:`_incident_entry` on what it sent; the module's
docstring describes a drill as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.monitor.drill_client import DRILL_ACTOR, ESCALATION_SLACK_S, _ScenarioError
from assay.spec.monitor import Monitor, Rule, window_key

if TYPE_CHECKING:
    from assay.monitor.drills import _Drill


def explain(
    rule: Rule,
    monitor: Monitor,
    signals: Sequence[dict[str, Any]],
    subject: str | None = None,
) -> str:
    """Why ``rule`` may not have fired, from the service's latest observations (of
    ``subject`` when given)."""
    key = window_key(monitor.window_of(rule))
    seen = [s for s in signals if s.get("signal") == rule.signal and s.get("window") == key]
    if subject is not None:
        seen = [s for s in seen if s.get("subject") == subject]
    if not seen:
        about = f" on {subject}" if subject else ""
        return f"no {rule.signal} window {key} has closed{about} on the service"
    condition = rule.condition
    parts = []
    for obs in seen[:3]:
        value = obs.get("metrics", {}).get(condition.metric)
        if value is None:
            parts.append(f"{condition.metric} not measured on {obs.get('subject')}")
        elif condition.holds(float(value)):
            parts.append(
                f"{condition.metric} = {value:.4g} on {obs.get('subject')} holds, yet no "
                "incident opened: the service failed to handle the window (see its log)"
            )
        else:
            parts.append(
                f"{condition.metric} = {value:.4g} on {obs.get('subject')} (does not hold)"
            )
    return f"latest {key} window: " + "; ".join(parts)


@dataclass
class _Found:
    """What the drill saw of one expected rule."""

    rule: Rule
    subject: str | None
    incident: dict[str, Any] | None = None
    seen_after_s: float | None = None
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    escalation: dict[str, Any] | None = None


def _action_state(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "missing"
    outcomes = {r["outcome"] for r in rows}
    if "failed" in outcomes:
        return "failed"
    if outcomes == {"ok"}:
        return "ok"
    return "pending"


def _action_reason(rows: list[dict[str, Any]]) -> str:
    for row in rows:
        detail = row.get("detail") or {}
        for name in ("error", "webhook_error"):
            if detail.get(name):
                return str(detail[name])
    pending = [r for r in rows if r["outcome"] != "ok"]
    if pending:
        row = pending[0]
        detail = row.get("detail") or {}
        if detail.get("outbox"):
            return f"{row['outcome']}: its webhook (outbox {detail['outbox']}) is not delivered"
        return f"still {row['outcome']}"
    return "no row in the action log"


def _escalation_page(timeline: list[dict[str, Any]]) -> dict[str, Any] | None:
    for entry in timeline:
        detail = entry.get("detail") or {}
        if entry["kind"] == "escalation" and "delivered" not in detail and "level" in detail:
            return {**entry, "detail": detail}
    return None


def _delivery(detail: dict[str, Any], outbox_id: Any) -> dict[str, Any] | None:
    for row in detail.get("deliveries", []):
        if row.get("id") == outbox_id:
            found: dict[str, Any] = row
            return found
    return None


def _verify(d: _Drill, max_id: int, traffic_end: float) -> list[_Found]:
    """Find each expected rule's incident, wait for its actions, then for its escalation."""
    api = d.api
    found = [_Found(rule, d.expected_subject(rule)) for rule in d.rules]
    deadline = traffic_end + d.action_deadline
    delay = 0.02
    new: list[dict[str, Any]] = []
    while True:
        new = d.incidents_after(max_id)
        for f in found:
            if f.incident is not None:
                continue
            mine = [i for i in new if i["rule"] == f.rule.name]
            exact = [i for i in mine if f.subject is None or i["subject"] == f.subject]
            if exact:
                f.incident = min(exact, key=lambda i: int(i["id"]))
                f.seen_after_s = time.monotonic() - traffic_end
        if all(f.incident is not None for f in found) or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    missing = [f for f in found if f.incident is None]
    if missing:
        signals = api.json("GET", "/v1/summary")["signals"]
        for f in missing:
            others = [i for i in new if i["rule"] == f.rule.name]
            where = (
                f"; it fired on {', '.join(str(i['subject']) for i in others)} instead"
                if others
                else ""
            )
            d.failures.append(
                f"rule {f.rule.name} opened no incident on {f.subject} within "
                f"{d.action_deadline:g} s of the drill traffic{where} — "
                f"{explain(f.rule, d.monitor, signals, f.subject)}"
            )

    # Actions: every expected action logged `ok` within the deadline.
    details: dict[int, dict[str, Any]] = {}
    delay = 0.02
    while True:
        settled = True
        waiting: list[str] = []
        for f in found:
            if f.incident is None:
                continue
            detail = api.json("GET", f"/v1/incidents/{f.incident['id']}")
            details[int(f.incident["id"])] = detail
            for action in f.rule.actions:
                rows = [a for a in detail["actions"] if a["action"] == action]
                state = _action_state(rows)
                entry = f.actions.setdefault(action, {"action": action})
                if state in ("ok", "failed") and "recorded_after_s" not in entry:
                    entry["recorded_after_s"] = round(time.monotonic() - traffic_end, 3)
                entry.update(_action_summary(rows, detail, state))
                if state not in ("ok", "failed"):
                    settled = False
                    if any((r.get("detail") or {}).get("outbox") for r in rows):
                        waiting.append(f"the webhook of {f.rule.name}/{action}")
        if waiting:
            d.nudge_outbox(traffic_end, ", ".join(waiting))
        if settled or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    for f in found:
        for action in f.rule.actions:
            seen = f.actions.get(action)
            if seen is None or f.incident is None:
                continue
            if seen["outcome"] != "ok":
                verb = (
                    "failed"
                    if seen["outcome"] == "failed"
                    else f"was not ok within {d.action_deadline:g} s"
                )
                d.failures.append(
                    f"rule {f.rule.name}: action {action} {verb} "
                    f"(incident {f.incident['id']}): {seen['reason']}"
                )
            for note in seen.get("notes", []):
                d.warnings.append(f"{f.rule.name}/{action}: {note}")
    _verify_escalation(d, found, details)
    return found


def _action_summary(
    rows: list[dict[str, Any]], detail: dict[str, Any], state: str
) -> dict[str, Any]:
    signal = next((t for t in detail["timeline"] if t["kind"] == "signal"), None)
    window_end = (signal or {}).get("detail", {}).get("end")
    finished = [r["finished"] for r in rows if r.get("finished") is not None]
    notes = sorted(
        {
            str(r["detail"]["note"])
            for r in rows
            if isinstance(r.get("detail"), dict) and r["detail"].get("note")
        }
    )
    summary: dict[str, Any] = {
        "outcome": state if state != "pending" else (rows[0]["outcome"] if rows else "missing"),
        "rows": len(rows),
        "outcomes": {r["key"]: r["outcome"] for r in rows[:20]},
        "started": min((r["started"] for r in rows), default=None),
        "finished": max(finished, default=None),
        "service_s": (
            round(max(finished) - float(window_end), 3)
            if finished and window_end is not None
            else None
        ),
        "reason": _action_reason(rows) if state != "ok" else None,
    }
    if notes:
        summary["notes"] = notes
    return summary


def _verify_escalation(d: _Drill, found: list[_Found], details: dict[int, dict[str, Any]]) -> None:
    """Let each incident's acknowledgement deadline pass without acknowledging; its timeline
    must then show the escalation (and the first level's webhook delivered)."""
    levels = d.monitor.escalation
    waiting = [f for f in found if f.incident is not None]
    if not waiting:
        return
    if not levels:
        d.failures.append(
            "monitor.escalation lists no level: an incident nobody acknowledges pages nobody"
        )
    deadlines: dict[int, float] = {}
    for f in waiting:
        assert f.incident is not None
        found_detail = details.get(int(f.incident["id"]), {})
        incident = found_detail.get("incident", f.incident)
        # The acknowledgement deadline: `deadline` moves on once the first level is paged.
        ack_deadline = float(incident["opened_at"]) + f.rule.ack_within_minutes * 60.0
        paged = _escalation_page(found_detail.get("timeline", []))
        if paged is None and incident.get("status") != "open":
            d.failures.append(
                f"incident {incident['id']} ({f.rule.name}) was {incident.get('status')} by "
                f"{incident.get('acked_by') or incident.get('resolved_by')} before its "
                "acknowledgement deadline; its escalation could not be observed"
            )
            continue
        deadlines[int(incident["id"])] = ack_deadline
    if not deadlines:
        return
    wait_from = time.monotonic()
    remaining = max(deadlines.values()) - d.service_now(fresh=True)
    try:
        d.pass_time(remaining + 1.0, "waiting for the acknowledgement deadline")
    except _ScenarioError as exc:
        d.failures.append(str(exc))
        return
    until = time.monotonic() + min(ESCALATION_SLACK_S, max(d.left(), 1.0))
    delay = 0.05
    pending = {f.rule.name: f for f in waiting if f.incident and int(f.incident["id"]) in deadlines}
    while pending:
        for name, f in list(pending.items()):
            assert f.incident is not None
            detail = d.api.json("GET", f"/v1/incidents/{f.incident['id']}")
            page = _escalation_page(detail["timeline"])
            if page is None:
                continue
            info = page["detail"]
            deadline = deadlines[int(f.incident["id"])]
            entry: dict[str, Any] = {
                "level": info.get("level"),
                "name": info.get("name"),
                "exhausted": bool(info.get("exhausted")),
                "ts": page["ts"],
                "deadline": deadline,
                "after_deadline_s": round(float(page["ts"]) - deadline, 3),
                "seen_after_s": round(time.monotonic() - wait_from, 3),
                "webhook": info.get("webhook"),
                "note": info.get("note"),
            }
            outbox = info.get("outbox")
            if outbox is not None:
                row = _delivery(detail, outbox)
                status = (row or {}).get("status", "pending")
                entry["delivery"] = status
                if status == "pending" and time.monotonic() < until:
                    d.nudge_outbox(wait_from, f"the escalation page of incident {f.incident['id']}")
                    continue
                if status != "delivered":
                    d.failures.append(
                        f"incident {f.incident['id']} ({name}): the escalation to "
                        f"{info.get('name')} was not delivered: "
                        f"{(row or {}).get('last_error') or status}"
                    )
            elif info.get("note") and not entry["exhausted"]:
                d.warnings.append(f"{name}: {info['note']}")
            if float(page["ts"]) < deadline - 1e-6:
                d.failures.append(
                    f"incident {f.incident['id']} ({name}) escalated {deadline - page['ts']:.1f} "
                    "s before its acknowledgement deadline"
                )
            f.escalation = entry
            del pending[name]
        if not pending or time.monotonic() >= until:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    for name, f in pending.items():
        assert f.incident is not None
        d.failures.append(
            f"incident {f.incident['id']} ({name}) did not escalate within "
            f"{ESCALATION_SLACK_S:g} s of its acknowledgement deadline passing "
            f"({f.rule.ack_within_minutes:g} min after it opened)"
        )


def _cleanup(
    d: _Drill, found: list[_Found], max_id: int, route_before: dict[str, Any]
) -> dict[str, Any]:
    """Resolve the incidents the drill opened; put the route and degraded mode back."""
    api = d.api
    drill_ids = [int(i["id"]) for i in d.incidents_after(max_id)]
    mine = {int(f.incident["id"]) for f in found if f.incident is not None}
    if d.target.in_process:
        mine |= set(drill_ids)
    resolved = []
    note = f"drill {d.run} ({d.scenario}, `assay monitor drill`): resolved by the drill"
    for incident_id in sorted(mine):
        response = api.call(
            "POST",
            f"/v1/incidents/{incident_id}/resolve",
            body={"by": DRILL_ACTOR, "note": note},
            ok=(200, 409),
        )
        if response.status_code == 200:
            resolved.append(incident_id)
    cleanup: dict[str, Any] = {"resolved": resolved, "route": "unchanged"}
    after = api.json("GET", "/v1/route")
    change: dict[str, Any] = {}
    if route_before["target"] != after["target"] and (
        d.target.in_process or after.get("incident") in mine
    ):
        change["target"] = route_before["target"]
    if route_before["degraded_mode"] != after["degraded_mode"] and (
        d.target.in_process or any("degraded_mode" in f.rule.actions for f in found)
    ):
        change["degraded_mode"] = route_before["degraded_mode"]
    if change:
        api.call("POST", "/v1/route", body={**change, "by": DRILL_ACTOR, "note": note})
        cleanup["route"] = {"restored": change, "was": after}
    others = [i for i in drill_ids if i not in mine]
    if others:
        cleanup["not_resolved"] = others
        d.warnings.append(
            f"incident(s) {', '.join(map(str, others))} opened during the drill on rules it "
            "did not drill; they may be real, so they were left open — check them"
        )
    return cleanup


def _incident_entry(f: _Found) -> dict[str, Any]:
    incident = f.incident or {}
    return {
        "rule": f.rule.name,
        "id": incident.get("id"),
        "subject": incident.get("subject"),
        "opened_at": incident.get("opened_at"),
        "metrics": incident.get("last_metrics"),
        "seen_after_s": None if f.seen_after_s is None else round(f.seen_after_s, 3),
        "actions": list(f.actions.values()),
        "escalation": f.escalation,
    }
