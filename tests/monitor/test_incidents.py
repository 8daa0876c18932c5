"""Incidents: open/update per (rule, subject), acknowledge, resolve, escalate on a manual clock.

The tests that touch the database run on SQLite and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from _actions_support import T0, monitor, obs, rows
from sqlalchemy import Engine

from assay.monitor import incidents as inc
from assay.monitor.clock import ManualClock
from assay.monitor.store import schema
from assay.spec.monitor import Monitor

MIN = 60.0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(db_url)
    schema.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def escalating(**extra: Any) -> Monitor:
    section: dict[str, Any] = {
        "rules": [
            {
                "name": "inputs-drifted",
                "signal": "input_shift",
                "when": "share_drifted > 0.2",
                "severity": "major",
                "owner": "ml-oncall@example.com",
                "ack_within_minutes": 15,
                "runbook": "https://wiki.example.com/drift",
                "actions": ["alert"],
            },
            {"name": "latency", "signal": "latency_spike", "when": "p95_ms > 250"},
        ],
        "escalation": [
            {"name": "on-call", "webhook": "http://127.0.0.1:9/oncall"},
            {"name": "head of ML", "webhook": "http://127.0.0.1:9/head", "after_minutes": 30},
        ],
    }
    section.update(extra)
    return monitor(**section)


def fire(
    engine: Engine, mon: Monitor, now: float, rule: str = "inputs-drifted", **kw: Any
) -> inc.Firing:
    with engine.begin() as conn:
        return inc.open_or_update(
            conn, mon.rule(rule), obs(**kw), now=now, default_owner="monitoring-team"
        )


def escalate(engine: Engine, mon: Monitor, now: float) -> list[inc.Escalation]:
    with engine.begin() as conn:
        return inc.escalate_due(conn, mon, now)


def detail(engine: Engine, incident_id: int) -> inc.IncidentDetail:
    with engine.connect() as conn:
        return inc.get_incident(conn, incident_id)


def test_a_firing_opens_an_incident_then_updates_it(engine: Engine) -> None:
    mon, clock = escalating(), ManualClock(T0)
    first = fire(engine, mon, clock.now(), metrics={"share_drifted": 0.3})
    assert first.opened
    incident = first.incident
    assert (incident.rule, incident.signal, incident.subject) == (
        "inputs-drifted",
        "input_shift",
        "inputs",
    )
    assert (incident.status, incident.severity, incident.owner) == (
        "open",
        "major",
        "ml-oncall@example.com",
    )
    assert incident.deadline == T0 + 15 * MIN
    assert incident.runbook == "https://wiki.example.com/drift"
    assert (incident.fired, incident.level, incident.last_metrics) == (1, 0, {"share_drifted": 0.3})

    clock.advance(60)
    again = fire(engine, mon, clock.now(), metrics={"share_drifted": 0.4})
    assert not again.opened
    assert again.incident.id == incident.id
    assert (again.incident.fired, again.incident.last_metrics) == (2, {"share_drifted": 0.4})
    assert again.incident.deadline == T0 + 15 * MIN  # a repeat does not move the deadline
    assert again.incident.updated_at == T0 + 60

    other = fire(engine, mon, clock.now(), subject="other-inputs")
    assert other.opened and other.incident.id != incident.id

    entries = detail(engine, incident.id).timeline
    assert [e.kind for e in entries] == ["signal", "signal"]
    assert entries[0].actor == "monitor"
    assert entries[0].detail["opened"] is True
    assert entries[0].detail["metrics"] == {"share_drifted": 0.3}
    assert entries[0].detail["window"] == "events=1000"
    assert entries[1].detail["fired"] == 2


def test_a_rule_without_owner_goes_to_the_monitoring_owner(engine: Engine) -> None:
    mon = escalating()
    firing = fire(engine, mon, T0, rule="latency", signal="latency_spike", metrics={"p95_ms": 300})
    assert firing.incident.owner == "monitoring-team"
    assert firing.incident.deadline == T0 + 15 * MIN  # the default ack window


def test_acknowledge_and_resolve(engine: Engine) -> None:
    mon, clock = escalating(), ManualClock(T0)
    incident = fire(engine, mon, clock.now()).incident
    clock.advance(5 * MIN)
    with engine.begin() as conn:
        acked = inc.acknowledge(conn, incident.id, "ada", clock.now())
    assert (acked.status, acked.acked_by, acked.acked_at, acked.deadline) == (
        "acknowledged",
        "ada",
        T0 + 5 * MIN,
        None,
    )
    with engine.begin() as conn:  # again: nothing changes, no second timeline line
        assert inc.acknowledge(conn, incident.id, "bob", clock.now() + 1).acked_by == "ada"

    # an acknowledged incident still takes new firings, and never escalates
    assert fire(engine, mon, clock.now()).incident.id == incident.id
    assert escalate(engine, mon, T0 + 10 * 60 * MIN) == []

    clock.advance(MIN)
    with engine.begin() as conn:
        resolved = inc.resolve(conn, incident.id, "ada", clock.now(), "rolled back the feed")
    assert (resolved.status, resolved.resolved_by, resolved.resolved_at) == (
        "resolved",
        "ada",
        T0 + 6 * MIN,
    )
    entries = detail(engine, incident.id).timeline
    assert [e.kind for e in entries] == ["signal", "ack", "signal", "resolve"]
    assert (entries[1].actor, entries[1].detail["by"], entries[1].detail["after_s"]) == (
        "ada",
        "ada",
        300.0,
    )
    assert entries[3].detail["note"] == "rolled back the feed"

    with engine.begin() as conn, pytest.raises(inc.IncidentError, match="already resolved"):
        inc.resolve(conn, incident.id, "bob", clock.now(), None)
    with engine.begin() as conn, pytest.raises(inc.IncidentError, match="nothing to acknowledge"):
        inc.acknowledge(conn, incident.id, "bob", clock.now())

    # the next firing opens a new incident
    reopened = fire(engine, mon, clock.now())
    assert reopened.opened and reopened.incident.id != incident.id


def test_unknown_incidents_are_clear_errors(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(inc.IncidentNotFound, match="no incident 41") as caught:
            inc.acknowledge(conn, 41, "ada", T0)
        assert isinstance(caught.value, KeyError)
        assert str(caught.value) == "no incident 41; list them with GET /v1/incidents"
        with pytest.raises(inc.IncidentNotFound):
            inc.resolve(conn, 41, "ada", T0)
        with pytest.raises(inc.IncidentNotFound):
            inc.get_incident(conn, 41)


def test_escalation_follows_the_levels_then_stays_at_the_last(engine: Engine) -> None:
    mon, clock = escalating(), ManualClock(T0)
    incident = fire(engine, mon, clock.now()).incident

    clock.set(T0 + 15 * MIN - 1)
    assert escalate(engine, mon, clock.now()) == []

    clock.set(T0 + 15 * MIN)  # the ack deadline: the first level is paged
    (step,) = escalate(engine, mon, clock.now())
    assert (step.level, step.name, step.webhook, step.exhausted) == (
        1,
        "on-call",
        "http://127.0.0.1:9/oncall",
        False,
    )
    assert step.next_deadline == clock.now() + 30 * MIN  # the head of ML's after_minutes
    assert escalate(engine, mon, clock.now()) == []  # one step per deadline

    clock.set(T0 + 45 * MIN - 1)
    assert escalate(engine, mon, clock.now()) == []
    clock.set(T0 + 45 * MIN)
    (step,) = escalate(engine, mon, clock.now())
    assert (step.level, step.name, step.webhook) == (2, "head of ML", "http://127.0.0.1:9/head")
    assert step.next_deadline == clock.now() + 15 * MIN  # no level after: the ack window

    clock.set(T0 + 60 * MIN)
    (step,) = escalate(engine, mon, clock.now())
    assert (step.level, step.name, step.exhausted, step.next_deadline) == (2, None, True, None)
    clock.advance(24 * 60 * MIN)
    assert escalate(engine, mon, clock.now()) == []

    full = detail(engine, incident.id)
    assert (full.incident.level, full.incident.deadline, full.incident.status) == (2, None, "open")
    steps = [e for e in full.timeline if e.kind == "escalation"]
    assert [(e.ts, e.detail.get("name"), e.detail.get("exhausted", False)) for e in steps] == [
        (T0 + 15 * MIN, "on-call", False),
        (T0 + 45 * MIN, "head of ML", False),
        (T0 + 60 * MIN, "head of ML", True),
    ]
    assert steps[2].detail["note"] == (
        "still unacknowledged after the last escalation level (head of ML) was paged"
    )
    # each page is a webhook in the outbox, linked to the incident
    assert [(d.kind, d.url, d.status) for d in full.deliveries] == [
        ("escalation", "http://127.0.0.1:9/oncall", "pending"),
        ("escalation", "http://127.0.0.1:9/head", "pending"),
    ]
    page = full.deliveries[1].payload
    assert page["kind"] == "assay.escalation"
    assert page["level"] == {"index": 2, "of": 2, "name": "head of ML"}
    assert page["incident"]["id"] == incident.id
    assert page["incident"]["owner"] == "ml-oncall@example.com"
    assert page["text"].startswith(f"[MAJOR] incident {incident.id} (inputs-drifted on inputs)")
    assert "unacknowledged after 45 min" in page["text"]
    assert "Runbook: https://wiki.example.com/drift" in page["text"]


def test_acknowledging_stops_escalation(engine: Engine) -> None:
    mon = escalating()
    incident = fire(engine, mon, T0).incident
    assert len(escalate(engine, mon, T0 + 15 * MIN)) == 1
    with engine.begin() as conn:
        inc.acknowledge(conn, incident.id, "ada", T0 + 20 * MIN)
    assert escalate(engine, mon, T0 + 10 * 60 * MIN) == []
    with engine.connect() as conn:
        assert inc.get(conn, incident.id).level == 1


def test_a_level_without_after_minutes_waits_the_ack_window(engine: Engine) -> None:
    mon = escalating(
        escalation=[
            {"name": "a"},
            {"name": "b"},
            {"name": "c", "after_minutes": 5},
        ]
    )
    fire(engine, mon, T0)
    paged = []
    for minute in range(0, 120):
        for step in escalate(engine, mon, T0 + minute * MIN):
            paged.append((minute, step.name, step.webhook, step.exhausted))
    # a at the 15-minute deadline; b 15 minutes later (b has no after_minutes); c 5 after b;
    # exhausted 15 after c
    assert paged == [
        (15, "a", None, False),
        (30, "b", None, False),
        (35, "c", None, False),
        (50, None, None, True),
    ]
    with engine.connect() as conn:
        entries = [e for e in inc.timeline_of(conn, 1) if e.kind == "escalation"]
    assert entries[0].detail["note"] == "escalation level 'a' has no webhook set; recorded only"


def test_without_escalation_levels_an_overdue_incident_is_recorded_once(engine: Engine) -> None:
    mon = escalating(escalation=[])
    incident = fire(engine, mon, T0).incident
    (step,) = escalate(engine, mon, T0 + 15 * MIN)
    assert (step.level, step.exhausted) == (0, True)
    assert escalate(engine, mon, T0 + 600 * MIN) == []
    with engine.connect() as conn:
        (entry,) = [e for e in inc.timeline_of(conn, incident.id) if e.kind == "escalation"]
    assert "no escalation levels are configured" in entry.detail["note"]


def test_a_rule_gone_from_the_spec_escalates_on_the_default_window(engine: Engine) -> None:
    mon = escalating()
    fire(engine, mon, T0)
    changed = escalating(
        rules=[{"name": "latency", "signal": "latency_spike", "when": "p95_ms > 9"}]
    )
    (step,) = escalate(engine, changed, T0 + 15 * MIN)
    assert step.next_deadline == T0 + 15 * MIN + 30 * MIN
    (step,) = escalate(engine, changed, T0 + 45 * MIN)
    assert step.next_deadline == T0 + 45 * MIN + inc.DEFAULT_ACK_MINUTES * MIN


def test_listing_filters(engine: Engine) -> None:
    mon, clock = escalating(), ManualClock(T0)
    a = fire(engine, mon, clock.now(), subject="a").incident
    clock.advance(MIN)
    b = fire(engine, mon, clock.now(), subject="b").incident
    clock.advance(MIN)
    c = fire(
        engine, mon, clock.now(), rule="latency", signal="latency_spike", metrics={"p95_ms": 400}
    ).incident
    with engine.begin() as conn:
        inc.acknowledge(conn, b.id, "ada", clock.now())
        inc.resolve(conn, c.id, "ada", clock.now())
        listed = inc.list_incidents
        assert [i.id for i in listed(conn)] == [c.id, b.id, a.id]
        assert [i.id for i in listed(conn, status="open")] == [a.id]
        assert [i.id for i in listed(conn, status=["open", "acknowledged"])] == [b.id, a.id]
        assert [i.id for i in listed(conn, since=T0 + 2 * MIN)] == [c.id, b.id]
        assert [i.id for i in listed(conn, rule="latency")] == [c.id]
        assert [i.id for i in listed(conn, limit=1)] == [c.id]
        with pytest.raises(ValueError, match="unknown incident status 'closed'"):
            listed(conn, status="closed")


def test_resolving_posts_the_resolved_alert(engine: Engine) -> None:
    mon = escalating(webhooks={"alert": "http://127.0.0.1:9/alerts"})
    incident = fire(engine, mon, T0).incident
    with engine.begin() as conn:  # as the alert action records it
        conn.execute(
            sqlalchemy.insert(schema.actions).values(
                key=f"{incident.id}:alert",
                incident_id=incident.id,
                rule=incident.rule,
                action="alert",
                started=T0,
                outcome="ok",
                attempts=1,
                detail="{}",
            )
        )
        inc.resolve(
            conn,
            incident.id,
            "ada",
            T0 + 90,
            "fixed",
            monitor=mon,
            incident_url="https://monitor.example.com/incidents/{id}",
        )
    (posted,) = rows(engine, schema.outbox)
    assert (posted.kind, posted.url, posted.incident_id) == (
        "alert",
        "http://127.0.0.1:9/alerts",
        incident.id,
    )
    with engine.connect() as conn:
        (alert,) = inc.get_incident(conn, incident.id).deliveries[0].payload
    assert alert["labels"] == {
        "alertname": "inputs-drifted",
        "severity": "major",
        "rule": "inputs-drifted",
        "signal": "input_shift",
        "subject": "inputs",
        "owner": "ml-oncall@example.com",
    }
    assert alert["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert alert["endsAt"] == "2027-01-15T08:01:30.000Z"
    assert alert["generatorURL"] == f"https://monitor.example.com/incidents/{incident.id}"
    assert alert["annotations"]["runbook_url"] == "https://wiki.example.com/drift"

    # without an alert action, resolving posts nothing
    other = fire(engine, mon, T0, subject="other").incident
    with engine.begin() as conn:
        inc.resolve(conn, other.id, "ada", T0 + 90, monitor=mon)
    assert len(rows(engine, schema.outbox)) == 1


def test_iso_times() -> None:
    assert inc.iso(T0) == "2027-01-15T08:00:00.000Z"
    assert inc.iso(T0 + 0.25) == "2027-01-15T08:00:00.250Z"
    assert inc.iso(None) is None
