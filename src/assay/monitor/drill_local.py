"""Drills against an in-process service: a throw-away replica on loopback whose webhooks go
to a local sink, its log captured into the drill record (:func:`in_process`)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.monitor.clock import ManualClock
from assay.monitor.drill_client import ManualTime, Target, TimeControl, WallTime
from assay.profiles.baseline import Baseline
from assay.spec import Spec

# ------------------------------------------------------------------------------ in process


class LogTap(logging.Handler):
    """Keeps what the in-process service logs (``assay.monitor``, warnings and up) for the
    records, instead of printing it over the drill's output."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self._taken = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage().splitlines()[0][:300] if record.getMessage() else ""
        with self._taken:
            self.lines.append(f"{record.levelname.lower()}: {line}")

    def take(self) -> list[str]:
        with self._taken:
            lines, self.lines = self.lines, []
        return lines

    @contextlib.contextmanager
    def tapping(self, name: str = "assay.monitor") -> Iterator[LogTap]:
        logger = logging.getLogger(name)
        propagate = logger.propagate
        logger.addHandler(self)
        logger.propagate = False
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.propagate = propagate


class WebhookSink:
    """A loopback receiver that answers 200 to every POST and keeps what it got: an
    in-process drill points the spec's webhooks here, so a rehearsal pages nobody."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self.url = ""

    @contextlib.contextmanager
    def serving(self) -> Iterator[WebhookSink]:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from assay.serving._server import running

        async def receive(request: Request) -> JSONResponse:
            body = await request.body()
            try:
                payload = json.loads(body)
            except ValueError:
                payload = body.decode("utf-8", "replace")
            with self._lock:
                self.received.append((request.path_params["name"], payload))
            return JSONResponse({"ok": True})

        app = Starlette(routes=[Route("/hook/{name:path}", receive, methods=["POST"])])
        with running(app) as served:
            self.url = served.url
            yield self

    def kinds(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.received]


def rehearsal_spec(spec: Spec, sink_url: str) -> Spec:
    """``spec`` with every webhook pointed at ``sink_url`` (a :class:`WebhookSink`) and the
    autoscaling command replaced by one that does nothing: an in-process drill must not page
    anyone or scale anything. Unset webhooks stay unset (their actions fail as they would)."""
    monitor = spec.monitor
    assert monitor is not None
    hooks = {
        name: (f"{sink_url}/hook/{name}" if url else None)
        for name, url in monitor.webhooks.model_dump().items()
    }
    levels = [
        lv.model_copy(update={"webhook": f"{sink_url}/hook/escalation-{i}" if lv.webhook else None})
        for i, lv in enumerate(monitor.escalation, 1)
    ]
    command = [sys.executable, "-c", "pass"] if monitor.autoscale_command else None
    rehearsed = monitor.model_copy(
        update={
            "webhooks": monitor.webhooks.model_copy(update=hooks),
            "escalation": levels,
            "autoscale_command": command,
        }
    )
    return spec.model_copy(update={"monitor": rehearsed})


@contextlib.contextmanager
def in_process(
    spec: Spec,
    repo_path: Path,
    *,
    db: str | None = None,
    time_scale: float | None = None,
) -> Iterator[tuple[Target, Baseline]]:
    """A replica of the monitor built from ``spec`` over a throw-away SQLite database (or
    ``db``), on a :class:`ManualClock` (or, with ``time_scale``, a scaled clock), served on
    loopback with its webhooks pointed at a :class:`WebhookSink`; drill records are stored
    directly in its database and in the evidence repository ``repo_path``."""
    from assay.monitor.clock import Clock, ScaledClock
    from assay.monitor.drill_routes import store_record
    from assay.monitor.keys import create_key, revoke_key
    from assay.monitor.server import build, load_baseline
    from assay.monitor.store.db import Database
    from assay.serving._server import running

    baseline, run_id, repository = load_baseline(spec, repo_path)
    with contextlib.ExitStack() as stack:
        if db is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="assay-drill-"))
            db = str(Path(folder) / "monitor.db")
        database = Database.open(db)
        stack.callback(database.close)
        sink = stack.enter_context(WebhookSink().serving())
        tap = stack.enter_context(LogTap().tapping())
        clock: Clock
        control: TimeControl
        if time_scale is None:
            manual = ManualClock(time.time())
            clock, control = manual, ManualTime(manual)
        else:
            clock, control = ScaledClock(time_scale), WallTime(time_scale)
        replica = build(
            rehearsal_spec(spec, sink.url),
            database,
            baseline=baseline,
            baseline_run=run_id,
            repository=repository,
            clock=clock,
        )
        with database.begin() as conn:
            info, token = create_key(
                conn, name="assay-drill", role="admin", now=clock.now(), rate_per_second=1e6
            )

        def forget_key() -> None:
            with database.begin() as conn:
                revoke_key(conn, info.id, now=clock.now(), reason="the drill is over")

        stack.callback(forget_key)
        served = stack.enter_context(running(replica.app))
        target = Target(
            url=served.url,
            token=token,
            time=control,
            store=lambda record: store_record(database, repository, run_id, record),
            in_process=True,
            service_log=tap.take,
        )
        yield target, baseline
