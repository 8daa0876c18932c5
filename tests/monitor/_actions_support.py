"""Helpers for the rules, incidents, actions, webhooks and Prometheus-export tests.

(Named apart from ``tests/_support.py``: test folders are not packages here, so two modules
called ``_support`` would shadow each other.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Engine, insert

from _load_servers import unused_port
from assay.monitor.detectors import Observation
from assay.monitor.store import schema
from assay.spec.monitor import Monitor

T0 = 1_800_000_000.0


Obs = Observation
"""The detectors' observation record, under the name these tests use."""


def obs(
    signal: str = "input_shift",
    metrics: dict[str, float] | None = None,
    *,
    subject: str = "inputs",
    window: str = "events=1000",
    start: float = T0 - 60,
    end: float = T0,
    n: int = 1000,
    **extra: Any,
) -> Obs:
    return Obs(
        signal=signal,
        subject=subject,
        window=window,
        metrics={"share_drifted": 0.5} if metrics is None else metrics,
        start=start,
        end=end,
        n=n,
        **extra,
    )


@contextmanager
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    schema.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def monitor(**section: Any) -> Monitor:
    """A validated ``monitor:`` section (the dict as it would be in assay.yaml)."""
    return Monitor.model_validate(section)


def rows(engine: Engine, table: sqlalchemy.Table) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sqlalchemy.select(table)).all())


def add_events(engine: Engine, events: list[dict[str, Any]]) -> None:
    """Store events (defaults for the columns not given)."""
    with engine.begin() as conn:
        for i, event in enumerate(events):
            values = {
                "id": f"e{i}",
                "ts": T0 - 30 + i,
                "received": T0 - 30 + i,
                "model_version": "v1",
                "features": {},
                **event,
            }
            values["features"] = json.dumps(values["features"])
            conn.execute(insert(schema.events).values(**values))


# ----------------------------------------------------------------------- HTTP receivers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    received: list[Received]
    hits: int
    on_request: Callable[[], None] | None
    failures: int
    fail_status: int
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.server.on_request is not None:
            self.server.on_request()
        with self.server.lock:
            self.server.hits += 1
            failing = self.server.failures > 0
            if failing:
                self.server.failures -= 1
            else:
                self.server.received.append(
                    Received(self.path, dict(self.headers.items()), json.loads(raw or b"null"))
                )
        status = self.server.fail_status if failing else 200
        answer = b'{"error": "try later"}' if failing else b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Receiver:
    """A webhook receiver on 127.0.0.1 that records what it accepts and can be told to fail."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    @property
    def hits(self) -> int:
        """Requests answered, failed ones included."""
        with self._server.lock:
            return self._server.hits

    def on_request(self, hook: Callable[[], None] | None) -> None:
        """Call ``hook`` in the handler thread, before answering, for every request."""
        self._server.on_request = hook

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._server.lock:
            self._server.failures = n
            self._server.fail_status = status

    @property
    def received(self) -> list[Received]:
        with self._server.lock:
            return list(self._server.received)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [r.body for r in self.received if path is None or r.path == path]


@contextmanager
def receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.received = []
    server.hits = 0
    server.on_request = None
    server.failures = 0
    server.fail_status = 503
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield Receiver(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def down_url() -> str:
    """A URL on a local port nothing listens on: connections are refused."""
    return f"http://127.0.0.1:{unused_port()}/hook"
