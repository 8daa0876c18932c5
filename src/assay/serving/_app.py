"""The Starlette app that serves a model: routes, API-key auth, access log and metrics.

Routes (docs/serve-model.md):

- ``POST /predict`` and ``POST /v1/models/{name}:predict`` — ``{"instances": [...]}`` (or
  ``"inputs"``), a list of row objects or of row lists in feature order; the answer is
  ``{"predictions": [...], "classes": [...], "probabilities": [[...], ...]}`` (``scores``
  instead of ``probabilities`` when the model gives decision scores), which Assay's own HTTP
  adapter reads with ``response_path: predictions`` and ``proba_path: probabilities``.
- ``GET /health`` — always open, never logged: ``{"status": "ok", "model": ..., ...}``.
- ``GET /metrics`` — request, error, row and latency counters in Prometheus text format.

With an API key every route but ``/health`` answers 401 unless the request carries
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Fault injection applies to the
predict routes only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import os
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.errors import AssayError
from assay.serving._faults import Faults
from assay.sources.models import Model

INPUT_KEYS = ("instances", "inputs")
"""Request keys that hold the rows (TensorFlow Serving and KServe v1 use these)."""
NOT_JSON = 'the body is not JSON ({problem}). Send {{"instances": [{{...}}, ...]}}.'
NO_INSTANCES = (
    "the body has no 'instances' (or 'inputs') list of rows (keys: {keys}). "
    'Send {{"instances": [{{"age": 41, ...}}, ...]}}.'
)
MIXED_ROWS = (
    "'{key}' must be a list of row objects or a list of row lists, not a mix; row {row} is a "
    "{kind}."
)
ROW_WIDTH = "row {row} has {got} values; the model takes {want} features in this order: {features}."
MISSING_COLUMNS = "the rows lack the model's features {missing} (the model takes: {features})."
BAD_ROWS = "the rows cannot be read as a table: {problem}."
UNAUTHORIZED = "a valid API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key'."
INJECTED_ERROR = "injected fault: this request was chosen to fail (--error-rate {rate:g})."
UNKNOWN_MODEL = "no model named {name!r} is served here; the served model is {served!r}."
MODEL_FAILED = "the model failed on this request: {problem}"

OPEN_PATHS = frozenset({"/health"})
"""Paths answered without a key and left out of the access log."""


def key_id(key: str) -> str:
    """A stable name for an API key that does not reveal it: ``key-`` and 12 hex digits of
    its SHA-256. What the access log records as who made a request."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------- metrics


@dataclass
class Metrics:
    """Counters since the server started, shown in Prometheus text format."""

    requests: dict[tuple[str, int], int] = field(default_factory=dict)
    duration_sum: dict[str, float] = field(default_factory=dict)
    rows: int = 0
    injected_errors: int = 0

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests[route, status] = self.requests.get((route, status), 0) + 1
        self.duration_sum[route] = self.duration_sum.get(route, 0.0) + seconds

    @property
    def errors(self) -> int:
        return sum(n for (_, status), n in self.requests.items() if status >= 500)

    def text(self) -> str:
        counts: dict[str, int] = {}
        for (route, _), n in self.requests.items():
            counts[route] = counts.get(route, 0) + n
        lines = [
            "# HELP assay_serve_requests_total HTTP requests answered, by route and status code.",
            "# TYPE assay_serve_requests_total counter",
            *(
                f'assay_serve_requests_total{{route="{r}",code="{s}"}} {n}'
                for (r, s), n in sorted(self.requests.items())
            ),
            "# HELP assay_serve_errors_total Requests answered with a 5xx status, injected or not.",
            "# TYPE assay_serve_errors_total counter",
            f"assay_serve_errors_total {self.errors}",
            "# HELP assay_serve_injected_errors_total Requests failed on purpose (--error-rate).",
            "# TYPE assay_serve_injected_errors_total counter",
            f"assay_serve_injected_errors_total {self.injected_errors}",
            "# HELP assay_serve_predicted_rows_total Rows the model predicted.",
            "# TYPE assay_serve_predicted_rows_total counter",
            f"assay_serve_predicted_rows_total {self.rows}",
            "# HELP assay_serve_request_duration_seconds Time to answer requests, by route.",
            "# TYPE assay_serve_request_duration_seconds summary",
        ]
        for route in sorted(self.duration_sum):
            lines.append(
                f'assay_serve_request_duration_seconds_sum{{route="{route}"}} '
                f"{self.duration_sum[route]:.6f}"
            )
            lines.append(
                f'assay_serve_request_duration_seconds_count{{route="{route}"}} {counts[route]}'
            )
        return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ access log


class AccessLog:
    """JSON lines appended to a file, one per request: who (``key_id``, and the ``client``
    address), what (``method``, ``path``, ``model``), when (``timestamp``, UTC, ISO 8601),
    and ``status``, ``duration_ms`` and ``rows``. Each line is one ``write`` to a file opened
    for appending, so several workers can share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AssayError(
                f"--access-log {path}: cannot open the file for appending "
                f"({exc.strerror or type(exc).__name__}). Choose a writable path."
            ) from None
        self._lock = threading.Lock()

    def write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


# ----------------------------------------------------------------------------------- the app


@dataclass
class ServeState:
    """What the routes share: the model, its name, faults, metrics, the key and the log."""

    model: Model
    name: str
    faults: Faults
    metrics: Metrics
    api_key: str | None = None
    access_log: AccessLog | None = None
    started: float = field(default_factory=time.time)


_PREDICT = re.compile(r"^/v1/models/([^/]+):predict$")


def route_of(path: str) -> str:
    """The route template a path matches (a metrics label with few values)."""
    if path in ("/predict", "/health", "/metrics"):
        return path
    if _PREDICT.match(path):
        return "/v1/models/{name}:predict"
    return "other"


class _Guard:
    """ASGI middleware: refuse requests without the key, time them, count and log them."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        path: str = scope["path"]
        state = self.state
        who = self._caller(scope)
        status = 500
        logged = False
        scope.setdefault("state", {})["rows"] = 0

        def record() -> None:
            # Counted and logged before the last body message goes out, so a client that has
            # its response can already read its own line in the access log.
            nonlocal logged
            if logged:
                return
            logged = True
            seconds = time.perf_counter() - began
            state.metrics.observe(route_of(path), status, seconds)
            if state.access_log is not None and path not in OPEN_PATHS:
                self._log(scope, who, status, seconds)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()
            await send(message)

        try:
            if path not in OPEN_PATHS and state.api_key is not None and who is None:
                response = JSONResponse(
                    {"error": UNAUTHORIZED},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="assay-serve"'},
                )
                await response(scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            record()

    def _log(self, scope: Scope, who: str | None, status: int, seconds: float) -> None:
        assert self.state.access_log is not None
        client = scope.get("client")
        entry: dict[str, Any] = {
            "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "key_id": who,
            "client": client[0] if client else None,
            "method": scope["method"],
            "path": scope["path"],
            "model": self.state.name,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "rows": scope["state"].get("rows", 0),
        }
        if who is None:
            del entry["key_id"]
        self.state.access_log.write(entry)

    def _caller(self, scope: Scope) -> str | None:
        """The key id of a request carrying the valid key; ``None`` otherwise."""
        key = self.state.api_key
        if key is None:
            return None
        headers = dict(scope["headers"])
        sent = headers.get(b"x-api-key", b"").decode("latin-1").strip()
        if not sent:
            auth = headers.get(b"authorization", b"").decode("latin-1").strip()
            scheme, _, value = auth.partition(" ")
            sent = value.strip() if scheme.lower() == "bearer" else ""
        if sent and hmac.compare_digest(sent.encode(), key.encode()):
            return key_id(key)
        return None


def create_app(
    model: Model,
    *,
    name: str = "model",
    api_key: str | None = None,
    access_log: Path | None = None,
    faults: Faults | None = None,
) -> Starlette:
    """A Starlette app serving ``model`` (any :class:`~assay.sources.models.Model`).

    ``api_key`` turns on auth; ``access_log`` appends a JSON line per request to that file;
    ``faults`` injects latency, errors and stalls into predictions. The app's
    ``state.serve`` holds the :class:`ServeState` (metrics, faults).
    """
    log = AccessLog(access_log) if access_log is not None else None
    state = ServeState(
        model=model,
        name=name,
        faults=faults or Faults(),
        metrics=Metrics(),
        api_key=api_key or None,
        access_log=log,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.faults.start()
        try:
            yield
        finally:
            if log is not None:
                log.close()

    async def predict(request: Request) -> Response:
        asked = request.path_params.get("name")
        if asked is not None and asked != state.name:
            return _error(404, UNKNOWN_MODEL.format(name=asked, served=state.name))
        body = await request.body()
        waited, fail = await state.faults.apply()
        headers = {"X-Assay-Injected-Delay-Ms": f"{waited * 1000:.1f}"}
        if fail:
            state.metrics.injected_errors += 1
            headers["X-Assay-Injected-Error"] = "1"
            message = INJECTED_ERROR.format(rate=state.faults.error_rate)
            return _error(500, message, headers)
        try:
            table = read_rows(body, state.model.features)
        except ValueError as exc:
            return _error(400, str(exc), headers)
        try:
            answer = await run_in_threadpool(predict_table, state.model, table)
        except AssayError as exc:
            return _error(500, MODEL_FAILED.format(problem=exc), headers)
        request.scope["state"]["rows"] = table.num_rows
        state.metrics.rows += table.num_rows
        return JSONResponse(answer, headers=headers)

    async def health(request: Request) -> Response:
        model = state.model
        return JSONResponse(
            {
                "status": "ok",
                "model": state.name,
                "description": model.description,
                "features": list(model.features) if model.features is not None else None,
                "classes": _jsonable(list(model.classes)) if model.classes is not None else None,
                "auth": state.api_key is not None,
                "faults": state.faults.describe(),
                "uptime_s": round(time.time() - state.started, 3),
            }
        )

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(
            state.metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    app = Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/v1/models/{name}:predict", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.serve = state
    app.add_middleware(_Guard, state=state)
    return app


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# -------------------------------------------------------------------------- the contract


def read_rows(body: bytes, features: tuple[str, ...] | None) -> pa.Table:
    """The rows of a request body as an Arrow table; :class:`ValueError` says what is wrong.

    Row objects become columns by key; row lists are read in ``features`` order (or as
    ``x0``, ``x1``, … when the model does not name its features).
    """
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(NOT_JSON.format(problem=getattr(exc, "msg", str(exc)))) from None
    key = next((k for k in INPUT_KEYS if isinstance(payload, dict) and k in payload), None)
    rows = payload.get(key) if key is not None else None
    if key is None or not isinstance(rows, list):
        keys = ", ".join(map(repr, payload)) if isinstance(payload, dict) else "not an object"
        raise ValueError(NO_INSTANCES.format(keys=keys or "none"))
    if not rows:
        names = list(features) if features is not None else []
        return pa.table({n: pa.array([], pa.null()) for n in names})
    kind = dict if isinstance(rows[0], dict) else list
    for i, row in enumerate(rows):
        if not isinstance(row, kind):
            raise ValueError(MIXED_ROWS.format(key=key, row=i, kind=type(row).__name__))
    try:
        if kind is dict:
            table = pa.Table.from_pylist(rows)
        else:
            width = len(features) if features is not None else len(rows[0])
            names = list(features) if features is not None else [f"x{i}" for i in range(width)]
            for i, row in enumerate(rows):
                if len(row) != width:
                    raise ValueError(
                        ROW_WIDTH.format(row=i, got=len(row), want=width, features=", ".join(names))
                    )
            table = pa.table({n: [row[j] for row in rows] for j, n in enumerate(names)})
    except (pa.ArrowException, TypeError) as exc:
        raise ValueError(BAD_ROWS.format(problem=exc)) from None
    if features is not None:
        missing = [f for f in features if f not in table.column_names]
        if missing:
            raise ValueError(
                MISSING_COLUMNS.format(missing=", ".join(missing), features=", ".join(features))
            )
    return table


def predict_table(model: Model, table: pa.Table) -> dict[str, Any]:
    """The response body for ``table``: predictions, classes and probabilities (or scores)."""
    if table.num_rows == 0:
        return {"predictions": []}
    out = model.predict_all(table)
    answer: dict[str, Any] = {"predictions": _jsonable(out.labels.tolist())}
    if out.classes is not None:
        answer["classes"] = _jsonable(list(out.classes))
    if out.proba is not None:
        key = "probabilities" if model.probabilistic else "scores"
        answer[key] = _jsonable(np.asarray(out.proba, dtype=float).tolist())
    return answer


def _jsonable(value: Any) -> Any:
    """Numpy scalars as Python values, NaN and infinities as ``null``."""
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
