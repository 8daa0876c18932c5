"""HTTP models against a real loopback server: batching, concurrency, retries and errors."""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _model_support import Fitted, spec_with

from assay.errors import ModelCallError
from assay.sources.models import HttpModel, load_model
from assay.sources.models.http import walk


class Server:
    """A loopback JSON model: P(yes) = sigmoid(x1), in several response shapes."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.hits: Counter[str] = Counter()
        self.bodies: list[Any] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.hits[self.path] += 1
                    hit = server.hits[self.path]
                    server.bodies.append(body)
                route = self.path
                if route == "/slow":
                    server.stop.wait(10)
                    return
                if route == "/flaky" and hit == 1:
                    return self._send(500, b'{"error": "warming up"}')
                if route == "/down":
                    return self._send(503, b"overloaded, try later")
                if route == "/reject":
                    return self._send(400, b'{"error": "unknown field instances"}')
                if route == "/garbage":
                    return self._send(200, b"<html>not json</html>")
                if route == "/rows":
                    xs = [row[0] for row in body["inputs"]]
                    answer: Any = {"outputs": [{"label": int(x > 0), "p": _p(x)} for x in xs]}
                    return self._json(answer)
                xs = [r["x1"] or 0.0 for r in body["instances"]]
                if route == "/nopath":
                    return self._json({"result": [int(x > 0) for x in xs]})
                if route == "/dicts":
                    probs = [{"no": 1 - _p(x), "yes": _p(x)} for x in xs]
                    labels = ["yes" if x > 0 else "no" for x in xs]
                    return self._json({"predictions": labels, "probabilities": probs})
                probs2 = [[1 - _p(x), _p(x)] for x in xs]
                return self._json({"predictions": [int(x > 0) for x in xs], "proba": probs2})

            def _json(self, answer: Any) -> None:
                self._send(200, json.dumps(answer).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _p(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # loopback, even where a proxy is set
    srv = Server()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.stop.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join()


def _model(url: str, **options: Any) -> tuple[HttpModel, list[float]]:
    sleeps: list[float] = []
    options.setdefault("timeout", 5.0)
    return HttpModel(url, sleep=sleeps.append, **options), sleeps


def test_records_batches_and_concurrency(tmp_path: Path, server: Server, numeric: Fitted) -> None:
    spec = spec_with(
        tmp_path,
        f"  url: {server.url}/predict\n  proba_path: proba\n  classes: [0, 1]\n"
        "  batch_size: 50\n  concurrency: 3\n  features: [x1, x2]\n",
    )
    model = load_model(spec, sleep=lambda s: None)
    assert isinstance(model, HttpModel) and model.description == f"http model {server.url}/predict"
    out = model.predict_all(numeric.table)
    x1 = numeric.frame["x1"].to_numpy()
    assert list(out.labels) == list((x1 > 0).astype(int))
    assert out.proba is not None and np.allclose(out.proba[:, 1], 1 / (1 + np.exp(-x1)))
    assert server.hits["/predict"] == 6
    assert sorted(len(b["instances"]) for b in server.bodies) == [50] * 6
    assert set(server.bodies[0]["instances"][0]) == {"x1", "x2"}


def test_rows_template_and_wildcard_path(server: Server, numeric: Fitted) -> None:
    model, _ = _model(
        f"{server.url}/rows",
        request_template='{"inputs": "$rows"}',
        response_path="outputs.*.label",
        features=["x1", "x3"],
    )
    labels = model.predict(numeric.table)
    assert list(labels) == list((numeric.frame["x1"] > 0).astype(int))
    assert len(server.bodies[0]["inputs"][0]) == 2


def test_probability_objects_give_the_classes(server: Server) -> None:
    model, _ = _model(f"{server.url}/dicts", proba_path="probabilities")
    table = pa.table({"x1": [-1.0, 2.0, float("nan")]})
    out = model.predict_all(table)
    assert out.classes == ("no", "yes") and model.classes == ("no", "yes")
    assert out.proba is not None and out.proba.shape == (3, 2)
    assert server.bodies[0]["instances"][2] == {"x1": None}  # NaN is sent as null


def test_timeouts_are_retried_then_reported(server: Server) -> None:
    model, sleeps = _model(f"{server.url}/slow", timeout=0.2, retries=1)
    with pytest.raises(ModelCallError) as info:
        model.predict(pa.table({"x1": [1.0]}))
    assert str(info.value) == (
        f"{server.url}/slow: no answer within the timeout of 0.2 s after 2 attempt(s). "
        "Response: (none). Check that the endpoint is up and answers within `timeout`, or "
        "raise `timeout` or `retries`."
    )
    assert info.value.url == f"{server.url}/slow" and info.value.status is None
    assert sleeps == [0.5]
    assert server.hits["/slow"] == 2


def test_a_500_is_retried(server: Server) -> None:
    model, sleeps = _model(f"{server.url}/flaky")
    assert list(model.predict(pa.table({"x1": [1.0, -1.0]}))) == [1, 0]
    assert server.hits["/flaky"] == 2 and sleeps == [0.5]


def test_persistent_5xx_names_status_and_response(server: Server) -> None:
    model, sleeps = _model(f"{server.url}/down", retries=2)
    with pytest.raises(ModelCallError) as info:
        model.predict(pa.table({"x1": [1.0]}))
    assert str(info.value) == (
        f"{server.url}/down: the endpoint answered HTTP 503 Service Unavailable after "
        "3 attempt(s) (last status 503). Response: 'overloaded, try later'. Check that the "
        "endpoint is up and answers within `timeout`, or raise `timeout` or `retries`."
    )
    assert info.value.status == 503 and sleeps == [0.5, 1.0]


def test_a_4xx_is_not_retried(server: Server) -> None:
    model, sleeps = _model(f"{server.url}/reject")
    with pytest.raises(ModelCallError) as info:
        model.predict(pa.table({"x1": [1.0]}))
    assert "answered HTTP 400 Bad Request after 1 attempt(s)" in str(info.value)
    assert "unknown field instances" in str(info.value) and sleeps == []


def test_malformed_json(server: Server) -> None:
    model, _ = _model(f"{server.url}/garbage")
    with pytest.raises(ModelCallError) as info:
        model.predict(pa.table({"x1": [1.0]}))
    assert str(info.value) == (
        f"{server.url}/garbage: the response is not JSON (Expecting value at character 0). "
        "Response: '<html>not json</html>'. Fix response_path (or proba_path) to match the "
        "endpoint's answer."
    )
    assert info.value.snippet == "'<html>not json</html>'"


def test_missing_response_path(server: Server) -> None:
    model, _ = _model(f"{server.url}/nopath")
    with pytest.raises(ModelCallError) as info:
        model.predict(pa.table({"x1": [1.0]}))
    assert str(info.value).startswith(
        f"{server.url}/nopath: path 'predictions': the response has no key 'predictions' "
        "(keys: 'result'). Response: '{\"result\": [1]}'."
    )


def test_connection_refused() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        port = probe.server_address[1]
    model, sleeps = _model(f"http://127.0.0.1:{port}/x", retries=1)
    with pytest.raises(ModelCallError, match="the connection was refused after 2 attempt"):
        model.predict(pa.table({"x1": [1.0]}))
    assert sleeps == [0.5]


def test_walk() -> None:
    doc = {"a": [{"b": 1}, {"b": 2}], "c": {"d": [5, 6]}}
    assert walk(doc, "a.*.b") == [1, 2]
    assert walk(doc, "c.d.1") == 6
    assert walk(doc, "a.*") == doc["a"]
    with pytest.raises(LookupError, match=r"path 'c\.x': c has no key 'x' \(keys: 'd'\)"):
        walk(doc, "c.x")
    with pytest.raises(LookupError, match="is a dict, not a list"):
        walk(doc, "c.*")
