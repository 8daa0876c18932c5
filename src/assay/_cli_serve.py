"""``assay serve-model``: serve a model over HTTP with uvicorn, for tests, demos and drills.

Every option is checked and the model loaded before anything listens, so bad input (a missing
model file, a port in use, a malformed fault spec, an unset key variable) exits 2 with one
message. docs/serve-model.md describes the contract, the faults, auth, the log and metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from assay import _console
from assay._cli_base import _guarded, app


@app.command("serve-model")
@_guarded
def serve_model(
    target: Annotated[
        Path,
        typer.Argument(
            metavar="SPEC_OR_MODEL",
            help="An Assay spec (its `model:` is served) or a model file (.skops, .onnx; "
            ".pkl, .pickle, .joblib with --trust).",
        ),
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on; 0 picks a free one.")] = (
        8000
    ),
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Environment variable holding the API key; without a valid key every route "
            "but /health answers 401.",
        ),
    ] = None,
    access_log: Annotated[
        Path | None, typer.Option("--access-log", help="Append a JSON line per request here.")
    ] = None,
    latency: Annotated[
        str | None,
        typer.Option(
            "--latency",
            help="Added latency: fixed:20ms, normal:20ms,5ms, lognormal:20ms,0.5, "
            "uniform:10ms,50ms or exponential:20ms.",
        ),
    ] = None,
    error_rate: Annotated[
        str | None,
        typer.Option("--error-rate", help="Share of predictions answered with HTTP 500 (0.05)."),
    ] = None,
    stall: Annotated[
        str | None,
        typer.Option("--stall", help="DURATION/PERIOD: every PERIOD, requests block (1s/10s)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the injected faults.")] = 0,
    trust: Annotated[
        bool,
        typer.Option("--trust", help="Allow pickle and joblib files (they can run any code)."),
    ] = False,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Model name in /v1/models/NAME:predict (default: file stem)."),
    ] = None,
) -> None:
    """Serve a model over HTTP: POST /predict, GET /health, GET /metrics."""
    from assay.errors import AssayError
    from assay.serving import ServeOptions, bind, prepare, serve
    from assay.serving._server import BAD_WORKERS, url_of

    if workers < 1:
        raise AssayError(BAD_WORKERS.format(workers=workers))
    options = ServeOptions(
        target=str(target),
        trust=trust,
        name=name,
        api_key_env=api_key_env,
        access_log=str(access_log) if access_log is not None else None,
        latency=latency,
        error_rate=error_rate,
        stall=stall,
        seed=seed,
    )
    options.faults()  # malformed fault text fails before the port and the model are touched
    sock = bind(host, port)
    try:
        prepared = prepare(options)  # checks everything and loads the model once, up front
    except BaseException:
        sock.close()
        raise
    url = url_of(sock)
    auth = f"API key from ${api_key_env} ({prepared.key_id})" if prepared.key_id else "none"
    for line in (
        f"serving {prepared.model.description} as {prepared.name!r}",
        f"  predict  POST {url}/predict  (or {url}/v1/models/{prepared.name}:predict)",
        f"  health   GET  {url}/health    metrics  GET {url}/metrics",
        f"  auth     {auth}",
        f"  log      {access_log or 'none'}",
        f"  faults   {prepared.faults.describe()}",
        f"  workers  {workers}  (Ctrl-C stops)",
    ):
        _console.out.print(line, soft_wrap=True)
    sys.stdout.flush()
    with sock:
        serve(options, sock, workers=workers, prepared=prepared)
