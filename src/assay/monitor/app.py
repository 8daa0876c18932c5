"""The monitor's HTTP API (FastAPI): ingest, incidents, route, actions, metrics, dashboard.

Every route but ``/health`` and ``/ready`` needs a key (``Authorization: Bearer amk_…``, or the
dashboard's session cookie) with the right role (docs/monitor-security.md). Bodies are
validated from raw bytes; a bad body is a 4xx naming the field, the value and the fix, never a
500. Per-key rate limits and the writer's queue limit answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.monitor import api_models as api
from assay.monitor.access_log import AccessLogWriter
from assay.monitor.keys import Failure, KeyVerifier, allows
from assay.monitor.ratelimit import RateLimiter, retry_after_header
from assay.monitor.service import BadBatchError, BusyError, MonitorService

SESSION_COOKIE = "assay_session"
OPEN_PATHS = frozenset({"/health", "/ready", "/login", "/openapi.json", "/docs"})


class ApiError(Exception):
    """An error answered as ``{"error": message, "problems": [...]}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        problems: list[api.Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []
        self.headers = headers


def _error(
    status: int,
    message: str,
    problems: list[api.Problem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = api.ErrorBody(error=message, problems=problems or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class Caller(BaseModel):
    """Who made a request: the key's id, name and role."""

    key_id: str
    name: str
    role: str
    rate: float | None = None


def create_app(
    service: MonitorService,
    *,
    keys: KeyVerifier,
    limiter: RateLimiter,
    access_log: AccessLogWriter | None = None,
    sessions: Any = None,
    dashboard: Callable[[MonitorService, Caller], Awaitable[Response]] | None = None,
    gateway: Any = None,
) -> FastAPI:
    """The FastAPI app of one replica around ``service``."""
    app = FastAPI(
        title="Assay monitor",
        version="1",
        summary="Live signals → automated actions → human escalation.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service

    # ------------------------------------------------------------------------ errors

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.problems, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        found = [
            api.Problem(
                field=".".join(str(p) for p in e["loc"]), value=e.get("input"), message=e["msg"]
            )
            for e in exc.errors()[:20]
        ]
        return _error(422, "the request is invalid; see problems", found)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    # ------------------------------------------------------------------------- auth

    def caller_of(request: Request) -> Caller:
        token = _bearer(request)
        caller: Caller | None = None
        if token is None and sessions is not None:
            cookie = request.cookies.get(SESSION_COOKIE)
            found = sessions.verify(cookie) if cookie else None
            if found is not None and keys.is_active(found.key_id):
                caller = Caller(key_id=found.key_id, name=found.name, role=found.role)
        if caller is None:
            result = keys.verify(token)
            if isinstance(result, Failure):
                reason = result.reason
                service.auth_outcome(key_id=result.key_id, ok=False, known=reason != "unknown")
                raise ApiError(
                    401,
                    _AUTH_MESSAGES.get(reason, "authentication failed"),
                    headers={"WWW-Authenticate": 'Bearer realm="assay-monitor"'},
                )
            caller = Caller(
                key_id=result.key_id,
                name=result.name,
                role=result.role,
                rate=result.rate_per_second,
            )
        if service.is_revoked(caller.key_id):
            service.auth_outcome(key_id=caller.key_id, ok=False, known=True)
            raise ApiError(
                401,
                f"key {caller.key_id} was revoked by the monitor; ask an admin for a new one",
                headers={"WWW-Authenticate": 'Bearer realm="assay-monitor"'},
            )
        request.scope.setdefault("state", {})["caller"] = caller
        allowed, retry = limiter.check(caller.key_id, rate=caller.rate)
        if not allowed:
            raise ApiError(
                429,
                f"rate limit of key {caller.key_id} exceeded; retry after {retry:.1f} s",
                headers={"Retry-After": retry_after_header(retry)},
            )
        return caller

    def needs(role: str) -> Callable[[Request], Caller]:
        def dependency(request: Request) -> Caller:
            caller = caller_of(request)
            if not allows(caller.role, role):
                raise ApiError(
                    403, f"key {caller.key_id} has role {caller.role!r}; this needs {role!r}"
                )
            return caller

        return dependency

    ingest, read = needs("ingest"), needs("read")

    # ------------------------------------------------------------------------ ingest

    async def body_of(request: Request) -> bytes:
        limit = service.monitor.limits.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the body has {declared} bytes; at most {limit} per request")
        body = await request.body()
        if len(body) > limit:
            raise ApiError(413, f"the body has {len(body)} bytes; at most {limit} per request")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ApiError(
                400,
                f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); "
                "send UTF-8 JSON",
            ) from None
        return body

    def parse(adapter: Any, body: bytes) -> Any:
        try:
            return adapter.validate_json(body)
        except ValidationError as exc:
            raise ApiError(422, "the body is invalid; see problems", api.problems(exc)) from None

    def ingest_call(work: Callable[[], api.Accepted]) -> api.Accepted:
        try:
            return work()
        except BusyError as exc:
            raise ApiError(
                429,
                "the monitor is busy storing earlier events; retry later",
                headers={"Retry-After": str(max(1, round(exc.retry_after)))},
            ) from None
        except BadBatchError as exc:
            raise ApiError(exc.status, str(exc), exc.problems) from None

    @app.post(
        "/v1/events",
        response_model=api.Accepted,
        status_code=202,
        openapi_extra=_body_schema(api.EventBatch),
        summary="Ingest a batch of prediction events",
    )
    async def post_events(request: Request, caller: Caller = Depends(ingest)) -> api.Accepted:
        body = await body_of(request)

        def work() -> api.Accepted:
            batch = parse(api.EVENTS, body)
            return service.ingest_events(batch, key_id=caller.key_id)

        return await run_in_threadpool(ingest_call, work)

    @app.post(
        "/v1/labels",
        response_model=api.Accepted,
        status_code=202,
        openapi_extra=_body_schema(api.LabelBatch),
        summary="Ingest delayed ground truth by event id",
    )
    async def post_labels(request: Request, _: Caller = Depends(ingest)) -> api.Accepted:
        body = await body_of(request)
        return await run_in_threadpool(
            ingest_call, lambda: service.ingest_labels(parse(api.LABELS, body))
        )

    @app.post(
        "/v1/kpis",
        response_model=api.Accepted,
        status_code=202,
        openapi_extra=_body_schema(api.KpiBatch),
        summary="Ingest business KPI values",
    )
    async def post_kpis(request: Request, _: Caller = Depends(ingest)) -> api.Accepted:
        body = await body_of(request)
        return await run_in_threadpool(
            ingest_call, lambda: service.ingest_kpis(parse(api.KPIS, body))
        )

    if gateway is not None:
        gateway.mount(app, ingest=ingest, body_of=body_of, ingest_call=ingest_call)

    # ------------------------------------------------------------------------- reads

    @app.get("/v1/route", response_model=api.Route, summary="Where predictions go now")
    async def get_route(_: Caller = Depends(read)) -> api.Route:
        return await run_in_threadpool(service.route)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Ready when the database answers")
    async def ready() -> JSONResponse:
        try:
            await run_in_threadpool(service.route)
        except Exception as exc:  # the database is down: not ready, and say why
            return _error(503, f"not ready: the database does not answer ({type(exc).__name__})")
        return JSONResponse({"status": "ready", "replica": service.replica})

    if access_log is not None:
        app.add_middleware(_AccessLog, writer=access_log, clock=service.clock)
    app.state.caller_of = caller_of
    app.state.needs = needs
    return app


_AUTH_MESSAGES = {
    "missing": "no API key; send `Authorization: Bearer amk_…` (a key from `assay monitor keys`)",
    "malformed": "the API key is malformed; keys look like amk_<id>_<secret>",
    "unknown": "unknown API key",
    "revoked": "the API key was revoked; ask an admin for a new one",
    "bad_secret": "unknown API key",
}


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if not auth:
        return None
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else auth.strip()


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that validates raw bytes itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


class _AccessLog:
    """ASGI middleware: one access-log entry per request that named a caller (every read of
    events, incidents and evidence among them)."""

    def __init__(self, app: ASGIApp, writer: AccessLogWriter, clock: Any) -> None:
        self.app = app
        self.writer = writer
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, sending)
        finally:
            caller = scope.get("state", {}).get("caller")
            client = scope.get("client")
            self.writer.write(
                {
                    "ts": self.clock.now(),
                    "key_id": caller.key_id if caller else None,
                    "role": caller.role if caller else None,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "client": client[0] if client else None,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 3),
                }
            )
