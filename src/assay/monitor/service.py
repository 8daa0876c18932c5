"""The monitor's engine room: ingest → store → detectors → rules → actions and incidents.

:class:`MonitorService` holds everything one replica needs and is what the HTTP app calls. The
ingest path (:meth:`MonitorService.ingest_events`) runs in a worker thread: it stores the batch
in one transaction, then feeds the detectors; observations whose window closed go to a single
*actions* thread, so a slow webhook or autoscaling command never stalls ingest. A background
task (:meth:`MonitorService.background`) closes time windows, escalates overdue incidents and
delivers the webhook outbox — the last two on one replica at a time (a lease in the shared
database) — and prunes traffic older than the retention period.

Backpressure: at most ``monitor.limits.max_queue`` events may wait for the writer; beyond that
:class:`BusyError` (HTTP 429 with ``Retry-After``) instead of an unbounded queue.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from assay.monitor import api_models as api
from assay.monitor.clock import Clock, SystemClock
from assay.monitor.detectors import Detectors, EventBatch, Observation
from assay.monitor.store import state, traffic
from assay.monitor.store.db import Database
from assay.profiles.baseline import Baseline
from assay.spec import Spec
from assay.spec.monitor import Monitor

log = logging.getLogger("assay.monitor")

ESCALATION_LEASE = "escalation"
LEASE_TTL = 10.0
"""Seconds a replica holds the escalation lease without renewing it (clock seconds)."""
HISTORY = 500
"""Points kept per dashboard time series."""
HISTORY_METRICS = {
    "accuracy_drop": ("accuracy",),
    "latency_spike": ("p50_ms", "p95_ms", "p99_ms"),
    "input_shift": ("share_drifted",),
}
STATE_REFRESH = 1.0
"""Real seconds between reloads of quarantined sessions and forensic keys on the ingest path."""
REVOCATION_REFRESH = 1.0
"""Seconds between reloads of the revoked-key set from the shared database."""


class BusyError(Exception):
    """Too many events wait for the writer; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"busy; retry after {retry_after:.1f} s")
        self.retry_after = retry_after


class BadBatchError(Exception):
    """A batch the service refuses as a whole (unknown model version, oversized): HTTP 4xx."""

    def __init__(self, status: int, message: str, problems: Sequence[api.Problem] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.problems = list(problems)


@dataclass(frozen=True)
class _Guarded:
    quarantined: set[str]
    forensic: dict[str, float]  # key id → capture until
    read_at: float


@dataclass
class _Pending:
    """One request's batch waiting for the group commit, and what became of it."""

    records: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    columns: EventBatch
    now: float
    stored: int = 0
    held: int = 0
    accepted: api.Accepted | None = None
    error: Exception | None = None
    done: bool = False


@dataclass
class Stats:
    """Counters the dashboard and /metrics read."""

    events_in: int = 0
    events_stored: int = 0
    duplicates: int = 0
    labels: int = 0
    kpis: int = 0
    rejected_batches: int = 0
    busy: int = 0
    observations: int = 0
    throughput: list[tuple[float, int]] = field(default_factory=list)  # (clock second, events)


class MonitorService:
    """One replica of the monitor over a :class:`Database`."""

    def __init__(
        self,
        spec: Spec,
        db: Database,
        baseline: Baseline,
        *,
        clock: Clock | None = None,
        handler: Callable[[MonitorService, list[Observation]], None] | None = None,
        replica: str | None = None,
    ) -> None:
        if spec.monitor is None:
            raise ValueError("the spec has no `monitor:` section")
        self.spec = spec
        self.monitor: Monitor = spec.monitor
        self.db = db
        self.baseline = baseline
        self.clock: Clock = clock or SystemClock()
        self.replica = replica or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.detectors = Detectors(self.monitor, baseline, clock=self.clock)
        self.stats = Stats()
        self._handler = handler
        self._write_lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._actions = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assay-actions")
        self._inflight: list[Future[None]] = []
        self._revoked: set[str] = set()
        self._revoked_at = -1e18
        self._forensic: set[str] = set()
        self._versions = set(self.monitor.model_versions or ())
        self._guard: _Guarded | None = None
        self.history: dict[str, list[tuple[float, float]]] = {}
        self._history_lock = threading.Lock()

    # ---------------------------------------------------------------------------- ingest

    def _admit(self, n: int) -> None:
        limits = self.monitor.limits
        if n > limits.max_batch:
            raise BadBatchError(
                413,
                f"the batch holds {n} events; at most {limits.max_batch} per request "
                "(monitor.limits.max_batch). Split it.",
            )
        with self._pending_lock:
            if self._pending + n > limits.max_queue:
                self.stats.busy += 1
                raise BusyError(retry_after=1.0)
            self._pending += n

    def _release(self, n: int) -> None:
        with self._pending_lock:
            self._pending -= n

    def ingest_events(self, batch: api.EventBatch, *, key_id: str | None = None) -> api.Accepted:
        """Store a validated batch, feed the detectors, hand closed windows to the actions
        thread. Thread-safe; called from the app's worker threads.

        Group commit: a batch joins a queue, and whichever thread gets the writer lock stores
        every queued batch in one transaction (one ``COMMIT`` for all: on SQLite the commit
        costs as much as the insert), then feeds the detectors batch by batch in arrival
        order. Each caller gets its own batch's counts; a failed transaction fails every batch
        in it, and none of them is stored."""
        events = batch.events
        self._admit(len(events))
        try:
            self._check_versions(events)
            now = self.clock.now()
            records = [_record(e, now) for e in events]
            pending = _Pending(
                records=records,
                rows=[_row(r, now) for r in records],
                columns=EventBatch.from_records(records),
                now=now,
            )
            with self._queue_lock:
                self._queue.append(pending)
            with self._write_lock:
                if not pending.done:
                    with self._queue_lock:
                        group, self._queue = self._queue, []
                    self._write_group(group)
            if pending.error is not None:
                raise pending.error
            assert pending.accepted is not None
            return pending.accepted
        finally:
            self._release(len(events))

    def _write_group(self, group: list[_Pending]) -> None:
        """Store ``group`` in one transaction, then feed the detectors (under the writer lock)."""
        try:
            with self.db.begin() as conn:
                for item in group:
                    item.stored = traffic.insert_events(conn, item.rows)
                    item.held = self._hold_quarantined(conn, item.records, item.now)
                    self._capture_forensic(conn, item.records, item.now)
        except Exception as exc:
            for item in group:
                item.error = exc
                item.done = True
            return
        for item in group:
            n = len(item.records)
            self.stats.events_in += n
            self.stats.events_stored += item.stored
            self.stats.duplicates += n - item.stored
            self._count_throughput(item.now, item.stored)
            item.accepted = api.Accepted(
                accepted=item.stored, duplicates=n - item.stored, held_for_review=item.held
            )
            try:
                self._dispatch(self.detectors.observe_events(item.columns))
            except Exception as exc:  # stored already: say so, and keep the others going
                log.error("detectors failed on a stored batch: %s", exc, exc_info=exc)
            item.done = True

    def _check_versions(self, events: Sequence[api.Event]) -> None:
        if not self._versions:
            return
        wrong = [
            api.Problem(
                field=f"events[{i}].model_version",
                value=e.model_version,
                message=f"unknown model version; known: {', '.join(sorted(self._versions))}",
            )
            for i, e in enumerate(events)
            if e.model_version not in self._versions
        ]
        if wrong:
            self.stats.rejected_batches += 1
            raise BadBatchError(
                422,
                f"{len(wrong)} event(s) name a model version the spec does not list "
                "(monitor.model_versions); nothing was stored. Fix the version or add it.",
                wrong[:20],
            )

    def _hold_quarantined(self, conn: Any, records: list[dict[str, Any]], now: float) -> int:
        sessions = {r["session_id"] for r in records if r["session_id"]}
        if not sessions:
            return 0
        held_sessions = sessions & self._guarded(conn, now).quarantined
        if not held_sessions:
            return 0
        rows = [
            {
                "event_id": r["id"],
                "session_id": r["session_id"],
                "ts": now,
                "output": pydantic_core.to_json(
                    {k: r[k] for k in ("prediction", "score", "output_text")}
                ).decode(),
                "status": "held",
            }
            for r in records
            if r["session_id"] in held_sessions
        ]
        return state.hold_for_review(conn, rows)

    def _capture_forensic(self, conn: Any, records: list[dict[str, Any]], now: float) -> None:
        keys = self.forensic_keys(conn, now)
        if not keys:
            return
        rows = [
            {"key_id": r["api_key_id"], "ts": now, "request": r}
            for r in records
            if r["api_key_id"] in keys
        ]
        if rows:
            state.log_forensic(conn, rows)

    def forensic_keys(self, conn: Any, now: float) -> set[str]:
        """Keys under forensic capture now (from the cache of :meth:`_guarded`)."""
        guarded = self._guarded(conn, now)
        return {k for k, until in guarded.forensic.items() if until > now}

    def _guarded(self, conn: Any, now: float) -> _Guarded:
        """Quarantined sessions and forensic keys, re-read from the shared database at most
        every :data:`STATE_REFRESH` real seconds (at once after this replica's own actions:
        :meth:`forget_cached_state`) instead of two queries per ingested batch."""
        cached = self._guard
        if cached is not None and time.monotonic() - cached.read_at < STATE_REFRESH:
            return cached
        fresh = _Guarded(
            quarantined=state.quarantined(conn),
            forensic=state.forensic_until(conn, now),
            read_at=time.monotonic(),
        )
        self._guard = fresh
        return fresh

    def _count_throughput(self, now: float, n: int) -> None:
        second = float(int(now))
        series = self.stats.throughput
        if series and series[-1][0] == second:
            series[-1] = (second, series[-1][1] + n)
        else:
            series.append((second, n))
            del series[:-600]

    def ingest_labels(self, batch: api.LabelBatch) -> api.Accepted:
        now = self.clock.now()
        rows = [(lb.event_id, lb.label, api.epoch(lb.timestamp, now)) for lb in batch.labels]
        self._admit(len(rows))
        try:
            with self._write_lock:
                with self.db.begin() as conn:
                    stored = traffic.upsert_labels(conn, rows)
                    found = traffic.events_by_ids(conn, [r[0] for r in rows])
                by_id = {e["id"]: e for e in found}
                joined = [
                    (eid, _nan(by_id[eid]["prediction"]), _nan(by_id[eid]["score"]), label)
                    for eid, label, _ in rows
                    if eid in by_id
                ]
                self.stats.labels += stored
                observations = self.detectors.observe_labels(joined)
            self._dispatch(observations)
            unknown = len(rows) - len(joined)
            return api.Accepted(accepted=len(joined), duplicates=unknown)
        finally:
            self._release(len(rows))

    def ingest_kpis(self, batch: api.KpiBatch) -> api.Accepted:
        now = self.clock.now()
        rows = [(k.name, api.epoch(k.timestamp, now), k.value) for k in batch.kpis]
        with self._write_lock:
            with self.db.begin() as conn:
                stored = traffic.insert_kpis(conn, rows)
            self.stats.kpis += stored
            observations: list[Observation] = []
            for name, ts, value in rows:
                observations += self.detectors.observe_kpi(name, ts, value)
        self._dispatch(observations)
        return api.Accepted(accepted=stored)

    def auth_outcome(self, *, key_id: str | None, ok: bool, known: bool) -> None:
        """Feed one request's authentication outcome to the security detectors."""
        with self._write_lock:
            observations = self.detectors.observe_auth(
                key_id=key_id, ok=ok, known=known, ts=self.clock.now()
            )
        self._dispatch(observations)

    # ------------------------------------------------------------------ observations

    def _dispatch(self, observations: list[Observation]) -> None:
        if not observations:
            return
        self.stats.observations += len(observations)
        self.remember(observations)
        if self._handler is None:
            return
        handler = self._handler
        future = self._actions.submit(handler, self, observations)
        future.add_done_callback(_log_failure)
        self._inflight = [f for f in self._inflight if not f.done()]
        self._inflight.append(future)

    def remember(self, observations: list[Observation]) -> None:
        """Keep the dashboard's time series (the latest :data:`HISTORY` points of each)."""
        with self._history_lock:
            for obs in observations:
                for metric in HISTORY_METRICS.get(obs.signal, ()):
                    value = obs.metrics.get(metric)
                    if value is None or value != value:  # absent or NaN
                        continue
                    series = self.history.setdefault(metric, [])
                    series.append((obs.end, float(value)))
                    del series[:-HISTORY]

    def history_points(self) -> dict[str, list[list[float]]]:
        """A copy of the dashboard's time series: metric → ``[[end, value], …]``."""
        with self._history_lock:
            return {k: [list(p) for p in v] for k, v in self.history.items()}

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every observation handed to the actions thread is handled (tests,
        drills)."""
        for future in list(self._inflight):
            future.result(timeout=timeout)

    def tick(self) -> None:
        """Close time windows that expired; run from the background loop."""
        with self._write_lock:
            observations = self.detectors.tick()
        self._dispatch(observations)

    # ------------------------------------------------------------------ state for routes

    def route(self) -> api.Route:
        with self.db.connect() as conn:
            route = state.get_flag(conn, "route", None) or {"target": "primary"}
            degraded = bool(state.get_flag(conn, "degraded_mode", False))
        return api.Route(
            target=route.get("target", "primary"),
            since=route.get("since"),
            incident=route.get("incident"),
            degraded_mode=degraded,
        )

    def is_revoked(self, key_id: str | None) -> bool:
        """Whether ``key_id`` was revoked by an action (refreshed from the shared database at
        most every :data:`REVOCATION_REFRESH` seconds; at once for this replica's own)."""
        if key_id is None:
            return False
        now = self.clock.now()
        if now - self._revoked_at > REVOCATION_REFRESH:
            with self.db.connect() as conn:
                self._revoked = {r["key_id"] for r in state.revoked_keys(conn)}
            self._revoked_at = now
        return key_id in self._revoked

    def forget_cached_state(self) -> None:
        """Reload the revoked keys, quarantined sessions and forensic keys on their next use
        (after this replica's own actions changed them)."""
        self._revoked_at = -1e18
        self._guard = None

    def close(self) -> None:
        self._actions.shutdown(wait=True)


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("handling observations failed: %s", exc, exc_info=exc)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _record(event: api.Event, now: float) -> dict[str, Any]:
    """An event as the plain record the detectors and the snapshot action read."""
    return {
        "id": event.id,
        "timestamp": api.epoch(event.timestamp, now),
        "model_version": event.model_version,
        "session_id": event.session_id,
        "api_key_id": event.api_key_id,
        "features": event.features,
        "prediction": event.prediction,
        "score": event.score,
        "latency_ms": event.latency_ms,
        "output_text": event.output_text,
    }


def _row(record: dict[str, Any], now: float) -> dict[str, Any]:
    """A record as a row of the ``events`` table."""
    return {
        "id": record["id"],
        "ts": record["timestamp"],
        "received": now,
        "model_version": record["model_version"],
        "session_id": record["session_id"],
        "key_id": record["api_key_id"],
        "features": pydantic_core.to_json(record["features"]).decode(),
        "prediction": record["prediction"],
        "score": record["score"],
        "latency_ms": record["latency_ms"],
        "output_text": record["output_text"],
    }
