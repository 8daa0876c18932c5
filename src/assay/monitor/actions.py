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

Payloads and examples: docs/monitor-actions.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.incidents import Incident
from assay.monitor.rules import Observed, RuleEngine
from assay.monitor.store.schema import (
    actions,
    events,
    flags,
    forensic,
    incidents,
    jobs,
    labels,
    outbox,
    quarantine,
    revoked_keys,
    snapshots,
)
from assay.privacy import column_context, mask_text
from assay.privacy.mask import MaskMethod
from assay.spec.monitor import Monitor, Rule

SnapshotSink = Callable[[str, bytes], str | None]
"""Stores one snapshot file: ``(file name, JSON-lines bytes)`` → a reference to the stored
evidence (e.g. the attachment id), or ``None``. :func:`repository_sink` makes one over the
evidence repository; whatever it raises fails the snapshot action (with the message)."""

SNAPSHOT_KIND = "monitor_snapshot"
SNAPSHOT_MEDIA_TYPE = "application/x-ndjson"
LOCAL_RETRY = ("snapshot", "autoscale")
_TAIL = 2000
_ID_CHUNK = 500


def repository_sink(repository: Any, run_ref: str, *, kind: str = SNAPSHOT_KIND) -> SnapshotSink:
    """A sink attaching each snapshot to run ``run_ref`` of an
    :class:`assay.evidence.Repository` (``repository.attach(run_ref, kind, files)``); returns
    the attachment id."""

    def sink(name: str, data: bytes) -> str:
        stored = repository.attach(run_ref, kind, [(name, SNAPSHOT_MEDIA_TYPE, data)])
        return str(stored.id)

    return sink


@dataclass(frozen=True)
class ActionResult:
    """What one action (on one target) did, or found already done."""

    action: str
    key: str
    outcome: str
    seq: int | None
    detail: dict[str, Any]
    done_before: bool = False
    """The key was already logged: nothing ran this time (``outcome`` is the logged one)."""


@dataclass(frozen=True)
class FireResult:
    """A rule firing on an observation: the incident and every action's result."""

    incident: Incident
    opened: bool
    actions: list[ActionResult] = field(default_factory=list)


@dataclass(frozen=True)
class _Fire:
    rule: Rule
    obs: Observed
    incident: Incident
    now: float


class _ActionError(Exception):
    """An action that could not make its effect; the message goes to the detail."""


class ActionRunner:
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

    # --------------------------------------------------------------------- the action log

    def _claim(
        self, conn: Connection, fire: _Fire, action: str, key: str
    ) -> tuple[int | None, ActionResult | None]:
        """Log ``key`` as running: ``(seq, None)``; or ``(None, result)`` if it is logged and
        must not run again."""
        row = conn.execute(select(actions).where(actions.c.key == key)).first()
        if row is None:
            result = conn.execute(
                insert(actions).values(
                    key=key,
                    incident_id=fire.incident.id,
                    rule=fire.rule.name,
                    action=action,
                    started=fire.now,
                    outcome="running",
                    attempts=1,
                    detail="{}",
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            return int(pk[0]), None
        detail = json.loads(row.detail)
        retry = action in LOCAL_RETRY and row.attempts < self.max_local_attempts
        failed = row.outcome == "failed" and bool(detail.get("retryable"))
        stale = row.outcome == "running" and row.started <= fire.now - self.stale_after
        if retry and (failed or stale):
            conn.execute(
                update(actions)
                .where(and_(actions.c.seq == row.seq, actions.c.attempts == row.attempts))
                .values(outcome="running", attempts=row.attempts + 1, finished=None)
            )
            return int(row.seq), None
        return None, ActionResult(action, key, row.outcome, int(row.seq), detail, done_before=True)

    def _finish(
        self,
        conn: Connection,
        fire: _Fire,
        action: str,
        key: str,
        seq: int,
        outcome: str,
        detail: dict[str, Any],
        *,
        timeline: bool = True,
    ) -> ActionResult:
        finished = None if outcome == "running" else fire.now
        conn.execute(
            update(actions)
            .where(actions.c.seq == seq)
            .values(outcome=outcome, finished=finished, detail=webhooks.dumps(detail))
        )
        if timeline:
            note = {"action": action, "key": key, "outcome": outcome, **detail}
            inc.add_timeline(conn, fire.incident.id, "action", note, now=fire.now)
        return ActionResult(action, key, outcome, seq, detail)

    def _webhook_action(
        self,
        conn: Connection,
        fire: _Fire,
        action: str,
        key: str,
        url: str | None,
        setting: str,
        payload: Any,
        detail: dict[str, Any],
        *,
        local_effect: bool,
    ) -> ActionResult | None:
        """Claim ``key``, queue ``payload`` to ``url`` and finish the row; ``None`` if the key
        was logged before (the caller then reports that)."""
        seq, before = self._claim(conn, fire, action, key)
        if seq is None:
            assert before is not None
            return before
        if url:
            outbox_id = webhooks.enqueue(
                conn,
                action,
                url,
                payload,
                now=fire.now,
                action_seq=seq,
                incident_id=fire.incident.id,
            )
            detail = {**detail, "webhook": url, "outbox": outbox_id}
            return self._finish(conn, fire, action, key, seq, "running", detail)
        note = f"no webhook set ({setting})"
        if local_effect:
            detail = {**detail, "webhook": None, "note": f"{note}; the local effect is done"}
            return self._finish(conn, fire, action, key, seq, "ok", detail)
        detail = {
            **detail,
            "webhook": None,
            "error": f"{note}; nothing was sent",
            "payload": payload,
        }
        return self._finish(conn, fire, action, key, seq, "failed", detail)

    # --------------------------------------------------------------------------- snapshot

    def _snapshot(self, engine: Engine, fire: _Fire) -> ActionResult:
        key = f"{fire.incident.id}:snapshot"
        try:
            with engine.begin() as conn:
                seq, before = self._claim(conn, fire, "snapshot", key)
        except IntegrityError:  # another runner claimed it between our read and insert
            with engine.connect() as conn:
                row = conn.execute(select(actions).where(actions.c.key == key)).one()
            return ActionResult(
                "snapshot", key, row.outcome, int(row.seq), json.loads(row.detail), True
            )
        if seq is None:
            assert before is not None
            return before
        masked = self.monitor.mask_snapshots
        name = f"snapshot-incident-{fire.incident.id}-{fire.rule.name}-{int(fire.now)}.jsonl"
        base: dict[str, Any] = {
            "window": fire.obs.window,
            "start": fire.obs.start,
            "end": fire.obs.end,
            "masked": masked,
        }
        try:
            with engine.connect() as conn:
                records = self._window_events(conn, fire.obs)
            data = b"".join(
                webhooks.dumps(self._masked(r) if masked else r).encode() + b"\n" for r in records
            )
            if self.snapshot_sink is None:
                raise _ActionError(
                    "no snapshot sink is configured, so the window's events could not be stored "
                    "as evidence"
                )
            reference = self.snapshot_sink(name, data)
        except Exception as exc:  # a sink or masker failure is the action's outcome
            detail = {**base, "error": f"{type(exc).__name__}: {exc}", "retryable": True}
            if isinstance(exc, _ActionError):
                detail["error"] = str(exc)
            with engine.begin() as conn:
                return self._finish(conn, fire, "snapshot", key, seq, "failed", detail)
        sha = hashlib.sha256(data).hexdigest()
        detail = {
            **base,
            "file": name,
            "events": len(records),
            "bytes": len(data),
            "sha256": sha,
            "evidence": reference,
        }
        if not records:
            detail["note"] = "no stored events in the window (pruned, or not yet written)"
        with engine.begin() as conn:
            conn.execute(
                insert(snapshots).values(
                    incident_id=fire.incident.id, ts=fire.now, events=len(records), evidence=sha
                )
            )
            return self._finish(conn, fire, "snapshot", key, seq, "ok", detail)

    def _window_events(self, conn: Connection, obs: Observed) -> list[dict[str, Any]]:
        columns = [*events.c, labels.c.label]
        joined = events.outerjoin(labels, labels.c.event_id == events.c.id)
        rows: list[Any] = []
        if obs.event_ids:
            ids = list(dict.fromkeys(obs.event_ids))[: self.max_snapshot_events]
            for start in range(0, len(ids), _ID_CHUNK):
                chunk = ids[start : start + _ID_CHUNK]
                rows += conn.execute(
                    select(*columns).select_from(joined).where(events.c.id.in_(chunk))
                ).all()
            rows.sort(key=lambda r: r.seq)
        else:
            rows = list(
                conn.execute(
                    select(*columns)
                    .select_from(joined)
                    .where(and_(events.c.ts >= obs.start, events.c.ts <= obs.end))
                    .order_by(events.c.seq)
                    .limit(self.max_snapshot_events)
                )
            )
        return [
            {
                "id": r.id,
                "ts": r.ts,
                "received": r.received,
                "model_version": r.model_version,
                "session_id": r.session_id,
                "key_id": r.key_id,
                "features": json.loads(r.features),
                "prediction": r.prediction,
                "score": r.score,
                "latency_ms": r.latency_ms,
                "output_text": r.output_text,
                "label": r.label,
            }
            for r in rows
        ]

    def _mask(self, text: str, column: str | None = None) -> str:
        context = column_context(column) if column else frozenset()
        return mask_text(text, self.mask_method, self.mask_key, context=context)

    def _masked(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        if isinstance(out["output_text"], str):
            out["output_text"] = self._mask(out["output_text"])
        features = out["features"]
        if isinstance(features, dict):
            out["features"] = {
                name: self._mask(value, name) if isinstance(value, str) else value
                for name, value in features.items()
            }
        return out

    # ----------------------------------------------------------------- webhook actions

    def _text(self, fire: _Fire) -> str:
        condition = fire.rule.condition
        value = fire.obs.metrics.get(condition.metric)
        shown = "n/a" if value is None else f"{float(value):g}"
        return (
            f"{fire.rule.signal} on {fire.obs.subject}: {condition.metric} = {shown} "
            f"(rule {fire.rule.name}: {fire.rule.when})"
        )

    def _description(self, fire: _Fire) -> str:
        obs = fire.obs
        metrics = ", ".join(f"{k}={float(v):g}" for k, v in sorted(obs.metrics.items()))
        text = (
            f"Rule {fire.rule.name} fired on window {obs.window} ({obs.n} events, "
            f"{inc.iso(obs.start)} to {inc.iso(obs.end)}). Metrics: {metrics}. "
            f"Incident {fire.incident.id}, owner {fire.incident.owner}."
        )
        if obs.keys:
            text += f" Keys: {', '.join(obs.keys[:10])}."
        return text

    def _window(self, fire: _Fire) -> dict[str, Any]:
        obs = fire.obs
        return {"key": obs.window, "start": obs.start, "end": obs.end, "n": obs.n}

    def _summary(self, fire: _Fire) -> dict[str, Any]:
        return inc.incident_summary(fire.incident, self.incident_url)

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
            outbox_id = webhooks.enqueue(
                conn,
                "retrain",
                url,
                body,
                now=fire.now,
                action_seq=seq,
                incident_id=fire.incident.id,
            )
            detail.update(webhook=url, outbox=outbox_id)
            return [self._finish(conn, fire, "retrain", key, seq, "running", detail)]
        detail.update(
            webhook=None,
            note="no webhook set (monitor.webhooks.retrain); the job is queued in the jobs table",
        )
        return [self._finish(conn, fire, "retrain", key, seq, "ok", detail)]

    # ------------------------------------------------------------------------- flags

    def _set_flag(self, conn: Connection, name: str, value: Any, now: float) -> Any:
        """Set flag ``name`` to ``value``; the value it had before (``None`` if unset)."""
        row = conn.execute(select(flags.c.value).where(flags.c.name == name)).first()
        encoded = webhooks.dumps(value)
        if row is None:
            conn.execute(
                insert(flags).values(name=name, value=encoded, updated=now, by=inc.MONITOR)
            )
            return None
        conn.execute(
            update(flags)
            .where(flags.c.name == name)
            .values(value=encoded, updated=now, by=inc.MONITOR)
        )
        return json.loads(row.value)

    def _flag(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(flags.c.value).where(flags.c.name == name)).first()
        return None if row is None else json.loads(row.value)

    def _route_fallback(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        key = f"{fire.incident.id}:route_fallback"
        seq, before = self._claim(conn, fire, "route_fallback", key)
        if seq is None:
            assert before is not None
            return [before]
        if self.monitor.fallback is None:
            detail = {"error": "monitor.fallback is unset; there is nothing to route to"}
            return [self._finish(conn, fire, "route_fallback", key, seq, "failed", detail)]
        current = self._flag(conn, "route")
        fallback = self.monitor.fallback.url
        if isinstance(current, dict) and current.get("target") == "fallback":
            detail = {
                "target": "fallback",
                "url": fallback,
                "note": f"already on the fallback since {inc.iso(current.get('since'))} "
                f"(incident {current.get('incident')})",
            }
        else:
            value = {"target": "fallback", "since": fire.now, "incident": fire.incident.id}
            previous = self._set_flag(conn, "route", value, fire.now)
            detail = {"target": "fallback", "url": fallback, "previous": previous}
        return [self._finish(conn, fire, "route_fallback", key, seq, "ok", detail)]

    def _degraded_mode(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        key = f"{fire.incident.id}:degraded_mode"
        seq, before = self._claim(conn, fire, "degraded_mode", key)
        if seq is None:
            assert before is not None
            return [before]
        if self._flag(conn, "degraded_mode") is True:
            detail: dict[str, Any] = {"degraded_mode": True, "note": "degraded mode was already on"}
        else:
            self._set_flag(conn, "degraded_mode", True, fire.now)
            detail = {"degraded_mode": True}
        return [self._finish(conn, fire, "degraded_mode", key, seq, "ok", detail)]

    # ------------------------------------------------------------------ per-target actions

    def _per_target(
        self,
        conn: Connection,
        fire: _Fire,
        action: str,
        targets: Iterable[str],
        what: str,
        apply: Callable[[Connection, str, int], dict[str, Any]],
    ) -> list[ActionResult]:
        """Run ``apply(conn, target, seq)`` once per new target; one timeline line for all."""
        unique = list(dict.fromkeys(t for t in targets if t))
        if not unique:
            key = f"{fire.incident.id}:{action}"
            seq, before = self._claim(conn, fire, action, key)
            if seq is None:
                assert before is not None
                return [before]
            detail = {what: [], "note": f"the observation named no {what}; nothing to do"}
            return [self._finish(conn, fire, action, key, seq, "ok", detail)]
        results: list[ActionResult] = []
        for target in unique:
            key = f"{fire.incident.id}:{action}:{target}"
            seq, before = self._claim(conn, fire, action, key)
            if seq is None:
                assert before is not None
                results.append(before)
                continue
            detail = apply(conn, target, seq)
            outcome = "running" if detail.get("outbox") else "ok"
            results.append(
                self._finish(conn, fire, action, key, seq, outcome, detail, timeline=False)
            )
        fresh = [r for r in results if not r.done_before]
        if fresh:
            note = {
                "action": action,
                what: [r.key.split(":", 2)[2] for r in fresh],
                "outcomes": {r.key.split(":", 2)[2]: r.outcome for r in fresh},
                "notes": {
                    r.key.split(":", 2)[2]: r.detail["note"] for r in fresh if "note" in r.detail
                },
            }
            inc.add_timeline(conn, fire.incident.id, "action", note, now=fire.now)
        return results

    def _quarantine_sessions(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        def apply(conn: Connection, session: str, seq: int) -> dict[str, Any]:
            row = conn.execute(select(quarantine).where(quarantine.c.session_id == session)).first()
            if row is None:
                conn.execute(
                    insert(quarantine).values(
                        session_id=session, incident_id=fire.incident.id, since=fire.now
                    )
                )
                return {"session": session, "since": fire.now}
            if row.released_at is not None:
                conn.execute(
                    update(quarantine)
                    .where(quarantine.c.session_id == session)
                    .values(incident_id=fire.incident.id, since=fire.now, released_at=None)
                )
                return {
                    "session": session,
                    "since": fire.now,
                    "note": f"quarantined again (released at {inc.iso(row.released_at)})",
                }
            return {
                "session": session,
                "since": row.since,
                "note": f"already quarantined since {inc.iso(row.since)} "
                f"(incident {row.incident_id})",
            }

        return self._per_target(
            conn, fire, "quarantine_sessions", fire.obs.sessions, "sessions", apply
        )

    def _revoke_keys(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        url = self.monitor.webhooks.keys_revoked
        reason = (
            f"incident {fire.incident.id}: rule {fire.rule.name} ({fire.rule.when}) on "
            f"{fire.obs.subject}"
        )

        def apply(conn: Connection, key_id: str, seq: int) -> dict[str, Any]:
            row = conn.execute(select(revoked_keys).where(revoked_keys.c.key_id == key_id)).first()
            if row is not None:
                return {
                    "key_id": key_id,
                    "note": f"already revoked at {inc.iso(row.revoked_at)}: {row.reason}",
                }
            conn.execute(
                insert(revoked_keys).values(
                    key_id=key_id, revoked_at=fire.now, reason=reason, incident_id=fire.incident.id
                )
            )
            detail: dict[str, Any] = {"key_id": key_id, "revoked_at": fire.now, "reason": reason}
            if not url:
                detail.update(
                    webhook=None,
                    note="no webhook set (monitor.webhooks.keys_revoked); the key is revoked",
                )
                return detail
            body = {
                "kind": "assay.keys_revoked",
                "text": f"API key {key_id} revoked: {reason}",
                "key_id": key_id,
                "revoked_at": fire.now,
                "revoked": inc.iso(fire.now),
                "reason": reason,
                "incident": self._summary(fire),
            }
            outbox_id = webhooks.enqueue(
                conn,
                "revoke_keys",
                url,
                body,
                now=fire.now,
                action_seq=seq,
                incident_id=fire.incident.id,
            )
            detail.update(webhook=url, outbox=outbox_id)
            return detail

        return self._per_target(conn, fire, "revoke_keys", fire.obs.keys, "keys", apply)

    def _forensic_logging(self, conn: Connection, fire: _Fire) -> list[ActionResult]:
        until = fire.now + self.monitor.forensic_minutes * 60.0

        def apply(conn: Connection, key_id: str, seq: int) -> dict[str, Any]:
            row = conn.execute(select(forensic).where(forensic.c.key_id == key_id)).first()
            if row is None:
                conn.execute(
                    insert(forensic).values(
                        key_id=key_id, until=until, incident_id=fire.incident.id
                    )
                )
                return {"key_id": key_id, "until": until}
            if row.until >= until:
                return {
                    "key_id": key_id,
                    "until": row.until,
                    "note": f"already captured until {inc.iso(row.until)}",
                }
            conn.execute(
                update(forensic)
                .where(forensic.c.key_id == key_id)
                .values(until=until, incident_id=fire.incident.id)
            )
            return {"key_id": key_id, "until": until, "previous_until": row.until}

        return self._per_target(conn, fire, "forensic_logging", fire.obs.keys, "keys", apply)

    # ------------------------------------------------------------------------- autoscale

    def _autoscale(self, conn: Connection, fire: _Fire) -> tuple[list[ActionResult], int | None]:
        """Queue the autoscaling webhook and claim the command; the command runs after the
        transaction (:meth:`_run_command`)."""
        url = self.monitor.webhooks.autoscale
        command = self.monitor.autoscale_command
        base = f"{fire.incident.id}:autoscale"
        if not url and not command:
            seq, before = self._claim(conn, fire, "autoscale", base)
            if seq is None:
                assert before is not None
                return [before], None
            detail = {
                "webhook": None,
                "command": None,
                "error": "neither monitor.webhooks.autoscale nor monitor.autoscale_command is set",
            }
            return [self._finish(conn, fire, "autoscale", base, seq, "failed", detail)], None
        results: list[ActionResult] = []
        if url:
            payload = {
                "kind": "assay.autoscale",
                "direction": "up",
                "text": f"Scale up: {self._text(fire)}",
                "incident": self._summary(fire),
                "signal": fire.rule.signal,
                "metrics": dict(fire.obs.metrics),
                "window": self._window(fire),
            }
            found = self._webhook_action(
                conn,
                fire,
                "autoscale",
                f"{base}:webhook",
                url,
                "monitor.webhooks.autoscale",
                payload,
                {},
                local_effect=False,
            )
            assert found is not None
            results.append(found)
        command_seq: int | None = None
        if command:
            seq, before = self._claim(conn, fire, "autoscale", f"{base}:command")
            if seq is None:
                assert before is not None
                results.append(before)
            else:
                command_seq = seq
        return results, command_seq

    def _run_command(self, engine: Engine, fire: _Fire, seq: int) -> ActionResult:
        argv = list(self.monitor.autoscale_command or ())
        key = f"{fire.incident.id}:autoscale:command"
        env = {
            **os.environ,
            "ASSAY_INCIDENT": str(fire.incident.id),
            "ASSAY_RULE": fire.rule.name,
            "ASSAY_SIGNAL": fire.rule.signal,
            "ASSAY_SUBJECT": fire.obs.subject,
            "ASSAY_SEVERITY": fire.incident.severity,
            "ASSAY_METRICS": webhooks.dumps(dict(fire.obs.metrics)),
        }
        detail: dict[str, Any] = {"command": argv, "timeout": self.command_timeout}
        began = time.monotonic()
        outcome = "failed"
        try:
            done = subprocess.run(  # an argv list from the spec, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.command_timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            detail.update(
                error=f"the command did not finish within {self.command_timeout:g} s; "
                "it was killed",
                stdout=_tail(exc.stdout),
                stderr=_tail(exc.stderr),
                retryable=True,
            )
        except OSError as exc:
            detail.update(error=f"the command could not start: {exc}", retryable=True)
        else:
            detail.update(
                exit_code=done.returncode, stdout=_tail(done.stdout), stderr=_tail(done.stderr)
            )
            if done.returncode == 0:
                outcome = "ok"
            else:
                detail.update(error=f"the command exited with {done.returncode}", retryable=True)
        detail["seconds"] = round(time.monotonic() - began, 3)
        with engine.begin() as conn:
            return self._finish(conn, fire, "autoscale", key, seq, outcome, detail)


def _tail(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[-_TAIL:]


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


# --------------------------------------------------------------------- alert refreshes


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


def snapshots_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    """The incident's snapshots: ``(id, ts, events, evidence sha256)`` rows, oldest first."""
    return conn.execute(
        select(snapshots).where(snapshots.c.incident_id == incident_id).order_by(snapshots.c.id)
    ).all()
