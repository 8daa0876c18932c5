"""Opening the model to serve, and running the app with uvicorn: in the foreground (the CLI,
one process or several workers) or in a background thread (tests, demos, drills)."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from assay.errors import AssayError, InputError
from assay.serving._app import create_app, key_id
from assay.serving._faults import Faults, parse_error_rate, parse_latency, parse_stall
from assay.sources.models import Model

SPEC_SUFFIXES = (".yaml", ".yml")
MODEL_SUFFIXES = (".skops", ".onnx", ".pkl", ".pickle", ".joblib")
TARGET_NOT_FOUND = (
    "{path}: no such file. Name an Assay spec (assay.yaml) whose `model:` to serve, or a model "
    "file (.skops, .onnx; .pkl, .pickle or .joblib with --trust)."
)
TARGET_KIND = (
    "{path}: cannot tell a spec from a model file by its suffix {suffix!r}. Name an Assay spec "
    "(.yaml, .yml) or a model file (.skops, .onnx; .pkl, .pickle or .joblib with --trust)."
)
NO_MODEL = "{path}: the spec has no `model:` section, so there is nothing to serve. Add one."
KEY_UNSET = (
    "--api-key-env {var}: the environment variable is not set or empty. Put the API key "
    "clients must send in it, or leave out --api-key-env to serve without auth."
)
PORT_IN_USE = (
    "{host}:{port} is already in use. Stop whatever listens there, or pick another port with "
    "--port (0 picks a free one)."
)
CANNOT_BIND = "cannot listen on {host}:{port}: {problem}. Check --host and --port."
BAD_WORKERS = "--workers {workers} is not a number of processes. Use 1 or more."

OPTIONS_ENV = "ASSAY_SERVE_OPTIONS"
"""Where the CLI passes its options to worker processes (``--workers`` > 1)."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``assay serve-model`` was asked to serve, and how (text as given, parsed later,
    so worker processes can rebuild the app from it)."""

    target: str
    trust: bool = False
    name: str | None = None
    api_key_env: str | None = None
    access_log: str | None = None
    latency: str | None = None
    error_rate: str | None = None
    stall: str | None = None
    seed: int = 0

    def faults(self) -> Faults:
        """The parsed fault injection; raises :class:`AssayError` (exit 2) for bad text."""
        return Faults(
            latency=parse_latency(self.latency) if self.latency else None,
            error_rate=parse_error_rate(self.error_rate) if self.error_rate else 0.0,
            stall=parse_stall(self.stall) if self.stall else None,
            seed=self.seed,
        )

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        key = os.environ.get(self.api_key_env, "").strip()
        if not key:
            raise AssayError(KEY_UNSET.format(var=self.api_key_env))
        return key


@dataclass(frozen=True)
class Prepared:
    """An app ready to run, and what to tell the user about it."""

    app: Starlette
    model: Model
    name: str
    key_id: str | None
    faults: Faults


def prepare(options: ServeOptions) -> Prepared:
    """Check every option, load the model and build the app; bad input raises
    :class:`AssayError` before anything listens."""
    faults = options.faults()
    key = options.api_key()
    model, default_name = open_target(Path(options.target), trust=options.trust)
    name = options.name or default_name
    log = Path(options.access_log) if options.access_log else None
    app = create_app(model, name=name, api_key=key, access_log=log, faults=faults)
    return Prepared(app, model, name, key_id(key) if key else None, faults)


def open_target(path: Path, *, trust: bool = False) -> tuple[Model, str]:
    """The model of an Assay spec, or in a model file, and the name to serve it under."""
    from assay.runner import open_model
    from assay.spec.loader import load_spec, spec_from_mapping

    suffix = path.suffix.lower()
    if suffix in SPEC_SUFFIXES:
        if not path.is_file():
            raise InputError(TARGET_NOT_FOUND.format(path=path))
        spec = load_spec(path)
        model = open_model(spec)
        if model is None:
            raise InputError(NO_MODEL.format(path=path))
        return model, slug(spec.system.name)
    if suffix not in MODEL_SUFFIXES:
        if not path.exists():
            raise InputError(TARGET_NOT_FOUND.format(path=path))
        raise InputError(TARGET_KIND.format(path=path, suffix=suffix or "(none)"))
    if not path.is_file():
        raise InputError(TARGET_NOT_FOUND.format(path=path))
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": path.stem},
            "model": {"path": str(path.resolve()), "trust": trust},
        },
        base_dir=path.resolve().parent,
    )
    try:
        model = open_model(spec)
    except InputError as exc:  # the loader speaks of a spec; here the file came from the CLI
        text = (
            str(exc)
            .removeprefix("spec: ")
            .replace("add `trust: true` under `model:`", "pass --trust")
        )
        raise InputError(text) from None
    assert model is not None
    return model, slug(path.stem)


def slug(text: str) -> str:
    """A name fit for a URL path segment: ``Churn model v2`` → ``churn-model-v2``."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "model"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a port in use is an :class:`AssayError` (exit 2).

    It listens at once, so clients may connect before the server starts; they wait.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted sockets only then;
    # without it every response on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AssayError(PORT_IN_USE.format(host=host, port=port)) from None
        problem = exc.strerror or str(exc)
        raise AssayError(CANNOT_BIND.format(host=host, port=port, problem=problem)) from None
    sock.listen(2048)  # connections made before uvicorn starts wait instead of being refused
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _config(app: Any, **extra: Any) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        lifespan="on",
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        **extra,
    )


def serve(
    options: ServeOptions,
    sock: socket.socket,
    *,
    workers: int = 1,
    prepared: Prepared | None = None,
) -> None:
    """Serve on ``sock`` in the foreground until interrupted (Ctrl-C), in ``workers``
    processes; each worker rebuilds the app from ``options``. With one worker, ``prepared``
    (from :func:`prepare`) saves loading the model again."""
    import uvicorn

    if workers < 1:
        raise AssayError(BAD_WORKERS.format(workers=workers))
    if workers == 1:
        prepared = prepared or prepare(options)
        with suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after shutting down
            uvicorn.Server(_config(prepared.app)).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[OPTIONS_ENV] = json.dumps(asdict(options))
    config = _config(f"{__name__}:worker_app", factory=True, workers=workers)
    with suppress(KeyboardInterrupt):
        Multiprocess(config, sockets=[sock]).run()


def worker_app() -> Starlette:
    """The app of one worker process, rebuilt from the options the CLI left in
    ``ASSAY_SERVE_OPTIONS`` (uvicorn imports this by name in each worker)."""
    options = ServeOptions(**json.loads(os.environ[OPTIONS_ENV]))
    return prepare(options).app


@dataclass
class Running:
    """A server running in a background thread: its base URL and the app."""

    url: str
    app: Starlette
    server: Any


@contextmanager
def running(app: Starlette, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[Running]:
    """Serve ``app`` with uvicorn in a background thread while the block runs.

    ``port=0`` picks a free port; the URL is known before the block starts and the server
    answers by then. On leaving, the server stops (open connections get one second).

    >>> with running(create_app(model)) as served:
    ...     urllib.request.urlopen(served.url + "/health")
    """
    import uvicorn

    sock = bind(host, port)
    server = uvicorn.Server(_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="assay-serve", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AssayError(f"the model server on {url_of(sock)} did not start")
            time.sleep(0.005)
        yield Running(url_of(sock), app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
