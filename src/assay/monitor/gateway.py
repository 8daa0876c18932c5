"""Gateway mode: ``POST /v1/predict`` forwards to the primary or the fallback model and logs
the event itself.

On when the spec's ``monitor.primary`` is set. Each request is sent to the model the route
names *at that moment* (``GET /v1/route``; the ``route_fallback`` action flips it), in the
serve-model contract (``{"instances": [features]}`` → ``{"predictions": [...],
"probabilities"|"scores": [[...]]}``, docs/serve-model.md), timed, and logged as an event with
the caller's key id — so the detectors, quarantine, revocation and forensic capture apply to
gateway traffic with no help from the serving layer. A quarantined session's answer is held
for review (202, no prediction); a revoked key gets 401 before anything is forwarded. A model
that fails or times out gives 502 naming the target, and the event is logged without a
prediction (it counts in ``suspicious_output``'s ``invalid_rate``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from assay.monitor import api_models as api
from assay.monitor.service import MonitorService
from assay.spec.monitor import ModelRoute


class PredictRequest(BaseModel):
    """One prediction asked of the gateway."""

    model_config = {"extra": "forbid"}

    features: dict[str, api.FeatureValue]
    id: str | None = Field(default=None, min_length=1, max_length=200)
    session_id: str | None = Field(default=None, max_length=200)


PREDICT = TypeAdapter(PredictRequest)


class Gateway:
    """Forwards predictions according to the route; see the module docstring."""

    def __init__(self, service: MonitorService, *, timeout: float | None = None) -> None:
        monitor = service.monitor
        if monitor.primary is None:
            raise ValueError("gateway mode needs `monitor.primary`")
        self.service = service
        self.targets: dict[str, ModelRoute] = {"primary": monitor.primary}
        if monitor.fallback is not None:
            self.targets["fallback"] = monitor.fallback
        longest = max(t.timeout for t in self.targets.values())
        self._client = httpx.AsyncClient(timeout=timeout or longest)

    async def aclose(self) -> None:
        await self._client.aclose()

    def mount(
        self,
        app: FastAPI,
        *,
        ingest: Callable[..., Any],
        body_of: Callable[..., Any],
        ingest_call: Callable[..., Any],
    ) -> None:
        service = self.service

        @app.post(
            "/v1/predict",
            summary="Gateway: predict with the routed model and log the event",
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
                }
            },
        )
        async def predict(request: Request, caller: Any = Depends(ingest)) -> JSONResponse:
            from assay.monitor.app import ApiError

            body = await body_of(request)
            try:
                asked = PREDICT.validate_json(body)
            except ValidationError as exc:
                raise ApiError(
                    422, "the body is invalid; see problems", api.problems(exc)
                ) from None
            route = await run_in_threadpool(service.route)
            target = route.target if route.target in self.targets else "primary"
            endpoint = self.targets[target]
            began = time.perf_counter()
            answer, problem = await self._forward(endpoint, asked.features)
            latency_ms = (time.perf_counter() - began) * 1000
            prediction, score = _read(answer) if answer is not None else (None, None)
            event_id = asked.id or f"gw-{uuid.uuid4().hex}"
            event = api.Event(
                id=event_id,
                timestamp=service.clock.now(),
                model_version=endpoint.version or target,
                session_id=asked.session_id,
                api_key_id=caller.key_id,
                features=asked.features,
                prediction=prediction,
                score=score,
                latency_ms=latency_ms,
            )
            accepted = await run_in_threadpool(
                ingest_call,
                lambda: service.ingest_events(api.EventBatch(events=[event]), key_id=caller.key_id),
            )
            if problem is not None:
                raise ApiError(502, f"the {target} model at {endpoint.url} failed: {problem}")
            if accepted.held_for_review:
                return JSONResponse(
                    {"id": event_id, "held_for_review": True, "route": target}, status_code=202
                )
            return JSONResponse(
                {
                    "id": event_id,
                    "prediction": prediction,
                    "score": score,
                    "route": target,
                    "degraded_mode": route.degraded_mode,
                    "answer": answer,
                }
            )

        app.state.gateway = self

    async def _forward(
        self, endpoint: ModelRoute, features: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str | None]:
        headers = {}
        if endpoint.key_env:
            key = os.environ.get(endpoint.key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        try:
            response = await self._client.post(
                endpoint.url,
                json={"instances": [features]},
                headers=headers,
                timeout=endpoint.timeout,
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        if response.status_code >= 400:
            return None, f"HTTP {response.status_code}"
        try:
            answer = response.json()
        except ValueError:
            return None, "the answer is not JSON"
        if not isinstance(answer, dict):
            return None, "the answer is not a JSON object"
        return answer, None


def _read(answer: dict[str, Any]) -> tuple[float | None, float | None]:
    """The first prediction, and its score: the top class probability or decision score."""
    predictions = answer.get("predictions")
    first = predictions[0] if isinstance(predictions, list) and predictions else None
    prediction = float(first) if isinstance(first, int | float) else None
    classes = answer.get("classes")
    if prediction is None and isinstance(classes, list) and first in classes:
        prediction = float(classes.index(first))  # a class label: its index in `classes`
    score = None
    for key in ("probabilities", "scores"):
        rows = answer.get(key)
        if isinstance(rows, list) and rows:
            row = rows[0]
            if isinstance(row, list) and row and all(isinstance(v, int | float) for v in row):
                score = float(max(row))
            elif isinstance(row, int | float):
                score = float(row)
            break
    return prediction, score
