"""Assemble one replica of the monitor — database, baseline, service, app — and run it.

:func:`build` wires the parts; :func:`load_baseline` reads the watched run's
``monitor/baseline.json`` from the evidence repository. The app's lifespan runs
:func:`background`: time windows close, overdue incidents escalate, the webhook outbox is
delivered and alerts re-sent (these three on one replica at a time, under a lease in the shared
database), and traffic older than ``monitor.retention_days`` is pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from assay.errors import AssayError
from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.access_log import AccessLogWriter
from assay.monitor.actions import ActionRunner, repository_sink, resend_alerts
from assay.monitor.app import create_app
from assay.monitor.clock import Clock, SystemClock
from assay.monitor.dashboard import mount_dashboard
from assay.monitor.detectors import Observation
from assay.monitor.drill_routes import mount_drill_routes
from assay.monitor.evidence import SharedEvidence
from assay.monitor.gateway import Gateway
from assay.monitor.keys import KeyVerifier
from assay.monitor.ratelimit import RateLimiter
from assay.monitor.routes import mount_reads
from assay.monitor.service import ESCALATION_LEASE, LEASE_TTL, MonitorService
from assay.monitor.sessions import SessionSigner
from assay.monitor.store import state
from assay.monitor.store.db import Database
from assay.profiles.baseline import Baseline
from assay.spec import Spec

log = logging.getLogger("assay.monitor")

BASELINE_ARTEFACT = "monitor/baseline.json"
NO_MONITOR = (
    "{spec}: the spec has no `monitor:` section, so there is nothing to watch. Add rules "
    "(docs/monitor.md)."
)
NO_BASELINE = (
    "run {run} in {repo} has no monitor baseline ({artefact}). Audit with a `monitor:` section "
    "in the spec (the monitoring.baseline check stores it), approve that run, and start again."
)
GUARD_ACTIONS = frozenset({"revoke_keys", "quarantine_sessions", "forensic_logging"})
"""Actions whose effect the ingest path caches: the cache is dropped when one runs."""
TICK_SECONDS = 0.25
"""Real seconds between turns of the background loop."""
PRUNE_EVERY = 300.0
RESEND_EVERY = 60.0


@dataclass
class Replica:
    """One assembled replica: the service, its app and the parts the app shares."""

    service: MonitorService
    app: FastAPI
    db: Database
    keys: KeyVerifier
    access_log: AccessLogWriter
    runner: ActionRunner
    baseline_run: str | None
    evidence: Any = None
    """Where snapshots and drill records go: the folder repository, or shared evidence."""
    repository: Any = None
    """The evidence folder, when the replica has one."""


def load_baseline(spec: Spec, repo_path: Path) -> tuple[Baseline, str, Any]:
    """The baseline of the run ``monitor.baseline`` names, its run id and the repository."""
    from assay.evidence import Repository

    assert spec.monitor is not None
    repo = Repository.open(repo_path, create=False)
    stored = repo.resolve(spec.monitor.baseline)
    for artefact in stored.run.artefacts:
        if artefact.name == BASELINE_ARTEFACT:
            try:
                return Baseline.from_json(repo.get(artefact.sha256)), stored.id, repo
            except ValueError as exc:
                raise AssayError(f"run {stored.id}: {BASELINE_ARTEFACT}: {exc}") from None
    raise AssayError(NO_BASELINE.format(run=stored.id, repo=repo_path, artefact=BASELINE_ARTEFACT))


def session_secret(db: Database, now: float) -> bytes:
    """The dashboard's cookie-signing secret, shared by every replica through the database."""
    with db.begin() as conn:
        found = state.get_flag(conn, "session_secret")
        if found is None:
            found = secrets.token_hex(32)
            state.set_flag(conn, "session_secret", found, now=now, by="monitor")
    return bytes.fromhex(str(found))


def build(
    spec: Spec,
    db: Database,
    *,
    baseline: Baseline,
    baseline_run: str | None = None,
    repository: Any = None,
    clock: Clock | None = None,
    replica: str | None = None,
    gateway: Any = None,
) -> Replica:
    """Wire a replica over ``db`` watching ``baseline``; snapshots and drill records go to
    ``repository`` (attached to ``baseline_run``) when given.

    On PostgreSQL — replicas, possibly on several hosts — evidence is written to the shared
    database through :class:`~assay.monitor.evidence.SharedEvidence` (the same attach
    interface) and replayed into ``repository``'s ledger by the lease holder; on SQLite it
    goes to ``repository`` directly."""
    if spec.monitor is None:
        raise AssayError(NO_MONITOR.format(spec=spec.source or "spec"))
    clock = clock or SystemClock()
    evidence: Any = repository
    if db.dialect == "postgresql" and baseline_run:
        evidence = SharedEvidence(db)
    sink = (
        repository_sink(evidence, baseline_run) if evidence is not None and baseline_run else None
    )
    runner = ActionRunner(
        spec.monitor,
        default_owner=spec.owner_for("monitoring"),
        snapshot_sink=sink,
        incident_url="/v1/incidents/{id}",
    )

    def handle(service: MonitorService, observations: list[Observation]) -> None:
        # Each observation on its own: one that fails (the database went away mid-way) is
        # logged with what it was, and the others of the batch are still handled.
        for obs in observations:
            try:
                results = runner.handle(db.engine, obs, now=clock.now())
            except Exception as exc:
                log.error(
                    "handling %s/%s (window %s) failed: %s",
                    obs.signal,
                    obs.subject,
                    obs.window,
                    exc,
                    exc_info=exc,
                )
                continue
            if any(a.action in GUARD_ACTIONS for r in results for a in r.actions):
                service.forget_cached_state()

    service = MonitorService(spec, db, baseline, clock=clock, handler=handle, replica=replica)
    if gateway is None and spec.monitor.primary is not None:
        gateway = Gateway(service)
    keys = KeyVerifier(db.engine, clock=clock)
    limiter = RateLimiter.from_limits(spec.monitor.limits, clock=clock)
    access_log = AccessLogWriter(db.engine, clock=clock)
    sessions = SessionSigner(session_secret(db, clock.now()), clock=clock)
    app = create_app(
        service,
        keys=keys,
        limiter=limiter,
        access_log=access_log,
        sessions=sessions,
        gateway=gateway,
    )
    mount_reads(app, service, runner=runner)
    mount_drill_routes(app, service, evidence, baseline_run)
    mount_dashboard(
        app,
        verify_key=keys.verify,
        sessions=sessions,
        caller_of=app.state.caller_of,
    )
    replica_ = Replica(
        service, app, db, keys, access_log, runner, baseline_run, evidence, repository
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        access_log.start()
        task = asyncio.create_task(background(replica_))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if gateway is not None:
                await gateway.aclose()
            await run_in_threadpool(_stop, replica_)

    app.router.lifespan_context = lifespan
    return replica_


def _stop(replica: Replica) -> None:
    replica.service.close()
    replica.access_log.close()
    replica.db.release_lease(ESCALATION_LEASE, replica.service.replica)


async def background(replica: Replica) -> None:
    """The replica's background loop; see the module docstring."""
    service = replica.service
    last_prune = -1e18
    while True:
        try:
            await run_in_threadpool(service.tick)
            now = service.clock.now()
            if await run_in_threadpool(
                replica.db.acquire_lease, ESCALATION_LEASE, service.replica, LEASE_TTL, now
            ):
                await run_in_threadpool(duties, replica, now)
            if now - last_prune >= PRUNE_EVERY:
                retention = service.monitor.retention_days * 86_400
                await run_in_threadpool(replica.db.prune, now - retention)
                last_prune = now
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the loop must outlive a database hiccup; say what failed
            log.error("monitor background loop: %s", exc, exc_info=exc)
        await asyncio.sleep(TICK_SECONDS)


def duties(replica: Replica, now: float) -> None:
    """The lease holder's duties: escalate, re-send firing alerts (every
    :data:`RESEND_EVERY` seconds), deliver the outbox."""
    monitor = replica.service.monitor
    with replica.db.begin() as conn:
        inc.escalate_due(conn, monitor, now, incident_url="/v1/incidents/{id}")
        resend_alerts(conn, monitor, now, every=RESEND_EVERY, incident_url="/v1/incidents/{id}")
    webhooks.deliver_due(replica.db.engine, now)
    if isinstance(replica.evidence, SharedEvidence) and replica.repository is not None:
        replica.evidence.sync(replica.repository)
