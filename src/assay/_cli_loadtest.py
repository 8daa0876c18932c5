"""``assay loadtest``: open-loop load against an HTTP endpoint, free of coordinated omission.

Exit codes: 0 when the test ran (and met the objectives given), 1 when an objective given on
the command line was missed (for a saturation search: when even the lowest rate missed it),
2 for bad input — an unreachable URL, a malformed body, a rate or objective that is not a
positive number. A server that fails during the test does not stop it: its errors are
counted by kind and reported. Method and JSON schema: docs/loadtest.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from assay import _console
from assay._cli_base import QuietOption, _guarded, _write_text, app
from assay.errors import AssayError, InputError

if TYPE_CHECKING:
    from assay.loadtest import LoadResult, Objective, Progress, SaturationResult, Target

NOT_A_NUMBER = "{option} must be {what}. Got {value!r}. Use for example {option} {example}."
BAD_MODE = "--mode {value!r} is not a load mode. Use open (the default) or closed."
ONE_BODY = "Give one source of request bodies: --body, --body-file or --data. Got {given}."
TEMPLATE_NEEDS_DATA = "--template shapes the rows of --data. Add --data FILE, or use --body."
BAD_STEPS = (
    "{option} {value!r} is not {what}. Write --step 100,200,400 or --ramp 100:1000:100 "
    "(start:stop:step, requests per second)."
)
STEP_AND_RAMP = "Give --step or --ramp, not both."
SEARCH_NEEDS_OBJECTIVE = (
    "A saturation search (--step/--ramp) needs a latency objective to search against. "
    "Add --p99 MS or --p95 MS."
)
SEARCH_IS_OPEN = "A saturation search runs open-loop load. Drop --mode closed, or --step/--ramp."
NO_RATE = "Open-loop load needs a rate. Add --rate REQUESTS_PER_SECOND (or --step/--ramp)."
FILE_NOT_FOUND = "{file}: no such file. Check the path given to {option}."
FILE_UNREADABLE = "{file}: cannot read it ({problem}). Check the path given to {option}."

SEARCH_ERROR_RATE = 0.01  # the error limit of a saturation search when none is given

Str = Annotated[str | None, typer.Option()]


@app.command("loadtest")
@_guarded
def loadtest_command(
    url: Annotated[str, typer.Argument(help="The endpoint, e.g. http://127.0.0.1:8080/predict.")],
    rate: Annotated[
        float | None, typer.Option("--rate", help="Requests per second (open loop).")
    ] = None,
    duration: Annotated[
        float, typer.Option("--duration", help="Seconds measured (after the warm-up).")
    ] = 10.0,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Seconds of load first, not measured.")
    ] = 2.0,
    arrival: Annotated[
        str, typer.Option("--arrival", help="constant (even gaps) or poisson (random gaps).")
    ] = "constant",
    method: Annotated[
        str | None, typer.Option("--method", help="HTTP method (default GET, POST with a body).")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="'Name: value'; repeatable.")
    ] = None,
    body: Annotated[str | None, typer.Option("--body", help="The request body.")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="A file holding the request body.")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="A Parquet/CSV/Arrow file: one request body per row."),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Body per row of --data: $row (row as JSON object), $values, ${column}.",
        ),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", help="Rows of --data to use, at most.")] = 10_000,
    workers: Annotated[int, typer.Option("--workers", help="Load-generator processes.")] = 1,
    connections: Annotated[
        int, typer.Option("--connections", help="Keep-alive connections in all (open loop).")
    ] = 64,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds a request may take from its due time.")
    ] = 10.0,
    p99: Annotated[str | None, typer.Option("--p99", help="Objective: p99 at most MS.")] = None,
    p95: Annotated[str | None, typer.Option("--p95", help="Objective: p95 at most MS.")] = None,
    max_error_rate: Annotated[
        str | None,
        typer.Option("--max-error-rate", help="Objective: share of errors at most (0.01 = 1 %)."),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="open (default) or closed (to compare, see docs).")
    ] = "open",
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Closed loop: virtual users.")
    ] = 10,
    step: Annotated[
        str | None, typer.Option("--step", help="Saturation search at rates R1,R2,….")
    ] = None,
    ramp: Annotated[
        str | None, typer.Option("--ramp", help="Saturation search at START:STOP:STEP.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the results as JSON ('-': stdout).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Poisson schedule.")] = 0,
    client: Annotated[
        str, typer.Option("--client", help="raw (lean HTTP/1.1, default) or aiohttp.")
    ] = "raw",
    quiet: QuietOption = False,
) -> None:
    """Load URL at a fixed rate and report latency percentiles, throughput and errors."""
    from assay.loadtest import (
        Objective,
        Schedule,
        check_reachable,
        find_saturation,
        run_closed,
        run_load,
    )
    from assay.loadtest.run import _check_counts, _check_options

    if mode not in ("open", "closed"):
        raise AssayError(BAD_MODE.format(value=mode))
    objective = Objective(
        p99_ms=_number("--p99", p99, "a number of milliseconds above 0", "250"),
        p95_ms=_number("--p95", p95, "a number of milliseconds above 0", "100"),
        max_error_rate=_number(
            "--max-error-rate", max_error_rate, "a share in [0, 1]", "0.01", share=True
        ),
    )
    rates = _rates(step, ramp)
    _check_counts(workers=workers, connections=connections, concurrency=concurrency)
    _check_options(timeout, client)
    if rates is not None:
        if mode == "closed":
            raise AssayError(SEARCH_IS_OPEN)
        if objective.p99_ms is None and objective.p95_ms is None:
            raise AssayError(SEARCH_NEEDS_OBJECTIVE)
        for r in rates:
            Schedule(rate=r, duration=duration, warmup=warmup, arrival=arrival)
    elif mode == "open":
        if rate is None:
            raise AssayError(NO_RATE)
        schedule = Schedule(rate=rate, duration=duration, warmup=warmup, arrival=arrival, seed=seed)
    else:
        Schedule(rate=rate or 1.0, duration=duration, warmup=warmup)  # checks the times
    target = _target(url, method, header or [], body, body_file, data, template, rows)
    check_reachable(target, timeout=min(timeout, 5.0))
    show = not quiet
    if rates is not None:
        if objective.max_error_rate is None:
            objective = Objective(objective.p99_ms, objective.p95_ms, SEARCH_ERROR_RATE)
        with _live(show, f"saturation search, {len(rates)} steps") as live:
            search = find_saturation(
                target,
                rates,
                objective,
                duration=duration,
                warmup=warmup,
                arrival=arrival,
                seed=seed,
                workers=workers,
                connections=connections,
                timeout=timeout,
                client=client,
                progress=(lambda r, p: live(p, f"{r:,g}/s")) if live else None,
                on_step=_print_step if show else None,
            )
        _print_search(search, quiet)
        _write_json(json_out, search.to_json())
        if search.saturation_rate is None:
            raise typer.Exit(1)
        return
    with _live(show, mode) as live:
        if mode == "open":
            result = run_load(
                target,
                schedule,
                workers=workers,
                connections=connections,
                timeout=timeout,
                client=client,
                progress=(lambda p: live(p, f"{schedule.rate:,g}/s")) if live else None,
            )
        else:
            result = run_closed(
                target,
                concurrency=concurrency,
                duration=duration,
                warmup=warmup,
                rate=rate,
                workers=workers,
                timeout=timeout,
                client=client,
                progress=(lambda p: live(p, f"{concurrency} users")) if live else None,
            )
    misses = objective.misses(result)
    _print_result(result, objective, misses, quiet)
    payload = result.to_json()
    payload["objective"] = objective.to_json()
    payload["misses"] = list(misses)
    _write_json(json_out, payload)
    if misses:
        raise typer.Exit(1)


def _number(
    option: str, value: str | None, what: str, example: str, *, share: bool = False
) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    ok = math.isfinite(number) and (0 <= number <= 1 if share else number > 0)
    if not ok:
        raise AssayError(
            NOT_A_NUMBER.format(option=option, what=what, value=value, example=example)
        )
    return number


def _rates(step: str | None, ramp: str | None) -> list[float] | None:
    if step and ramp:
        raise AssayError(STEP_AND_RAMP)
    if step:
        try:
            rates = [float(x) for x in step.split(",") if x.strip()]
        except ValueError:
            rates = []
        if not rates:
            raise AssayError(BAD_STEPS.format(option="--step", value=step, what="a list of rates"))
        return sorted(rates)
    if ramp:
        try:
            start, stop, inc = (float(x) for x in ramp.split(":"))
        except ValueError:
            start = stop = inc = math.nan
        if not (math.isfinite(start + stop + inc) and inc > 0 and stop >= start):
            raise AssayError(BAD_STEPS.format(option="--ramp", value=ramp, what="START:STOP:STEP"))
        count = math.floor((stop - start) / inc + 1e-9) + 1
        return [start + i * inc for i in range(count)]
    return None


def _target(
    url: str,
    method: str | None,
    headers: list[str],
    body: str | None,
    body_file: Path | None,
    data: Path | None,
    template: str | None,
    rows: int,
) -> Target:
    from assay.loadtest import make_target, parse_headers

    given = [n for n, v in (("--body", body), ("--body-file", body_file), ("--data", data)) if v]
    if len(given) > 1:
        raise AssayError(ONE_BODY.format(given=", ".join(given)))
    if template is not None and data is None:
        raise AssayError(TEMPLATE_NEEDS_DATA)
    pairs = parse_headers(headers)
    if body_file is not None:
        try:
            payload: bytes | None = body_file.read_bytes()
        except FileNotFoundError:
            raise InputError(FILE_NOT_FOUND.format(file=body_file, option="--body-file")) from None
        except OSError as exc:
            raise InputError(
                FILE_UNREADABLE.format(file=body_file, problem=exc.strerror, option="--body-file")
            ) from None
    else:
        payload = body.encode("utf-8") if body is not None else None
    records = _rows(data, rows) if data is not None else None
    return make_target(
        url, method=method, headers=pairs, body=payload, template=template, rows=records
    )


def _rows(data: Path, limit: int) -> list[dict[str, Any]]:
    from assay.sources import open_dataset
    from assay.spec.loader import spec_from_mapping

    if not data.exists():
        raise InputError(FILE_NOT_FOUND.format(file=data, option="--data"))
    spec = spec_from_mapping(
        {"version": 1, "system": {"name": "loadtest"}, "datasets": {"data": {"path": str(data)}}}
    )
    out: list[dict[str, Any]] = []
    for batch in open_dataset(spec, "data").batches():
        out.extend(batch.slice(0, limit - len(out)).to_pylist())
        if len(out) >= limit:
            break
    return out


@contextmanager
def _live(enabled: bool, title: str) -> Iterator[Any]:
    """A progress callback drawing a bar with the live counts on stderr (or ``None``)."""
    if not enabled or not _console.err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, TextColumn
    from rich.progress import Progress as Bar

    bar = Bar(
        TextColumn("[bold]{task.fields[phase]}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TextColumn("{task.description}"),
        console=_console.err,
        transient=True,
    )
    task = bar.add_task("", total=1.0, phase=title)

    def update(p: Progress, label: str) -> None:
        phase = "warm-up" if p.elapsed < p.warmup else "measuring"
        p99 = f"{p.p99_ms:,.1f} ms" if p.p99_ms is not None else "—"
        text = (
            f"{label} · sent {p.sent:,} · done {p.done:,} · errors {p.failed:,} · "
            f"p99 (last second) {p99}"
        )
        bar.update(task, completed=p.elapsed, total=p.total, description=text, phase=phase)

    with bar:
        yield update


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _latency_table(result: LoadResult) -> Table:
    lat = result.latency
    table = Table(title="Latency (ms, successful responses)", title_justify="left")
    for name in ("p50", "p90", "p95", "p99", "p99.9", "max", "mean"):
        table.add_column(name, justify="right")
    table.add_row(
        *(_ms(v) for v in (lat.p50, lat.p90, lat.p95, lat.p99, lat.p99_9, lat.max, lat.mean))
    )
    return table


def _summary(result: LoadResult) -> str:
    offered = (
        f"offered {result.offered_rate:,g}/s ({result.arrival})"
        if result.mode == "open"
        else f"closed loop, {result.concurrency} users"
        + (f" paced to {result.offered_rate:,g}/s" if result.offered_rate else "")
    )
    errors = ", ".join(f"{k} {n:,}" for k, n in result.errors.items()) or "none"
    lines = [
        f"{offered}; achieved {result.throughput:,.1f}/s over {result.duration:g} s "
        f"(warm-up {result.warmup:g} s excluded)",
        f"requests {result.requests:,}, ok {result.ok:,}, errors {result.error_count:,} "
        f"({result.error_rate:.2%}): {errors}",
    ]
    if result.mode == "open" and result.send_lag.p99 is not None:
        cpu_us = result.cpu_seconds / max(result.requests, 1) * 1e6
        lines.append(
            f"generator: {result.workers} worker(s), {cpu_us:,.0f} µs CPU per request, "
            f"sends late by p99 {result.send_lag.p99:.2f} ms"
        )
    return "\n".join(lines)


def _print_result(
    result: LoadResult, objective: Objective, misses: tuple[str, ...], quiet: bool
) -> None:
    if not quiet:
        _console.out.print(_latency_table(result))
        _console.out.print(_summary(result))
    if objective.empty:
        if quiet:
            _console.out.print(f"p99 {_ms(result.latency.p99)} ms, {result.throughput:,.1f}/s")
        return
    if misses:
        _console.out.print(Text.assemble((" FAIL ", "bold white on red"), " " + "; ".join(misses)))
    else:
        _console.out.print(Text.assemble((" PASS ", "bold white on green"), " every objective met"))


def _print_step(step: Any) -> None:
    r = step.result
    verdict = "met" if step.passed else "missed: " + "; ".join(step.misses)
    _console.err.print(
        f"{step.rate:,g}/s: p99 {_ms(r.latency.p99)} ms, achieved {r.throughput:,.1f}/s, "
        f"errors {r.error_rate:.2%} — {verdict}"
    )


def _print_search(search: SaturationResult, quiet: bool) -> None:
    if not quiet:
        table = Table(title="Saturation search", title_justify="left")
        for name in ("offered /s", "achieved /s", "p50 ms", "p99 ms", "errors", "objective"):
            table.add_column(name, justify="right")
        for s in search.steps:
            r = s.result
            table.add_row(
                f"{s.rate:,g}",
                f"{r.throughput:,.1f}",
                _ms(r.latency.p50),
                _ms(r.latency.p99),
                f"{r.error_rate:.2%}",
                "met" if s.passed else "missed",
            )
        _console.out.print(table)
    if search.saturation_rate is None:
        _console.out.print(
            Text.assemble(
                (" FAIL ", "bold white on red"),
                f" even the lowest rate, {search.steps[0].rate:,g}/s, missed the objective: "
                + "; ".join(search.steps[0].misses),
            )
        )
    elif search.saturated:
        _console.out.print(f"saturation point: {search.saturation_rate:,g} requests/s")
    else:
        _console.out.print(
            f"no saturation up to {search.saturation_rate:,g} requests/s: every step met the "
            "objective. Raise the rates to find the limit."
        )


def _write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    text = json.dumps(payload, indent=2) + "\n"
    if str(path) == "-":
        typer.echo(text, nl=False)
    else:
        _write_text(path, text)
