"""Incidents: one per (rule, subject) while it is open, with a timeline, a deadline and
escalation.

When a rule fires (:func:`open_or_update`) the open or acknowledged incident of that rule and
subject is updated — ``fired`` counts the windows, ``last_metrics`` keeps the latest — or, if
there is none (never fired, or the last one was resolved), a new incident opens: owned by the
rule's ``owner`` (else the spec's owner of the ``monitoring`` domain), due for
acknowledgement ``ack_within_minutes`` after it opened.

Escalation (:func:`escalate_due`, in :mod:`assay.monitor.incident_escalation`): an *open*
incident whose deadline passed pages the next level of ``monitor.escalation`` through the
webhook outbox, one level per missed deadline, until the last level's wait has passed too.
Acknowledging stops escalation; resolving closes the incident — the next firing opens a new one.

Every step is a line on the incident's timeline (``signal``, ``action``, ``escalation``,
``ack``, ``resolve``), each with its time, actor (``monitor`` or the human's name) and a JSON
detail.

This module holds the types, reading and writing; escalation and the webhook payloads
(:mod:`assay.monitor.incident_payloads`) live in their own modules and are re-exported here, so
``incidents.escalate_due``, ``incidents.alert_payload``, ``incidents.iso`` etc. keep working.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, insert, select, text, update

from assay.errors import AssayError
from assay.monitor import webhooks
from assay.monitor.incident_escalation import escalate_due as escalate_due
from assay.monitor.incident_payloads import alert_labels as alert_labels
from assay.monitor.incident_payloads import alert_payload as alert_payload
from assay.monitor.incident_payloads import escalation_payload as escalation_payload
from assay.monitor.incident_payloads import incident_summary as incident_summary
from assay.monitor.incident_payloads import iso as iso
from assay.monitor.rules import Observed
from assay.monitor.store.schema import actions, incidents, timeline
from assay.spec.monitor import Monitor, Rule

STATUSES = ("open", "acknowledged", "resolved")
ACTIVE = ("open", "acknowledged")
TimelineKind = Literal["signal", "action", "escalation", "ack", "resolve"]
DEFAULT_ACK_MINUTES = 15.0
"""The acknowledgement window of an incident whose rule is no longer in the spec."""
MONITOR = "monitor"
"""The actor of every automated timeline entry."""


class IncidentError(AssayError):
    """A human step that cannot apply to the incident as it is (e.g. resolving it twice)."""


class IncidentNotFound(IncidentError, KeyError):  # noqa: N818 (reads as "incident not found")
    """No incident has the id."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"no incident {incident_id}; list them with GET /v1/incidents")
        self.incident_id = incident_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Incident:
    """One incident as stored."""

    id: int
    rule: str
    signal: str
    subject: str
    severity: str
    owner: str
    runbook: str | None
    status: str
    opened_at: float
    updated_at: float
    deadline: float | None
    level: int
    fired: int
    last_metrics: dict[str, Any]
    acked_by: str | None
    acked_at: float | None
    resolved_by: str | None
    resolved_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    ts: float
    kind: str
    actor: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class ActionRecord:
    """One row of the action log."""

    seq: int
    key: str
    incident_id: int | None
    rule: str | None
    action: str
    started: float
    finished: float | None
    outcome: str
    attempts: int
    detail: dict[str, Any]


@dataclass(frozen=True)
class IncidentDetail:
    """An incident with its timeline, its actions and its webhook deliveries."""

    incident: Incident
    timeline: list[TimelineEntry]
    actions: list[ActionRecord]
    deliveries: list[webhooks.OutboxRow]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Firing:
    """What :func:`open_or_update` did: the incident as it now is, and whether it is new."""

    incident: Incident
    opened: bool


@dataclass(frozen=True)
class Escalation:
    """One step :func:`escalate_due` took for one incident."""

    incident_id: int
    rule: str
    level: int
    """Levels paged so far, after this step (1 = the first level)."""
    name: str | None
    """The level paged; ``None`` when escalation is exhausted or none is configured."""
    webhook: str | None
    outbox_id: int | None
    exhausted: bool
    next_deadline: float | None


# ----------------------------------------------------------------------------- reading


def _incident(row: Any) -> Incident:
    return Incident(
        id=int(row.id),
        rule=row.rule,
        signal=row.signal,
        subject=row.subject,
        severity=row.severity,
        owner=row.owner,
        runbook=row.runbook,
        status=row.status,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        deadline=row.deadline,
        level=row.level,
        fired=row.fired,
        last_metrics=json.loads(row.last_metrics) if row.last_metrics else {},
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


def get(conn: Connection, incident_id: int) -> Incident:
    """The incident; :class:`IncidentNotFound` if there is none with that id."""
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return _incident(row)


def list_incidents(
    conn: Connection,
    *,
    status: str | Sequence[str] | None = None,
    since: float | None = None,
    rule: str | None = None,
    limit: int = 100,
) -> list[Incident]:
    """Incidents, newest first: only those in ``status`` (one or several of ``open``,
    ``acknowledged``, ``resolved``), updated at or after ``since``, of ``rule``, if given."""
    query = select(incidents).order_by(incidents.c.id.desc()).limit(max(limit, 0))
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        unknown = [s for s in wanted if s not in STATUSES]
        if unknown:
            raise ValueError(
                f"unknown incident status {unknown[0]!r}; statuses: {', '.join(STATUSES)}"
            )
        query = query.where(incidents.c.status.in_(wanted))
    if since is not None:
        query = query.where(incidents.c.updated_at >= since)
    if rule is not None:
        query = query.where(incidents.c.rule == rule)
    return [_incident(row) for row in conn.execute(query)]


def timeline_of(conn: Connection, incident_id: int) -> list[TimelineEntry]:
    rows = conn.execute(
        select(timeline).where(timeline.c.incident_id == incident_id).order_by(timeline.c.seq)
    )
    return [TimelineEntry(int(r.seq), r.ts, r.kind, r.actor, json.loads(r.detail)) for r in rows]


def action_record(row: Any) -> ActionRecord:
    return ActionRecord(
        seq=int(row.seq),
        key=row.key,
        incident_id=row.incident_id,
        rule=row.rule,
        action=row.action,
        started=row.started,
        finished=row.finished,
        outcome=row.outcome,
        attempts=row.attempts,
        detail=json.loads(row.detail),
    )


def actions_of(conn: Connection, incident_id: int) -> list[ActionRecord]:
    rows = conn.execute(
        select(actions).where(actions.c.incident_id == incident_id).order_by(actions.c.seq)
    )
    return [action_record(row) for row in rows]


def get_incident(conn: Connection, incident_id: int) -> IncidentDetail:
    """The full incident: its row, timeline, action log and webhook deliveries (oldest first)."""
    incident = get(conn, incident_id)
    deliveries = webhooks.list_outbox(conn, incident_id=incident_id, limit=10_000)
    return IncidentDetail(
        incident=incident,
        timeline=timeline_of(conn, incident_id),
        actions=actions_of(conn, incident_id),
        deliveries=list(reversed(deliveries)),
    )


# ----------------------------------------------------------------------------- writing


def add_timeline(
    conn: Connection,
    incident_id: int,
    kind: TimelineKind,
    detail: dict[str, Any],
    *,
    now: float,
    actor: str = MONITOR,
) -> None:
    conn.execute(
        insert(timeline).values(
            incident_id=incident_id, ts=now, kind=kind, actor=actor, detail=webhooks.dumps(detail)
        )
    )


def owner_of(rule: Rule, default_owner: str) -> str:
    """The rule's ``owner``, else ``default_owner`` (pass ``spec.owner_for("monitoring")``)."""
    return rule.owner or default_owner


def _signal_detail(rule: Rule, obs: Observed, fired: int) -> dict[str, Any]:
    return {
        "rule": rule.name,
        "when": rule.when,
        "window": obs.window,
        "start": obs.start,
        "end": obs.end,
        "n": obs.n,
        "metrics": dict(obs.metrics),
        "fired": fired,
        "sessions": len(obs.sessions),
        "keys": list(obs.keys),
        "details": dict(obs.details),
    }


def open_or_update(
    conn: Connection, rule: Rule, obs: Observed, *, now: float, default_owner: str
) -> Firing:
    """Record that ``rule`` fired on ``obs``: update its active incident for ``obs.subject`` or
    open a new one (status ``open``, deadline ``now + ack_within_minutes``).

    Replicas sharing a PostgreSQL database take a transaction-scoped advisory lock on the
    (rule, subject) pair first, so two replicas firing the same rule at once update one
    incident instead of opening two; on SQLite the writer's ``BEGIN IMMEDIATE`` already
    serialises them."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"assay-incident:{rule.name}:{obs.subject}"},
        )
    active = conn.execute(
        select(incidents)
        .where(
            and_(
                incidents.c.rule == rule.name,
                incidents.c.subject == obs.subject,
                incidents.c.status.in_(ACTIVE),
            )
        )
        .order_by(incidents.c.id.desc())
        .limit(1)
    ).first()
    metrics = webhooks.dumps(dict(obs.metrics))
    if active is not None:
        fired = active.fired + 1
        conn.execute(
            update(incidents)
            .where(incidents.c.id == active.id)
            .values(fired=fired, last_metrics=metrics, updated_at=now)
        )
        add_timeline(conn, active.id, "signal", _signal_detail(rule, obs, fired), now=now)
        return Firing(get(conn, active.id), opened=False)
    result = conn.execute(
        insert(incidents).values(
            rule=rule.name,
            signal=rule.signal,
            subject=obs.subject,
            severity=str(rule.severity),
            owner=owner_of(rule, default_owner),
            runbook=rule.runbook,
            status="open",
            opened_at=now,
            updated_at=now,
            deadline=now + rule.ack_within_minutes * 60.0,
            level=0,
            fired=1,
            last_metrics=metrics,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    incident_id = int(key[0])
    add_timeline(
        conn, incident_id, "signal", {**_signal_detail(rule, obs, 1), "opened": True}, now=now
    )
    return Firing(get(conn, incident_id), opened=True)


def acknowledge(conn: Connection, incident_id: int, by: str, now: float) -> Incident:
    """A human takes the incident: escalation stops. Acknowledging an acknowledged incident
    changes nothing; a resolved one is an :class:`IncidentError`."""
    incident = get(conn, incident_id)
    if incident.status == "resolved":
        raise IncidentError(
            f"incident {incident_id} was resolved by {incident.resolved_by} at "
            f"{iso(incident.resolved_at)}; there is nothing to acknowledge"
        )
    if incident.status == "acknowledged":
        return incident
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status="acknowledged", acked_by=by, acked_at=now, deadline=None, updated_at=now)
    )
    add_timeline(
        conn,
        incident_id,
        "ack",
        {"by": by, "after_s": now - incident.opened_at, "level": incident.level},
        now=now,
        actor=by,
    )
    return get(conn, incident_id)


def resolve(
    conn: Connection,
    incident_id: int,
    by: str,
    now: float,
    note: str | None = None,
    *,
    monitor: Monitor | None = None,
    incident_url: str | None = None,
) -> Incident:
    """Close the incident (from ``open`` or ``acknowledged``); resolving it again is an
    :class:`IncidentError`. With ``monitor`` given and an alert sent for the incident, the
    alert receiver gets the resolved alert (``endsAt`` set) through the outbox."""
    incident = get(conn, incident_id)
    if incident.status == "resolved":
        raise IncidentError(
            f"incident {incident_id} is already resolved (by {incident.resolved_by} at "
            f"{iso(incident.resolved_at)})"
        )
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status="resolved", resolved_by=by, resolved_at=now, deadline=None, updated_at=now)
    )
    detail: dict[str, Any] = {"by": by, "note": note, "after_s": now - incident.opened_at}
    if monitor is not None and monitor.webhooks.alert:
        alerted = conn.execute(
            select(actions.c.seq).where(
                and_(actions.c.incident_id == incident_id, actions.c.action == "alert")
            )
        ).first()
        if alerted is not None:
            resolved = get(conn, incident_id)
            payload = alert_payload(
                resolved,
                summary=f"Resolved by {by}: {resolved.rule} on {resolved.subject}",
                description=note or f"incident {incident_id} resolved by {by}",
                incident_url=incident_url,
                ends_at=now,
            )
            detail["resolved_alert_outbox"] = webhooks.enqueue(
                conn,
                "alert",
                monitor.webhooks.alert,
                payload,
                now=now,
                incident_id=incident_id,
            )
    add_timeline(conn, incident_id, "resolve", detail, now=now, actor=by)
    return get(conn, incident_id)
