"""Automated actions: what runs when a rule fires, each idempotent and recorded.

:meth:`ActionRunner.fire` opens or updates the rule's incident and runs the rule's
``actions``. Every action writes a row to the ``actions`` log whose unique ``key`` names the
incident, the action and, for actions on several targets, the target::

    7:snapshot  7:alert  7:retrain  7:route_fallback  7:notify_engineering  7:degraded_mode
    7:autoscale:webhook  7:autoscale:command
    7:quarantine_sessions:<session id>  7:revoke_keys:<key id>  7:forensic_logging:<key id>

An action whose key is already logged does not run again — not when the same window is
handled twice, and not when the incident fires again in a later window (a later window's *new*
sessions and keys are new targets, so they are acted on). The row and the action's effect
commit in one transaction, so the unique key also makes a concurrent duplicate roll back.
Two actions do slow work outside any transaction: ``snapshot`` (reads the window's events and
stores a file as evidence) and the ``autoscale`` command; their row is claimed first
(``running``), the work done, then the outcome recorded. If such an action failed, or a crash
left it ``running`` for :attr:`ActionRunner.stale_after` seconds, the next firing retries it,
up to :attr:`ActionRunner.max_local_attempts` attempts.

Outcomes: ``ok``; ``running`` while the action's webhook waits in the outbox (the outbox sets
``ok``, ``retrying`` or ``failed`` as delivery goes, see :mod:`assay.monitor.webhooks`);
``failed`` with an ``error`` in the detail. An action whose webhook is not configured still
makes its local effect and says ``"webhook": null`` with a ``note``; ``alert`` and
``notify_engineering``, which are nothing but a webhook, are ``failed`` then.

Where the actions live: the action log and the shared payload pieces in
:mod:`assay.monitor.action_base`; ``snapshot`` in :mod:`assay.monitor.action_snapshot`;
``route_fallback``, ``degraded_mode`` and the per-target actions in
:mod:`assay.monitor.action_containment`; ``autoscale`` in :mod:`assay.monitor.action_autoscale`;
``alert``, ``notify_engineering`` and ``retrain`` here. Alert refreshes:
:mod:`assay.monitor.alert_refresh`.

Payloads and examples: docs/monitor-actions.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.action_autoscale import AutoscaleActions
from assay.monitor.action_base import LOCAL_RETRY, ActionResult, FireResult, _Fire
from assay.monitor.action_containment import ContainmentActions
from assay.monitor.action_snapshot import (
    SNAPSHOT_KIND,
    SNAPSHOT_MEDIA_TYPE,
    SnapshotActions,
    SnapshotSink,
    repository_sink,
    snapshots_of,
)
from assay.monitor.alert_refresh import resend_alerts
from assay.monitor.incidents import Incident
from assay.monitor.rules import Observed, RuleEngine
from assay.monitor.store.schema import jobs, snapshots
from assay.privacy.mask import MaskMethod
from assay.spec.monitor import Monitor, Rule

__all__ = [
    "LOCAL_RETRY",
    "SNAPSHOT_KIND",
    "SNAPSHOT_MEDIA_TYPE",
    "ActionResult",
    "ActionRunner",
    "FireResult",
    "SnapshotSink",
    "repository_sink",
    "resend_alerts",
    "snapshots_of",
]


class ActionRunner(SnapshotActions, ContainmentActions, AutoscaleActions):
    """Runs rules' actions for the monitor ``monitor``.

    ``default_owner`` owns incidents of rules without an ``owner`` (pass
    ``spec.owner_for("monitoring")``). ``snapshot_sink`` stores snapshot files (without one
    the snapshot action fails, saying so). Snapshots mask text with ``mask_method``
    (``redact``, ``partial``, or ``hash`` with ``mask_key``) unless ``monitor.mask_snapshots``
    is false. ``incident_url`` (a template with ``{id}``) links payloads to the incident page.
    """

    def __init__(
        self,
        monitor: Monitor,
        *,
        default_owner: str = "unassigned",
        snapshot_sink: SnapshotSink | None = None,
        mask_method: MaskMethod = "redact",
        mask_key: bytes | str | None = None,
        command_timeout: float = 30.0,
        incident_url: str | None = None,
        max_snapshot_events: int = 100_000,
        max_local_attempts: int = 3,
        stale_after: float = 600.0,
    ) -> None:
        self.monitor = monitor
        self.default_owner = default_owner
        self.snapshot_sink = snapshot_sink
        self.mask_method: MaskMethod = mask_method
        self.mask_key = mask_key
        self.command_timeout = command_timeout
        self.incident_url = incident_url
        self.max_snapshot_events = max_snapshot_events
        self.max_local_attempts = max_local_attempts
        self.stale_after = stale_after
        self.rules = RuleEngine(monitor)

    # ------------------------------------------------------------------------ entry points

    def handle(self, engine: Engine, obs: Observed, *, now: float) -> list[FireResult]:
        """Fire every rule ``obs`` matches (see :class:`RuleEngine`)."""
        return [self.fire(engine, rule, obs, now=now) for rule in self.rules.match(obs)]

    def fire(self, engine: Engine, rule: Rule, obs: Observed, *, now: float) -> FireResult:
        """Open or update the incident of ``rule`` for ``obs.subject``, then run the rule's
        actions for it."""
        with engine.begin() as conn:
            firing = inc.open_or_update(conn, rule, obs, now=now, default_owner=self.default_owner)
        results = self.run(engine, rule, obs, firing.incident, now=now)
        with engine.connect() as conn:
            incident = inc.get(conn, firing.incident.id)
        return FireResult(incident, firing.opened, results)

    def run(
        self, engine: Engine, rule: Rule, obs: Observed, incident: Incident, *, now: float
    ) -> list[ActionResult]:
        """Run ``rule.actions`` for ``obs`` and ``incident``. ``snapshot`` runs first (so a
        retraining job can cite it), then the others in the rule's order in one transaction,
        then the autoscaling command if one is due."""
        fire = _Fire(rule, obs, incident, now)
        results: list[ActionResult] = []
        if "snapshot" in rule.actions:
            results.append(self._snapshot(engine, fire))
        command_seq: int | None = None
        with engine.begin() as conn:
            for action in rule.actions:
                if action == "snapshot":
                    continue
                if action == "autoscale":
                    found, command_seq = self._autoscale(conn, fire)
                    results += found
                    continue
                results += _HANDLERS[action](self, conn, fire)
        if command_seq is not None:
            results.append(self._run_command(engine, fire, command_seq))
        return results

    # ----------------------------------------------------------------- webhook actions

    def _alert(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        payload = inc.alert_payload(
            fire.incident,
            summary=self._text(fire),
            description=self._description(fire),
            incident_url=self.incident_url,
        )
        result = self._webhook_action(
            conn,
            fire,
            "alert",
            f"{fire.incident.id}:alert",
            self.monitor.webhooks.alert,
            "monitor.webhooks.alert",
            payload,
            {"labels": payload[0]["labels"]},
            local_effect=False,
        )
        assert result is not None
        return [result]

    def _notify_engineering(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        payload = {
            "kind": "assay.notify_engineering",
            "text": f"[{fire.incident.severity.upper()}] {self._text(fire)}",
            "description": self._description(fire),
            "incident": self._summary(fire),
            "window": self._window(fire),
            "metrics": dict(fire.obs.metrics),
            "details": dict(fire.obs.details),
        }
        result = self._webhook_action(
            conn,
            fire,
            "notify_engineering",
            f"{fire.incident.id}:notify_engineering",
            self.monitor.webhooks.engineering,
            "monitor.webhooks.engineering",
            payload,
            {},
            local_effect=False,
        )
        assert result is not None
        return [result]

    def _retrain(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        key = f"{fire.incident.id}:retrain"
        seq, before = self._claim(conn, fire, "retrain", key)
        if seq is None:
            assert before is not None
            return [before]
        taken = conn.execute(
            select(snapshots.c.evidence, snapshots.c.events, snapshots.c.ts)
            .where(snapshots.c.incident_id == fire.incident.id)
            .order_by(snapshots.c.id)
        ).all()
        payload: dict[str, Any] = {
            "incident": fire.incident.id,
            "rule": fire.rule.name,
            "signal": fire.rule.signal,
            "subject": fire.obs.subject,
            "window": self._window(fire),
            "metrics": dict(fire.obs.metrics),
            "evidence": {
                "baseline": self.monitor.baseline,
                "reference": self.monitor.reference,
                "snapshots": [
                    {"sha256": s.evidence, "events": s.events, "ts": s.ts} for s in taken
                ],
            },
        }
        created = conn.execute(
            insert(jobs).values(
                kind="retrain",
                incident_id=fire.incident.id,
                created=fire.now,
                status="queued",
                payload=webhooks.dumps(payload),
            )
        )
        pk = created.inserted_primary_key
        assert pk is not None
        job_id = int(pk[0])
        detail: dict[str, Any] = {"job": job_id}
        url = self.monitor.webhooks.retrain
        body = {
            "kind": "assay.retrain",
            "job": {"id": job_id, "status": "queued", **payload},
            "incident": self._summary(fire),
        }
        if url:
            detail.update(self._queue(conn, fire, "retrain", url, body, seq))
            return [self._finish(conn, fire, "retrain", key, seq, "running", detail)]
        detail.update(
            webhook=None,
            note="no webhook set (monitor.webhooks.retrain); the job is queued in the jobs table",
        )
        return [self._finish(conn, fire, "retrain", key, seq, "ok", detail)]


_Handler = Callable[[ActionRunner, Connection, _Fire], list[ActionResult]]
_HANDLERS: dict[str, _Handler] = {
    "alert": ActionRunner._alert,
    "retrain": ActionRunner._retrain,
    "route_fallback": ActionRunner._route_fallback,
    "notify_engineering": ActionRunner._notify_engineering,
    "degraded_mode": ActionRunner._degraded_mode,
    "quarantine_sessions": ActionRunner._quarantine_sessions,
    "revoke_keys": ActionRunner._revoke_keys,
    "forensic_logging": ActionRunner._forensic_logging,
}
