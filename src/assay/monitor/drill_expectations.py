"""Drills, what the spec expects: the rules a scenario must trip, the stream each one counts,
the subject it fires on, and the expectation written into a drill record (:func:`expectation`).

:mod:`assay.monitor.drills` describes a drill as a whole.
"""

from __future__ import annotations

from typing import Any

from assay.monitor.drill_client import AUTH_METRICS, ESCALATION_SLACK_S, SUBJECTS
from assay.spec import Spec
from assay.spec.monitor import Monitor, Rule, window_key


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
