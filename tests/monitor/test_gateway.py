"""Gateway mode: /v1/predict forwards by the route, logs the event, and obeys a flip at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _service_support import audited, event, serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from assay.monitor.store.db import Database
from assay.serving._server import running

RULES: list[dict[str, Any]] = [
    {
        "name": "inputs-drifted",
        "signal": "input_shift",
        "when": "share_drifted > 0.3",
        "window": {"events": 200},
        "actions": ["route_fallback"],
        "runbook": "https://wiki.example.com/drift",
    },
    {
        "name": "pii-out",
        "signal": "suspicious_output",
        "when": "pii_rate > 0.05",
        "window": {"events": 200},
        "actions": ["quarantine_sessions"],
        "runbook": "https://wiki.example.com/pii",
    },
]


def _model(answer: int, calls: list[dict[str, Any]], *, fail: bool = False) -> Starlette:
    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        calls.append(body)
        if fail:
            return JSONResponse({"error": "boom"}, status_code=500)
        n = len(body["instances"])
        return JSONResponse(
            {"predictions": [answer] * n, "classes": [0, 1], "probabilities": [[0.2, 0.8]] * n}
        )

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])


@pytest.fixture
def models() -> Iterator[tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]]:
    primary_calls: list[dict[str, Any]] = []
    fallback_calls: list[dict[str, Any]] = []
    with ExitStack() as stack:
        primary = stack.enter_context(running(_model(1, primary_calls)))
        fallback = stack.enter_context(running(_model(0, fallback_calls)))
        yield primary.url, fallback.url, primary_calls, fallback_calls


def test_predictions_follow_the_route_and_are_logged(
    tmp_path: Path, db: Database, models: tuple[str, str, list[Any], list[Any]]
) -> None:
    primary_url, fallback_url, primary_calls, fallback_calls = models
    spec, repo, _ = audited(
        tmp_path,
        rules=RULES,
        monitor={
            "primary": {"url": primary_url + "/predict", "version": "2.0"},
            "fallback": {"url": fallback_url + "/predict", "version": "1.0-safe"},
        },
    )
    with serving(spec, repo, db) as served:
        ingest = served.client("ingest")
        answer = ingest.post(
            "/v1/predict", json={"features": {"age": 41.0, "income": 2e4, "region": "north"}}
        )
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert (got["route"], got["prediction"], got["score"]) == ("primary", 1.0, 0.8)
        assert primary_calls == [{"instances": [{"age": 41.0, "income": 2e4, "region": "north"}]}]
        with db.connect() as conn:
            from assay.monitor.store.traffic import events_by_ids

            (logged,) = events_by_ids(conn, [got["id"]])
        assert logged["model_version"] == "2.0" and logged["prediction"] == 1.0
        assert logged["key_id"] == served.replica.keys.verify(served.keys["ingest"]).key_id

        # Drifted traffic flips the route; the very next prediction goes to the fallback.
        rng = np.random.default_rng(3)
        drifted = [event(i, shift=40, rng=rng) for i in range(200)]
        assert ingest.post("/v1/events", json={"events": drifted}).status_code == 202
        served.replica.service.settle()
        assert served.client("read").get("/v1/route").json()["target"] == "fallback"
        after = ingest.post("/v1/predict", json={"features": {"age": 40.0}}).json()
        assert (after["route"], after["prediction"]) == ("fallback", 0.0)
        assert len(fallback_calls) == 1

        # Session s1 leaks e-mail addresses: it is quarantined, its answers held for review.
        leaky = [
            event(1000 + i, rng=rng, session_id="s1" if i % 5 == 0 else f"ok{i}",
                  output_text="write to jane.doe@example.com" if i % 5 == 0 else "fine")
            for i in range(200)
        ]  # fmt: skip
        assert ingest.post("/v1/events", json={"events": leaky}).status_code == 202
        served.replica.service.settle()
        held = ingest.post("/v1/predict", json={"features": {"age": 40.0}, "session_id": "s1"})
        assert held.status_code == 202 and held.json()["held_for_review"] is True
        assert "prediction" not in held.json()
        review = served.client("read").get("/v1/review").json()
        assert [r["session_id"] for r in review] == ["s1"]

        bad = ingest.post("/v1/predict", json={"features": "not a mapping"})
        assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "features"


def test_a_failing_model_is_a_502_and_the_event_is_logged_without_prediction(
    tmp_path: Path, db: Database
) -> None:
    calls: list[dict[str, Any]] = []
    with running(_model(1, calls, fail=True)) as broken:
        spec, repo, _ = audited(tmp_path, monitor={"primary": {"url": broken.url + "/predict"}})
        with serving(spec, repo, db) as served:
            answer = served.client("ingest").post(
                "/v1/predict", json={"features": {"age": 1.0}, "id": "x1"}
            )
            assert answer.status_code == 502
            assert (
                "primary model" in answer.json()["error"] and "HTTP 500" in answer.json()["error"]
            )
            with db.connect() as conn:
                from assay.monitor.store.traffic import events_by_ids

                (logged,) = events_by_ids(conn, ["x1"])
            assert logged["prediction"] is None and logged["model_version"] == "primary"
