"""The monitor's read and human-step routes: incidents, actions, route, summary, metrics.

Reads need a ``read`` key (or an admin one); acknowledging and resolving need ``admin``.
``GET /metrics`` is Prometheus text (prometheus-client) with the gauges the exported alerting
rules query (``assay monitor rules --format prometheus``; docs/monitor-actions.md):
``assay_monitor_signal{signal, metric, subject, window}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from assay.monitor import api_models as api
from assay.monitor import incidents as inc
from assay.monitor.actions import ActionRunner
from assay.monitor.app import ApiError, Caller
from assay.monitor.service import MonitorService
from assay.monitor.store import state, traffic
from assay.monitor.store.schema import actions, jobs

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def mount_reads(app: FastAPI, service: MonitorService, *, runner: ActionRunner) -> None:
    """Add the read and human-step routes to ``app`` (made by :func:`create_app`)."""
    read = app.state.needs("read")
    admin = app.state.needs("admin")
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Collector(service))

    def db_read(work: Any) -> Any:
        with service.db.connect() as conn:
            return work(conn)

    @app.get("/v1/incidents", summary="Incidents, newest first")
    async def list_incidents(
        _: Caller = Depends(read),
        status: str | None = Query(None, description="open, acknowledged or resolved"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        def work(conn: Any) -> list[dict[str, Any]]:
            try:
                found = inc.list_incidents(conn, status=status, limit=limit)
            except ValueError as exc:
                raise ApiError(422, str(exc)) from None
            return [i.to_dict() for i in found]

        return await run_in_threadpool(db_read, work)

    @app.get("/v1/incidents/{incident_id}", summary="One incident with its timeline and actions")
    async def get_incident(incident_id: int, _: Caller = Depends(read)) -> dict[str, Any]:
        def work(conn: Any) -> dict[str, Any]:
            try:
                return inc.get_incident(conn, incident_id).to_dict()
            except inc.IncidentNotFound as exc:
                raise ApiError(404, str(exc)) from None

        return await run_in_threadpool(db_read, work)

    async def human_step(request: Request, incident_id: int, caller: Caller, kind: str) -> Any:
        raw = await request.body()
        step = api.HumanStep()
        if raw.strip():
            try:
                step = api.HUMAN_STEP.validate_json(raw)
            except ValidationError as exc:
                raise ApiError(
                    422, "the body is invalid; see problems", api.problems(exc)
                ) from None
        by = step.by or caller.name

        def work() -> dict[str, Any]:
            now = service.clock.now()
            try:
                with service.db.begin() as conn:
                    if kind == "ack":
                        found = inc.acknowledge(conn, incident_id, by, now)
                    else:
                        found = inc.resolve(
                            conn,
                            incident_id,
                            by,
                            now,
                            step.note,
                            monitor=service.monitor,
                            incident_url="/v1/incidents/{id}",
                        )
            except inc.IncidentNotFound as exc:
                raise ApiError(404, str(exc)) from None
            except inc.IncidentError as exc:
                raise ApiError(409, str(exc)) from None
            return found.to_dict()

        return await run_in_threadpool(work)

    @app.post("/v1/incidents/{incident_id}/ack", summary="Acknowledge: stops escalation")
    async def ack(request: Request, incident_id: int, caller: Caller = Depends(admin)) -> Any:
        return await human_step(request, incident_id, caller, "ack")

    @app.post("/v1/incidents/{incident_id}/resolve", summary="Resolve an incident")
    async def resolve(request: Request, incident_id: int, caller: Caller = Depends(admin)) -> Any:
        return await human_step(request, incident_id, caller, "resolve")

    @app.get("/v1/actions", summary="The action log, newest first")
    async def list_actions(
        _: Caller = Depends(read), limit: int = Query(100, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        return await run_in_threadpool(db_read, lambda conn: recent_actions(conn, limit))

    @app.get("/v1/events", summary="Stored events, oldest first (investigation)")
    async def list_events(
        _: Caller = Depends(read),
        limit: int = Query(100, ge=1, le=10_000),
        since: float | None = Query(None, description="only events at or after (epoch s)"),
        session_id: str | None = Query(None),
        key_id: str | None = Query(None, description="the events' api_key_id"),
    ) -> list[dict[str, Any]]:
        def work(conn: Any) -> list[dict[str, Any]]:
            found = traffic.recent_events(
                conn,
                limit=limit,
                since=since,
                session_ids=[session_id] if session_id else None,
                key_ids=[key_id] if key_id else None,
            )
            for row in found:
                row["features"] = json.loads(row["features"])
            return found

        return await run_in_threadpool(db_read, work)

    @app.get("/v1/jobs", summary="Retraining jobs, newest first")
    async def list_jobs(
        _: Caller = Depends(read), limit: int = Query(100, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        def work(conn: Any) -> list[dict[str, Any]]:
            rows = conn.execute(select(jobs).order_by(jobs.c.id.desc()).limit(limit))
            return [{**r._mapping, "payload": json.loads(r.payload)} for r in rows]

        return await run_in_threadpool(db_read, work)

    @app.get("/v1/keys/revoked", summary="API keys the monitor revoked (for the serving layer)")
    async def revoked(_: Caller = Depends(read)) -> list[dict[str, Any]]:
        return await run_in_threadpool(db_read, state.revoked_keys)

    @app.get("/v1/review", summary="Outputs of quarantined sessions held for review")
    async def review(
        _: Caller = Depends(read), limit: int = Query(100, ge=1, le=1000)
    ) -> list[dict[str, Any]]:
        return await run_in_threadpool(
            db_read, lambda conn: state.review_queue(conn, status="held", limit=limit)
        )

    @app.get("/v1/summary", summary="What the dashboard shows")
    async def summary(_: Caller = Depends(read)) -> dict[str, Any]:
        return await run_in_threadpool(build_summary, service)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics(_: Caller = Depends(read)) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=PROMETHEUS_TEXT)


def recent_actions(conn: Any, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(actions).order_by(actions.c.seq.desc()).limit(limit))
    return [inc.action_record(r).__dict__ for r in rows]


def _signal_json(obs: Any) -> dict[str, Any]:
    return {
        "signal": obs.signal,
        "subject": obs.subject,
        "window": obs.window,
        "end": obs.end,
        "n": obs.n,
        "metrics": {k: v for k, v in obs.metrics.items() if math.isfinite(v)},
        "details": obs.details,
    }


def build_summary(service: MonitorService) -> dict[str, Any]:
    """The dashboard's ``/v1/summary`` (docs/monitor-dashboard.md)."""
    with service.db.connect() as conn:
        open_incidents = inc.list_incidents(conn, status=("open", "acknowledged"), limit=200)
        recent = recent_actions(conn, 50)
    stats = service.stats
    history = service.history_points()
    return {
        "now": service.clock.now(),
        "replica": service.replica,
        "route": service.route().model_dump(),
        "stats": {
            "events_stored": stats.events_stored,
            "labels": stats.labels,
            "kpis": stats.kpis,
            "busy": stats.busy,
            "duplicates": stats.duplicates,
        },
        "throughput": [list(p) for p in stats.throughput[-300:]],
        "signals": [_signal_json(o) for o in service.detectors.latest()],
        "history": history,
        "drift_threshold": service.monitor.detection.drift_psi,
        "incidents": [i.to_dict() for i in open_incidents],
        "actions": recent,
    }


class _Collector(Collector):
    """The service's state as Prometheus metrics, read at scrape time."""

    def __init__(self, service: MonitorService) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        service = self.service
        stats = service.stats
        counters: tuple[tuple[str, float, str], ...] = (
            ("assay_monitor_events_received", stats.events_in, "Events received"),
            ("assay_monitor_events_stored", stats.events_stored, "Events stored"),
            ("assay_monitor_events_duplicate", stats.duplicates, "Events refused as duplicates"),
            ("assay_monitor_labels", stats.labels, "Labels stored"),
            ("assay_monitor_kpis", stats.kpis, "KPI values stored"),
            ("assay_monitor_busy", stats.busy, "Requests refused with 429 (writer queue full)"),
        )
        for name, value, doc in counters:
            yield CounterMetricFamily(name, doc, value=value)
        gauge = GaugeMetricFamily(
            "assay_monitor_signal",
            "The latest value of each detector metric per window",
            labels=["signal", "metric", "subject", "window"],
        )
        for obs in service.detectors.latest():
            for metric, value in obs.metrics.items():
                if math.isfinite(value):  # never NaN: `!=` rules would fire on it
                    gauge.add_metric([obs.signal, metric, obs.subject, obs.window], value)
        yield gauge
        route = service.route()
        yield GaugeMetricFamily(
            "assay_monitor_route_fallback",
            "1 while predictions go to the fallback model",
            value=1.0 if route.target == "fallback" else 0.0,
        )
        yield GaugeMetricFamily(
            "assay_monitor_degraded_mode", "1 while degraded mode is on", value=route.degraded_mode
        )
        with service.db.connect() as conn:
            found = inc.list_incidents(conn, status=("open", "acknowledged"), limit=10_000)
        incidents = GaugeMetricFamily(
            "assay_monitor_incidents", "Unresolved incidents", labels=["status", "severity"]
        )
        counts: dict[tuple[str, str], int] = {}
        for incident in found:
            key = (incident.status, incident.severity)
            counts[key] = counts.get(key, 0) + 1
        for (status, severity), n in sorted(counts.items()):
            incidents.add_metric([status, severity], n)
        yield incidents
