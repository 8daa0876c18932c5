"""The drill and route routes of the monitor's HTTP API, and where drill records are stored.

* ``POST /v1/drills`` (admin) stores a drill record (docs/monitor-drills.md) sent by
  ``assay monitor drill --url …``: a row of the ``drills`` table, and the record as an
  evidence attachment of kind ``monitor_drill`` (``drill-<scenario>.json``) to the run the
  service watches — which the ``monitoring.readiness`` check reads.
* ``GET /v1/drills`` (read) lists the stored drills, newest first.
* ``POST /v1/route`` (admin) sets the route by hand: ``{"target": "primary" | "fallback"}``
  and/or ``{"degraded_mode": false}``, with an optional ``note``. It is a human step, written
  to the action log (action ``route``, with who and why) and, when the route being replaced
  was set by an incident's ``route_fallback``, to that incident's timeline. A drill uses it to
  put the route back as it found it.

:func:`store_record` is shared by the route and by an in-process drill, which stores its
records directly.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert
from starlette.concurrency import run_in_threadpool

from assay.monitor import api_models as api
from assay.monitor import incidents as inc
from assay.monitor.app import ApiError, Caller
from assay.monitor.service import MonitorService
from assay.monitor.store import state
from assay.monitor.store.db import Database
from assay.monitor.store.schema import actions
from assay.spec.monitor import DRILL_SCENARIOS

DRILL_KIND = "monitor_drill"
"""Evidence attachment kind of a drill record (read by ``monitoring.readiness``)."""
RECORD_FORMAT = 1
MAX_RECORD_BYTES = 4 * 1024 * 1024


class DrillRecordBody(BaseModel):
    """The fields of a drill record the service checks; the rest is stored as sent."""

    model_config = ConfigDict(extra="allow")

    format: Literal[1]
    scenario: str
    started: float
    finished: float
    passed: bool

    def problems(self) -> list[api.Problem]:
        found: list[api.Problem] = []
        if self.scenario not in DRILL_SCENARIOS:
            found.append(
                api.Problem(
                    field="scenario",
                    value=self.scenario,
                    message=f"unknown scenario; scenarios: {', '.join(DRILL_SCENARIOS)}",
                )
            )
        for name in ("started", "finished"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                found.append(api.Problem(field=name, value=value, message="epoch seconds, above 0"))
        if self.finished < self.started:
            found.append(
                api.Problem(field="finished", value=self.finished, message="before `started`")
            )
        return found


class RouteBody(BaseModel):
    """A human's route change."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["primary", "fallback"] | None = None
    degraded_mode: bool | None = None
    note: str | None = Field(default=None, max_length=10_000)
    by: str | None = Field(default=None, max_length=200)


def store_record(
    db: Database, repository: Any, run_id: str | None, record: dict[str, Any]
) -> dict[str, Any]:
    """Store a drill record: a ``drills`` row and, with a repository and a run, an evidence
    attachment ``drill-<scenario>.json`` of kind ``monitor_drill`` to that run. Returns
    ``{"drill": id, "evidence": sha256 | None, "attachment": id | None, "note": …}``."""
    data = json.dumps(record, sort_keys=True, indent=1, allow_nan=False).encode()
    scenario = str(record["scenario"])
    sha256: str | None = None
    attachment: str | None = None
    note = None
    if repository is not None and run_id:
        stored = repository.attach(
            run_id, DRILL_KIND, [(f"drill-{scenario}.json", "application/json", data)]
        )
        attachment = str(stored.id)
        sha256 = str(stored.attachment.files[0].sha256)
    else:
        note = (
            "the service has no evidence repository, so the record is in its database only; "
            "the monitoring.readiness check will not see it"
        )
    with db.begin() as conn:
        drill_id = state.record_drill(
            conn,
            scenario=scenario,
            started=float(record["started"]),
            finished=float(record["finished"]),
            passed=bool(record["passed"]),
            record=record,
            evidence=sha256,
        )
    return {"drill": drill_id, "evidence": sha256, "attachment": attachment, "note": note}


def set_route(
    db: Database,
    *,
    now: float,
    by: str,
    target: str | None,
    degraded_mode: bool | None,
    note: str | None,
) -> dict[str, Any]:
    """Set the route and/or degraded mode as a human step (one action-log row). Returns the
    route and degraded mode as they now are, and the action-log row's ``seq``."""
    with db.begin() as conn:
        route = state.get_flag(conn, "route", None) or {"target": "primary"}
        degraded = bool(state.get_flag(conn, "degraded_mode", False))
        detail: dict[str, Any] = {"human": True, "by": by, "note": note}
        incident_id = route.get("incident") if isinstance(route, dict) else None
        if target is not None:
            value = {"target": target, "since": now, "incident": None, "by": by}
            state.set_flag(conn, "route", value, now=now, by=by)
            detail.update(target=target, previous=route)
        if degraded_mode is not None:
            state.set_flag(conn, "degraded_mode", degraded_mode, now=now, by=by)
            detail.update(degraded_mode=degraded_mode, previous_degraded_mode=degraded)
        if not isinstance(incident_id, int):
            incident_id = None
        result = conn.execute(
            insert(actions).values(
                key=f"route:{uuid.uuid4().hex}",
                incident_id=incident_id,
                rule=None,
                action="route",
                started=now,
                finished=now,
                outcome="ok",
                attempts=1,
                detail=json.dumps(detail, default=str),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        if incident_id is not None and target is not None:
            inc.add_timeline(
                conn,
                incident_id,
                "action",
                {"action": "route", "target": target, "note": note, "human": True},
                now=now,
                actor=by,
            )
        after = state.get_flag(conn, "route", None) or {"target": "primary"}
        after_degraded = bool(state.get_flag(conn, "degraded_mode", False))
    return {
        "target": after.get("target", "primary"),
        "since": after.get("since"),
        "incident": after.get("incident"),
        "degraded_mode": after_degraded,
        "action": int(key[0]),
    }


def mount_drill_routes(
    app: FastAPI, service: MonitorService, repository: Any, run_id: str | None
) -> None:
    """Add ``POST /v1/drills``, ``GET /v1/drills`` and ``POST /v1/route`` to ``app`` (made by
    :func:`assay.monitor.app.create_app`). Records go to ``repository``, attached to run
    ``run_id`` (the run the service watches), when both are given."""
    admin = app.state.needs("admin")
    read = app.state.needs("read")

    async def raw_body(request: Request) -> bytes:
        body = await request.body()
        if len(body) > MAX_RECORD_BYTES:
            raise ApiError(413, f"the body has {len(body)} bytes; at most {MAX_RECORD_BYTES}")
        return body

    @app.post("/v1/drills", status_code=201, summary="Store a drill record as evidence")
    async def post_drill(request: Request, _: Caller = Depends(admin)) -> dict[str, Any]:
        body = await raw_body(request)
        try:
            record = json.loads(body)
        except ValueError as exc:
            raise ApiError(422, f"the body is not JSON: {exc}") from None
        if not isinstance(record, dict):
            raise ApiError(422, "the body must be a JSON object (a drill record)")
        try:
            checked = DrillRecordBody.model_validate(record)
        except ValidationError as exc:
            problems = api.problems(exc)
            raise ApiError(422, "the drill record is invalid; see problems", problems) from None
        found = checked.problems()
        if found:
            raise ApiError(422, "the drill record is invalid; see problems", found)
        try:
            return await run_in_threadpool(store_record, service.db, repository, run_id, record)
        except ValueError as exc:  # NaN in the record, a repository refusing the file
            raise ApiError(422, f"the drill record cannot be stored: {exc}") from None

    @app.get("/v1/drills", summary="Stored drills, newest first")
    async def list_drills(
        _: Caller = Depends(read),
        scenario: str | None = Query(None),
        limit: int = Query(100, ge=1, le=1000),
    ) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            with service.db.connect() as conn:
                rows = state.drills(conn, scenario=scenario, limit=limit)
            return [{**r, "record": json.loads(r["record"])} for r in rows]

        return await run_in_threadpool(work)

    @app.post("/v1/route", summary="Set the route (and degraded mode) by hand")
    async def post_route(request: Request, caller: Caller = Depends(admin)) -> dict[str, Any]:
        body = await raw_body(request)
        try:
            step = RouteBody.model_validate_json(body or b"{}")
        except ValidationError as exc:
            raise ApiError(422, "the body is invalid; see problems", api.problems(exc)) from None
        if step.target is None and step.degraded_mode is None:
            raise ApiError(
                422,
                'say what to set: {"target": "primary"} or "fallback", and/or '
                '{"degraded_mode": false}',
            )
        if step.target == "fallback" and service.monitor.fallback is None:
            raise ApiError(409, "monitor.fallback is unset; there is no fallback to route to")
        return await run_in_threadpool(
            lambda: set_route(
                service.db,
                now=service.clock.now(),
                by=step.by or caller.name,
                target=step.target,
                degraded_mode=step.degraded_mode,
                note=step.note,
            )
        )
