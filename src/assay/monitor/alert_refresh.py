"""Alert refreshes: posting the alert of every unresolved incident again, so that
Alertmanager does not resolve it on its own."""

from __future__ import annotations

from sqlalchemy import Connection, and_, func, select

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.store.schema import actions, incidents, outbox
from assay.spec.monitor import Monitor


def resend_alerts(
    conn: Connection,
    monitor: Monitor,
    now: float,
    *,
    every: float = 60.0,
    incident_url: str | None = None,
) -> list[int]:
    """Post the alert of every unresolved incident again if its last post is ``every``
    seconds old; the outbox ids queued.

    Alertmanager resolves an alert on its own ``resolve_timeout`` (5 minutes by default)
    after the last post that did not set ``endsAt``; Prometheus re-sends firing alerts for
    that reason, and so should the monitor while an incident is open or acknowledged. The
    refreshes (outbox kind ``alert_refresh``) carry the same labels and ``startsAt``; they are
    not linked to the action, so a failed refresh does not mark the alert action failed."""
    url = monitor.webhooks.alert
    if not url:
        return []
    alerted = conn.execute(
        select(incidents.c.id)
        .where(
            and_(
                incidents.c.status.in_(inc.ACTIVE),
                incidents.c.id.in_(
                    select(actions.c.incident_id).where(actions.c.action == "alert")
                ),
            )
        )
        .order_by(incidents.c.id)
    ).scalars()
    queued: list[int] = []
    for incident_id in list(alerted):
        incident = inc.get(conn, incident_id)
        posts = conn.execute(
            select(
                func.max(outbox.c.created), func.count().filter(outbox.c.status == "pending")
            ).where(
                and_(
                    outbox.c.incident_id == incident_id,
                    outbox.c.kind.in_(("alert", "alert_refresh")),
                )
            )
        ).one()
        last, pending = posts
        if pending or (last is not None and now - last < every):
            continue  # a post is still on its way, or recent enough
        payload = inc.alert_payload(
            incident,
            summary=f"{incident.signal} on {incident.subject}: rule {incident.rule} "
            f"(firing, {incident.status})",
            description=f"Incident {incident.id} is {incident.status}; fired {incident.fired} "
            f"time(s); last metrics: "
            + ", ".join(f"{k}={v}" for k, v in sorted(incident.last_metrics.items())),
            incident_url=incident_url,
        )
        queued.append(
            webhooks.enqueue(conn, "alert_refresh", url, payload, now=now, incident_id=incident_id)
        )
    return queued
