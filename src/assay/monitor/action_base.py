"""What every automated action builds on: the result types, the action log and the payload
pieces.

:class:`ActionBase` claims and finishes rows of the ``actions`` log (see
:mod:`assay.monitor.actions` for the keys and outcomes), queues an action's webhook, and builds
the text, window and incident summary the payloads share. :class:`ActionRunner
<assay.monitor.actions.ActionRunner>` inherits it through the action mixins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.incidents import Incident
from assay.monitor.rules import Observed
from assay.monitor.store.schema import actions
from assay.spec.monitor import Monitor, Rule

LOCAL_RETRY = ("snapshot", "autoscale")


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


class ActionBase:
    """The action log and the payload pieces; :class:`ActionRunner
    <assay.monitor.actions.ActionRunner>` sets the attributes."""

    monitor: Monitor
    incident_url: str | None
    max_local_attempts: int
    stale_after: float

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

    def _queue(
        self, conn: Connection, fire: _Fire, action: str, url: str, payload: Any, seq: int
    ) -> dict[str, Any]:
        """Queue ``payload`` to ``url`` in the outbox for the action row ``seq``; the detail
        fields that say so (``webhook``, ``outbox``)."""
        outbox_id = webhooks.enqueue(
            conn, action, url, payload, now=fire.now, action_seq=seq, incident_id=fire.incident.id
        )
        return {"webhook": url, "outbox": outbox_id}

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
            detail = {**detail, **self._queue(conn, fire, action, url, payload, seq)}
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

    # ---------------------------------------------------------------------- payload pieces

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
