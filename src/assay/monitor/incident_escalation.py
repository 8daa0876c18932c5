"""Escalation of incidents nobody acknowledged (:func:`escalate_due`, run periodically on one
replica).

An *open* incident whose deadline passed pages the next level of ``monitor.escalation`` through
the webhook outbox. The first level is paged at the acknowledgement deadline; level *k+1* is
paged ``after_minutes`` of level *k+1* after level *k* was (the rule's ``ack_within_minutes`` if
unset). After the last level is paged the incident waits once more that long, then its timeline
records that escalation is exhausted and it stays at the last level. Acknowledging stops
escalation; resolving closes the incident.

:mod:`assay.monitor.incidents` re-exports :func:`escalate_due` and imports this module, so the
incident helpers used here are imported inside the functions that use them (a top-level import
would be circular). Looking them up on that module at call time also keeps them patchable there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, select, update

from assay.monitor import webhooks
from assay.monitor.incident_payloads import escalation_payload
from assay.monitor.store.schema import incidents
from assay.spec.monitor import Monitor

if TYPE_CHECKING:
    from assay.monitor.incidents import Escalation, Incident


def _ack_minutes(monitor: Monitor, rule_name: str) -> float:
    from assay.monitor import incidents as inc

    try:
        return monitor.rule(rule_name).ack_within_minutes
    except KeyError:
        return inc.DEFAULT_ACK_MINUTES


def escalate_due(
    conn: Connection, monitor: Monitor, now: float, *, incident_url: str | None = None
) -> list[Escalation]:
    """Escalate every open (unacknowledged) incident whose deadline is at or before ``now``.

    Each gets one step: the next level of ``monitor.escalation`` is paged (a webhook through
    the outbox if the level has one; the step is recorded either way) and the deadline moves
    to the following level's ``after_minutes`` (or the rule's ``ack_within_minutes``) from
    now; once the last level's wait has passed too, the timeline records that escalation is
    exhausted and the deadline is cleared. A level's webhook being down does not hold
    escalation back: delivery is the outbox's business."""
    from assay.monitor import incidents as inc

    levels = monitor.escalation
    due = conn.execute(
        select(incidents)
        .where(
            and_(
                incidents.c.status == "open",
                incidents.c.deadline.is_not(None),
                incidents.c.deadline <= now,
            )
        )
        .order_by(incidents.c.deadline, incidents.c.id)
    ).all()
    steps: list[Escalation] = []
    for row in due:
        incident = inc._incident(row)
        ack_minutes = _ack_minutes(monitor, incident.rule)
        paged = incident.level
        if paged >= len(levels):
            exhausted = _claim_step(conn, incident, now, level=paged, deadline=None)
            if not exhausted:
                continue
            last = levels[-1].name if levels else None
            note = (
                f"still unacknowledged after the last escalation level ({last}) was paged"
                if levels
                else "the deadline passed and no escalation levels are configured "
                "(monitor.escalation)"
            )
            inc.add_timeline(
                conn,
                incident.id,
                "escalation",
                {"exhausted": True, "level": paged, "name": last, "note": note},
                now=now,
            )
            steps.append(
                inc.Escalation(incident.id, incident.rule, paged, None, None, None, True, None)
            )
            continue
        level = levels[paged]
        after = levels[paged + 1].after_minutes if paged + 1 < len(levels) else None
        next_deadline = now + (after if after is not None else ack_minutes) * 60.0
        if not _claim_step(conn, incident, now, level=paged + 1, deadline=next_deadline):
            continue
        paged_incident = inc.get(conn, incident.id)
        outbox_id = None
        detail: dict[str, Any] = {
            "level": paged + 1,
            "of": len(levels),
            "name": level.name,
            "overdue_s": now - (incident.deadline or now),
            "next_deadline": next_deadline,
        }
        if level.webhook:
            outbox_id = webhooks.enqueue(
                conn,
                "escalation",
                level.webhook,
                escalation_payload(
                    paged_incident, level.name, paged + 1, len(levels), now, incident_url
                ),
                now=now,
                incident_id=incident.id,
            )
            detail.update(webhook=level.webhook, outbox=outbox_id)
        else:
            detail["note"] = f"escalation level {level.name!r} has no webhook set; recorded only"
        inc.add_timeline(conn, incident.id, "escalation", detail, now=now)
        steps.append(
            inc.Escalation(
                incident.id,
                incident.rule,
                paged + 1,
                level.name,
                level.webhook,
                outbox_id,
                False,
                next_deadline,
            )
        )
    return steps


def _claim_step(
    conn: Connection, incident: Incident, now: float, *, level: int, deadline: float | None
) -> bool:
    """Move the incident to ``level``/``deadline`` unless someone acknowledged, resolved or
    escalated it since it was read (then another step already ran, or none should)."""
    result = conn.execute(
        update(incidents)
        .where(
            and_(
                incidents.c.id == incident.id,
                incidents.c.status == "open",
                incidents.c.level == incident.level,
                incidents.c.deadline <= now,
            )
        )
        .values(level=level, deadline=deadline, updated_at=now)
    )
    return result.rowcount == 1
