"""``assay monitor drill``: prove that each expected automated action fires within its deadline
and that an unacknowledged incident escalates; keep the proof as evidence.

Without ``--url`` the drill runs in process: a replica built from the spec over a throw-away
SQLite database (or ``--db``), on a manual clock, served on loopback with its webhooks pointed
at a local receiver (a rehearsal pages nobody). With ``--url`` it drills a running service with
the admin key in ``--key-env``. docs/monitor-drills.md describes the scenarios, the deadlines
and the record. Exit codes: 0 every drill passed, 1 a drill failed (or its record could not be
stored), 2 bad input.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay import _console
from assay._cli_base import DEFAULT_REPO, RepoOption, _guarded
from assay._cli_monitor import SpecOption, _monitor_spec, monitor_app
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.monitor.drill_client import DrillResult

DEFAULT_KEY_ENV = "ASSAY_MONITOR_KEY"


def _scenarios(value: str) -> list[str]:
    from assay.spec.monitor import DRILL_SCENARIOS

    names = [part.strip() for part in value.split(",") if part.strip()]
    if names == ["all"]:
        return list(DRILL_SCENARIOS)
    unknown = [n for n in names if n not in DRILL_SCENARIOS]
    if unknown or not names:
        raise AssayError(
            f"--scenario {value!r}: unknown scenario {unknown[0] if unknown else ''!r}; use "
            f"one of {', '.join(DRILL_SCENARIOS)}, a comma-separated list, or all."
        )
    return list(dict.fromkeys(names))


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _metrics(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return ""
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()) if isinstance(v, float))


def _title(result: DrillResult) -> Text:
    record = result.record
    timings = record.get("timings", {})
    verdict = "PASS" if result.passed and not result.store_error else "FAIL"
    return Text.assemble(
        (f"drill {record['scenario']}: ", "bold"),
        (verdict, "bold green" if verdict == "PASS" else "bold red"),
        f"  (traffic {_seconds(timings.get('traffic_s'))}, "
        f"total {_seconds(timings.get('total_s'))})",
    )


def _table(result: DrillResult) -> Table:
    record = result.record
    table = Table(show_lines=False)
    table.add_column("rule")
    table.add_column("expected")
    table.add_column("observed")
    table.add_column("after traffic", justify="right")
    observed = {i["rule"]: i for i in record["observed"].get("incidents", [])}
    for rule in record["expected"]["rules"]:
        seen = observed.get(rule["rule"], {})
        incident = (
            f"incident {seen['id']} on {seen['subject']} ({_metrics(seen.get('metrics'))})"
            if seen.get("id") is not None
            else "no incident"
        )
        table.add_row(
            rule["rule"],
            f"incident: {rule['when']} ({rule['window']})",
            incident,
            _seconds(seen.get("seen_after_s")),
        )
        actions = {a["action"]: a for a in seen.get("actions", [])}
        for name in rule["actions"]:
            action = actions.get(name, {})
            outcome = action.get("outcome", "not seen")
            rows = action.get("rows", 0)
            text = outcome if rows <= 1 else f"{outcome} ({rows} targets)"
            table.add_row("", f"action {name}", text, _seconds(action.get("recorded_after_s")))
        wait = f"{rule['ack_within_minutes']:g} min"
        first = rule.get("first_escalation") or "nobody (no escalation level)"
        escalation = seen.get("escalation")
        if escalation:
            shown = f"{escalation.get('name')} (level {escalation.get('level')})"
            if escalation.get("exhausted"):
                shown = "recorded as exhausted (no level)"
            shown += f", {escalation['after_deadline_s']:g} s after the deadline"
            if escalation.get("delivery"):
                shown += f", {escalation['delivery']}"
        else:
            shown = "no escalation"
        table.add_row(
            "",
            f"escalate to {first} after {wait}",
            shown,
            _seconds((escalation or {}).get("seen_after_s")),
        )
    return table


def _print(result: DrillResult) -> None:
    record = result.record
    _console.out.print(_title(result), soft_wrap=True)
    if record["expected"]["rules"]:
        _console.out.print(_table(result))
    for failure in record["failures"]:
        _console.out.print(Text.assemble(("  FAIL ", "bold red"), failure), soft_wrap=True)
    for warning in record.get("warnings", []):
        _console.out.print(Text.assemble(("  note ", "yellow"), warning), soft_wrap=True)
    cleanup = record["observed"].get("cleanup") or {}
    resolved = cleanup.get("resolved") or []
    route = cleanup.get("route")
    tidy = f"resolved incident(s) {', '.join(map(str, resolved))}" if resolved else "nothing"
    if isinstance(route, dict):
        tidy += f"; restored {', '.join(f'{k}={v}' for k, v in route['restored'].items())}"
    _console.out.print(f"  cleanup: {tidy}", soft_wrap=True)
    if result.store_error:
        _console.out.print(Text.assemble(("  FAIL ", "bold red"), result.store_error))
    elif result.stored:
        where = result.stored.get("evidence")
        stored = f"evidence sha256:{where[:12]}" if where else "the service's database"
        _console.out.print(f"  record: drill {result.stored.get('drill')}, {stored}")
        if result.stored.get("note"):
            _console.out.print(Text.assemble(("  note ", "yellow"), result.stored["note"]))
    _console.out.print("")


@monitor_app.command("drill")
@_guarded
def drill(
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario",
            help="input_shift, accuracy_drop, latency_spike, suspicious_output, "
            "security_anomaly, a comma-separated list, or all.",
        ),
    ] = "all",
    url: Annotated[
        str | None,
        typer.Option("--url", help="Drill the service running here (default: in process)."),
    ] = None,
    key_env: Annotated[
        str,
        typer.Option("--key-env", help="Environment variable holding an admin key (--url)."),
    ] = DEFAULT_KEY_ENV,
    spec_path: SpecOption = Path("assay.yaml"),
    repo: RepoOption = Path(DEFAULT_REPO),
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="In process: the monitor database to use (default: a throw-away SQLite file).",
        ),
    ] = None,
    time_scale: Annotated[
        float | None,
        typer.Option(
            "--time-scale",
            help="The service's --time-scale (--url); in process, run on a clock this many "
            "times faster than real time instead of a manual one.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds one scenario may take, waits included.")
    ] = 300.0,
    action_deadline: Annotated[
        float,
        typer.Option(
            "--action-deadline",
            help="Seconds after the drill traffic within which every action must be ok.",
        ),
    ] = 30.0,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the traffic (default: the spec's).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the drill records to this file.")
    ] = None,
) -> None:
    """Drill the monitor: inject traffic that must trip each signal, check that every action
    fires in time and that escalation fires without an acknowledgement, then store the proof."""
    import contextlib

    from assay._files import atomic_write
    from assay.monitor import drill_client, drill_local, drills

    names = _scenarios(scenario)
    if timeout <= 0 or action_deadline <= 0:
        raise AssayError("--timeout and --action-deadline must be positive numbers of seconds.")
    if time_scale is not None and time_scale <= 0:
        raise AssayError(f"--time-scale {time_scale} must be positive (1 is real time).")
    spec = _monitor_spec(spec_path)
    results: list[DrillResult] = []
    with contextlib.ExitStack() as stack:
        if url is None:
            target, baseline = stack.enter_context(
                drill_local.in_process(spec, repo, db=db, time_scale=time_scale)
            )
            pace = "a manual clock" if time_scale is None else f"{time_scale:g}x real time"
            where = f"in process ({target.url}, {pace})"
        else:
            from assay.monitor.server import load_baseline

            if db is not None:
                raise AssayError(
                    "--db is for in-process drills; a drill of --url uses the service's database."
                )
            token = os.environ.get(key_env, "").strip()
            if not token:
                raise AssayError(
                    f"${key_env} is not set: a drill of {url} needs an admin key there "
                    f"(`assay monitor keys create --role admin`, then `export {key_env}=…`), "
                    "or name another variable with --key-env."
                )
            baseline, _, _ = load_baseline(spec, repo)
            target = drill_client.Target(
                url=url, token=token, time=drill_client.WallTime(time_scale or 1.0), store=None
            )
            drill_client.preflight(target)
            where = url
        _console.out.print(
            f"drilling {', '.join(names)} {where}; seed {spec.seed if seed is None else seed}\n",
            soft_wrap=True,
        )
        results = drills.run_drills(
            spec,
            baseline,
            target,
            names,
            seed=seed,
            timeout=timeout,
            action_deadline=action_deadline,
            on_result=_print,
        )
    failed = [r.scenario for r in results if not r.passed or r.store_error]
    if json_out is not None:
        body = {
            "passed": not failed,
            "drills": [r.record for r in results],
            "stored": [r.stored for r in results],
        }
        atomic_write(json_out, json.dumps(body, indent=1, sort_keys=True).encode() + b"\n")
    if failed:
        _console.out.print(
            Text.assemble(
                ("FAIL", "bold red"), f": {len(failed)} drill(s) failed: {', '.join(failed)}"
            )
        )
        raise typer.Exit(1)
    _console.out.print(Text.assemble(("PASS", "bold green"), f": {len(results)} drill(s) passed"))
