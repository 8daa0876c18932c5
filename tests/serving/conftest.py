"""Shared fixtures of the serve-model tests: loopback without proxies, a fitted model."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

import pytest

from _model_audits import GOOD_FEATURES, fit_model, make_table
from assay.sources.models import EstimatorModel, Model

KEY = "srv-Hq4Lx8Zt2Pw7Kc3Vb9Nr"


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("SERVE_KEY", KEY)


@pytest.fixture(scope="session")
def good_model() -> Model:
    """The good fixture's logistic-regression pipeline, as a loaded Assay model."""
    estimator = fit_model("good", make_table("good", 600, 1))
    return EstimatorModel(estimator, source="good pipeline", features=GOOD_FEATURES)


def call(
    url: str,
    body: Any = None,
    *,
    key: str | None = None,
    header: str = "Authorization",
) -> tuple[int, Message, bytes]:
    """POST ``body`` as JSON (GET when ``None``); the status, headers (any case) and body."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers[header] = f"Bearer {key}" if header == "Authorization" else key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read()
