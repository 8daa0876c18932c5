"""The ``snapshot`` action: the window's events, masked, stored as evidence.

:class:`SnapshotActions` reads the events of the firing window (with their labels), masks
their text unless ``monitor.mask_snapshots`` is false, and hands the JSON-lines file to the
runner's :data:`SnapshotSink`; :func:`repository_sink` makes a sink over the evidence
repository, and :func:`snapshots_of` lists an incident's snapshots.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select
from sqlalchemy.exc import IntegrityError

from assay.monitor import webhooks
from assay.monitor.action_base import ActionBase, ActionResult, _Fire
from assay.monitor.rules import Observed
from assay.monitor.store.schema import actions, events, labels, snapshots
from assay.privacy import column_context, mask_text
from assay.privacy.mask import MaskMethod

SnapshotSink = Callable[[str, bytes], str | None]
"""Stores one snapshot file: ``(file name, JSON-lines bytes)`` → a reference to the stored
evidence (e.g. the attachment id), or ``None``. :func:`repository_sink` makes one over the
evidence repository; whatever it raises fails the snapshot action (with the message)."""

SNAPSHOT_KIND = "monitor_snapshot"
SNAPSHOT_MEDIA_TYPE = "application/x-ndjson"
_ID_CHUNK = 500


def repository_sink(repository: Any, run_ref: str, *, kind: str = SNAPSHOT_KIND) -> SnapshotSink:
    """A sink attaching each snapshot to run ``run_ref`` of an
    :class:`assay.evidence.Repository` (``repository.attach(run_ref, kind, files)``); returns
    the attachment id."""

    def sink(name: str, data: bytes) -> str:
        stored = repository.attach(run_ref, kind, [(name, SNAPSHOT_MEDIA_TYPE, data)])
        return str(stored.id)

    return sink


class _ActionError(Exception):
    """An action that could not make its effect; the message goes to the detail."""


class SnapshotActions(ActionBase):
    """The ``snapshot`` action; :class:`ActionRunner <assay.monitor.actions.ActionRunner>`
    sets the attributes."""

    snapshot_sink: SnapshotSink | None
    mask_method: MaskMethod
    mask_key: bytes | str | None
    max_snapshot_events: int

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


def snapshots_of(conn: Connection, incident_id: int) -> Sequence[Any]:
    """The incident's snapshots: ``(id, ts, events, evidence sha256)`` rows, oldest first."""
    return conn.execute(
        select(snapshots).where(snapshots.c.incident_id == incident_id).order_by(snapshots.c.id)
    ).all()
