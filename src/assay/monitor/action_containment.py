"""Containment actions: routing to the fallback, degraded mode, and the per-target actions
(quarantining sessions, revoking keys, forensic logging).

:class:`ContainmentActions` keeps the ``route`` and ``degraded_mode`` flags in the ``flags``
table and acts once per new session or key, with one timeline line for all targets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, insert, select, update

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.action_base import ActionBase, ActionResult, _Fire
from assay.monitor.store.schema import flags, forensic, quarantine, revoked_keys


class ContainmentActions(ActionBase):
    """``route_fallback``, ``degraded_mode``, ``quarantine_sessions``, ``revoke_keys`` and
    ``forensic_logging``."""

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
            detail.update(self._queue(conn, fire, "revoke_keys", url, body, seq))
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
