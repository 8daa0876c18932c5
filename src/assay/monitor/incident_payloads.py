"""Webhook payloads for incidents: what an escalation level's webhook and the Alertmanager
receiver get, and the RFC 3339 times they carry.

Pure functions of an :class:`~assay.monitor.incidents.Incident`: nothing here reads or writes
the store. :mod:`assay.monitor.incidents` re-exports every public name, so callers keep using
``inc.alert_payload(...)``, ``inc.iso(...)`` and so on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.monitor.incidents import Incident


def iso(ts: float | None) -> str | None:
    """RFC 3339 UTC with milliseconds: ``2027-01-15T08:00:00.000Z``."""
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def incident_summary(incident: Incident, incident_url: str | None = None) -> dict[str, Any]:
    """The incident as webhook payloads carry it."""
    summary = {
        "id": incident.id,
        "rule": incident.rule,
        "signal": incident.signal,
        "subject": incident.subject,
        "severity": incident.severity,
        "owner": incident.owner,
        "runbook": incident.runbook,
        "status": incident.status,
        "opened_at": incident.opened_at,
        "opened": iso(incident.opened_at),
        "fired": incident.fired,
        "level": incident.level,
        "metrics": incident.last_metrics,
    }
    if incident_url:
        summary["url"] = incident_url.format(id=incident.id)
    return summary


def escalation_payload(
    incident: Incident,
    level_name: str,
    level: int,
    levels: int,
    now: float,
    incident_url: str | None = None,
) -> dict[str, Any]:
    """The JSON an escalation level's webhook receives (``text`` reads well in chat tools)."""
    minutes = (now - incident.opened_at) / 60.0
    text = (
        f"[{incident.severity.upper()}] incident {incident.id} ({incident.rule} on "
        f"{incident.subject}) is unacknowledged after {minutes:.0f} min — escalated to "
        f"{level_name} (level {level} of {levels}). Owner: {incident.owner}."
    )
    if incident.runbook:
        text += f" Runbook: {incident.runbook}"
    return {
        "kind": "assay.escalation",
        "text": text,
        "level": {"index": level, "of": levels, "name": level_name},
        "incident": incident_summary(incident, incident_url),
        "ts": now,
        "time": iso(now),
    }


def alert_labels(incident: Incident) -> dict[str, str]:
    """The alert's identity in Alertmanager: the same for every post about one incident."""
    return {
        "alertname": incident.rule,
        "severity": incident.severity,
        "rule": incident.rule,
        "signal": incident.signal,
        "subject": incident.subject,
        "owner": incident.owner,
    }


def alert_payload(
    incident: Incident,
    *,
    summary: str,
    description: str,
    incident_url: str | None = None,
    ends_at: float | None = None,
) -> list[dict[str, Any]]:
    """An Alertmanager ``POST /api/v2/alerts`` body (a list of one alert) for the incident.

    ``startsAt`` is when the incident opened; ``endsAt`` only when it is resolved;
    ``generatorURL`` only with ``incident_url`` (a template holding ``{id}``)."""
    annotations = {
        "summary": summary,
        "description": description,
        "incident": str(incident.id),
    }
    if incident.runbook:
        annotations["runbook_url"] = incident.runbook
    alert: dict[str, Any] = {
        "labels": alert_labels(incident),
        "annotations": annotations,
        "startsAt": iso(incident.opened_at),
    }
    if ends_at is not None:
        alert["endsAt"] = iso(ends_at)
    if incident_url:
        alert["generatorURL"] = incident_url.format(id=incident.id)
    return [alert]
