"""``assay serve-model``: serve any model Assay can load over HTTP, with optional API-key
auth, a JSON-lines access log, Prometheus counters and fault injection (added latency,
injected errors, periodic stalls) for tests, demos and drills.

The request and response follow Assay's own HTTP model adapter, so a spec whose ``model:``
is ``{url: http://HOST:PORT/predict, proba_path: probabilities}`` audits the served model
end to end (docs/serve-model.md).

>>> from assay.serving import create_app, running
>>> with running(create_app(model, api_key="s3cret")) as served:
...     print(served.url)         # http://127.0.0.1:54321
"""

from __future__ import annotations

from assay.serving._app import Metrics, ServeState, create_app, key_id
from assay.serving._faults import (
    Faults,
    Latency,
    Stall,
    parse_duration,
    parse_error_rate,
    parse_latency,
    parse_stall,
)
from assay.serving._server import (
    Prepared,
    Running,
    ServeOptions,
    bind,
    open_target,
    prepare,
    running,
    serve,
)

__all__ = [
    "Faults",
    "Latency",
    "Metrics",
    "Prepared",
    "Running",
    "ServeOptions",
    "ServeState",
    "Stall",
    "bind",
    "create_app",
    "key_id",
    "open_target",
    "parse_duration",
    "parse_error_rate",
    "parse_latency",
    "parse_stall",
    "prepare",
    "running",
    "serve",
]
