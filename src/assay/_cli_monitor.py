"""``assay monitor``: serve the live watch, export its rules, manage its keys, run drills.

``assay monitor serve`` checks everything up front — the spec's ``monitor:`` section, the
evidence repository and the watched run's baseline, the database (migrated on start), the port —
so bad input exits 2 with one message before anything listens. docs/monitor.md describes the
service.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from assay import _console
from assay._cli_base import DEFAULT_REPO, RepoOption, _guarded, app
from assay._cli_monitor_keys import DEFAULT_DB, DbOption, keys_app
from assay.errors import AssayError
from assay.spec import Spec

monitor_app = typer.Typer(
    help="Watch the live system: serve the monitor, export rules, manage keys, run drills.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(monitor_app, name="monitor")
monitor_app.add_typer(keys_app, name="keys")

SpecOption = Annotated[Path, typer.Option("--spec", help="The spec file.")]


def _monitor_spec(path: Path) -> Spec:
    from assay.spec import load_spec

    spec = load_spec(path)
    if spec.monitor is None:
        raise AssayError(
            f"{path}: the spec has no `monitor:` section, so there is nothing to watch. "
            "Add rules (docs/monitor.md)."
        )
    return spec


@monitor_app.command("serve")
@_guarded
def serve(
    spec_path: SpecOption = Path("assay.yaml"),
    db: DbOption = DEFAULT_DB,
    repo: RepoOption = Path(DEFAULT_REPO),
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port; 0 picks a free one.")] = 8100,
    time_scale: Annotated[
        float,
        typer.Option(
            "--time-scale",
            help="Run deadlines and time windows this many times faster than real time "
            "(drills: 60 makes a 15-minute acknowledgement deadline pass in 15 s).",
        ),
    ] = 1.0,
) -> None:
    """Serve the monitor: ingest API, detectors, rules, actions, escalation, dashboard."""
    import uvicorn

    from assay.monitor.clock import ScaledClock, SystemClock
    from assay.monitor.server import build, load_baseline
    from assay.monitor.store.db import Database
    from assay.serving._server import _config, bind, url_of

    if time_scale <= 0:
        raise AssayError(f"--time-scale {time_scale} must be positive (1 is real time).")
    spec = _monitor_spec(spec_path)
    baseline, run_id, repository = load_baseline(spec, repo)
    database = Database.open(db)
    clock = ScaledClock(time_scale) if time_scale != 1.0 else SystemClock()
    sock = bind(host, port)
    try:
        replica = build(
            spec,
            database,
            baseline=baseline,
            baseline_run=run_id,
            repository=repository,
            clock=clock,
        )
    except BaseException:
        sock.close()
        raise
    url = url_of(sock)
    assert spec.monitor is not None
    for line in (
        f"monitoring {spec.system.name} against run {run_id[:12]} "
        f"({len(baseline.features)} features, {len(spec.monitor.rules)} rules)",
        f"  ingest     POST {url}/v1/events  /v1/labels  /v1/kpis",
        f"  dashboard  {url}/        API docs {url}/docs",
        f"  database   {database}",
        f"  time       {'real time' if time_scale == 1.0 else f'{time_scale:g}x real time'}",
        "  keys       `assay monitor keys bootstrap --name NAME` makes the first admin key",
    ):
        _console.out.print(line, soft_wrap=True)
    sys.stdout.flush()
    with sock, contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(_config(replica.app)).run(sockets=[sock])


@monitor_app.command("rules")
@_guarded
def rules(
    spec_path: SpecOption = Path("assay.yaml"),
    fmt: Annotated[
        str, typer.Option("--format", help="Output format: prometheus (alerting rules YAML).")
    ] = "prometheus",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Export the spec's monitor rules for Prometheus (over the service's /metrics)."""
    from assay._files import atomic_write
    from assay.monitor.prometheus_rules import export_rules

    if fmt != "prometheus":
        raise AssayError(f"--format {fmt!r} is not known; use prometheus.")
    spec = _monitor_spec(spec_path)
    assert spec.monitor is not None
    text = export_rules(spec.monitor, default_owner=spec.owner_for("monitoring"))
    if out is None:
        sys.stdout.write(text)
        return
    atomic_write(out, text.encode())
    _console.out.print(f"wrote {out} ({len(spec.monitor.rules)} rules)")


@monitor_app.command("evidence-sync")
@_guarded
def evidence_sync(
    db: DbOption = DEFAULT_DB,
    repo: RepoOption = Path(DEFAULT_REPO),
) -> None:
    """Replay snapshots and drill records the replicas keep in the shared database into the
    evidence folder's ledger (where audits and `assay export` find them)."""
    from assay.evidence import Repository
    from assay.monitor.evidence import SharedEvidence
    from assay.monitor.store.db import Database

    repository = Repository.open(repo, create=False)
    with Database.open(db) as database:
        synced = SharedEvidence(database).sync(repository)
    _console.out.print(f"synced {synced} attachment(s) into {repo}")
