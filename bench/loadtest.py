"""Load-tester benchmark: accuracy against known servers, and the generator's own cost.

* **Accuracy**: a local server that answers after a fixed 20 ms (``time.sleep``, keep-alive
  ``ThreadingHTTPServer``), at 50 requests/s: the measured p50 against the true 20 ms, and
  the same server without delay (the floor: HTTP and Python overhead on both sides).
* **Coordinated omission**: a server that freezes for 1 s once every 10 s, at 100
  requests/s for 30 s: the open-loop p99 (latency from the intended send time) beside a
  closed-loop p99 (4 users paced to the same rate, latency from the actual send — how
  most load tools measure).
* **Generator cost**: against a minimal asyncio server in its own process, the highest
  rate one worker sustains (closed loop, 64 connections, no pacing) with the lean client
  and with aiohttp, and the worker's CPU time per request; then open-loop load at a fixed
  rate to show the CPU per request there. Server and generator share the machine's cores.

Comparison with wrk and Locust against nginx: bench/capacity.py.

    .venv/bin/python bench/loadtest.py                  # ~2 minutes
    .venv/bin/python bench/loadtest.py --stall-seconds 20 --quick
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import cpu_model

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))  # the tests' local servers (_load_servers)

RESULTS_SCHEMA = "assay-bench-loadtest-results/1"
FAST_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stall-seconds", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    ap.add_argument("--serve-fast", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--results", type=Path, default=BENCH / "results.json")
    ap.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    return ap.parse_args(argv)


def machine() -> dict[str, Any]:
    import aiohttp
    import hdrh

    import assay

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "assay": assay.__version__,
            "aiohttp": aiohttp.__version__,
            "hdrhistogram": getattr(hdrh, "__version__", "0.10"),
        },
    }


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _summary(result: Any) -> dict[str, Any]:
    r = result.to_json()
    for key in ("histogram", "series"):
        r.pop(key)
    r["cpu_us_per_request"] = result.cpu_seconds / max(result.requests, 1) * 1e6
    return r


def accuracy(quick: bool) -> dict[str, Any]:
    from _load_servers import fixed_delay, serve
    from assay.loadtest import Schedule, make_target, run_load

    duration = 4.0 if quick else 10.0
    out: dict[str, Any] = {"delay_ms": 20.0, "rate": 50, "duration": duration}
    with serve(fixed_delay(0.0)) as url:
        out["floor"] = _summary(run_load(make_target(url), Schedule(50, duration, warmup=1)))
    with serve(fixed_delay(0.020)) as url:
        out["delayed"] = _summary(run_load(make_target(url), Schedule(50, duration, warmup=1)))
    out["p50_error_ms"] = out["delayed"]["latency"]["p50"] - 20.0
    p50 = out["delayed"]["latency"]["p50"]
    _log(f"accuracy: p50 {p50:.3f} ms (error {out['p50_error_ms']:+.3f})")
    return out


def stall(seconds: float) -> dict[str, Any]:
    from _load_servers import serve, stalling
    from assay.loadtest import Schedule, make_target, run_closed, run_load

    out: dict[str, Any] = {"stall_s": 1.0, "every_s": 10.0, "rate": 100, "duration": seconds}
    with serve(stalling(1.0, 10.0, first_at=5.0)) as url:
        out["open"] = _summary(run_load(make_target(url), Schedule(100, seconds, warmup=1)))
    with serve(stalling(1.0, 10.0, first_at=5.0)) as url:
        out["closed"] = _summary(
            run_closed(make_target(url), concurrency=4, rate=100, duration=seconds, warmup=1)
        )
    out["closed_concurrency"] = 4
    _log(
        f"stall: open p99 {out['open']['latency']['p99']:.1f} ms, "
        f"closed p99 {out['closed']['latency']['p99']:.1f} ms"
    )
    return out


async def _fast_server() -> None:
    class Reply(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                self.buffer = self.buffer[end + 4 :]
                self.transport.write(FAST_REPLY)

    server = await asyncio.get_running_loop().create_server(Reply, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


def generator(quick: bool) -> dict[str, Any]:
    from assay.loadtest import Schedule, make_target, run_closed, run_load

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-fast"], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    url = f"http://127.0.0.1:{server.stdout.readline().strip()}/"
    seconds = 3.0 if quick else 8.0
    out: dict[str, Any] = {"duration": seconds, "connections": 64, "server": "asyncio, 1 process"}
    try:
        for client in ("raw", "aiohttp"):
            result = run_closed(
                make_target(url), concurrency=64, duration=seconds, warmup=1, client=client
            )
            out[f"closed_{client}"] = _summary(result)
            _log(
                f"{client}: {result.throughput:,.0f}/s, "
                f"{out[f'closed_{client}']['cpu_us_per_request']:.0f} µs CPU/request"
            )
        rate = 2000
        result = run_load(make_target(url), Schedule(rate, seconds, warmup=1))
        out["open"] = _summary(result)
        out["open_rate"] = rate
        _log(f"open {rate}/s: p99 {result.latency.p99} ms, lag p99 {result.send_lag.p99} ms")
    finally:
        server.kill()
        server.wait()
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_fast:
        asyncio.run(_fast_server())
        return 0
    results: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": "bench/loadtest.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    results["accuracy"] = accuracy(args.quick)
    results["stall"] = stall(args.stall_seconds)
    results["generator"] = generator(args.quick)
    from render import render_markdown

    everything = json.loads(args.results.read_text()) if args.results.exists() else {}
    everything["loadtest"] = results
    args.results.write_text(json.dumps(everything, indent=2, default=str) + "\n")
    args.markdown.write_text(render_markdown(everything))
    print(render_section(results))
    print(f"wrote {args.results} and {args.markdown}", file=sys.stderr)
    return 0


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:,.2f} ms"


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md from the figures :func:`main` measured."""
    m, acc, st, gen = (
        results["machine"],
        results["accuracy"],
        results["stall"],
        results["generator"],
    )
    lat, floor = acc["delayed"]["latency"], acc["floor"]["latency"]
    lag = acc["delayed"]["send_lag"]
    lines = [
        "## Load tester: accuracy and cost",
        "",
        f"Produced by `{results['command'].strip()}`; machine: {m['cpu']}, {m['cpu_count']} "
        f"CPUs, load average {m['load_average']:.2f}; Python {m['python']}, aiohttp "
        f"{m['versions']['aiohttp']}. Servers run on the same machine (docs/loadtest.md).",
        "",
        f"**Accuracy.** A server that answers after a fixed {acc['delay_ms']:g} ms, "
        f"{acc['rate']} requests/s for {acc['duration']:g} s (open loop, 1 worker): p50 "
        f"{_ms(lat['p50'])} — error {acc['p50_error_ms']:+.3f} ms (target: within 1 ms, "
        f"{'met' if abs(acc['p50_error_ms']) < 1 else 'not met'}); p99 {_ms(lat['p99'])}. "
        f"The same server without the delay measures p50 {_ms(floor['p50'])}: the floor of "
        "HTTP and Python overhead on both sides, which the error includes. Sends were late by "
        f"p50 {_ms(lag['p50'])}, p99 {_ms(lag['p99'])}.",
        "",
        f"**Coordinated omission.** A server that freezes {st['stall_s']:g} s once every "
        f"{st['every_s']:g} s, {st['rate']} requests/s for {st['duration']:g} s:",
        "",
        "| mode | requests | p50 | p90 | p99 | p99.9 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, label in (
        ("open", "open loop (Assay: from the intended send time)"),
        (
            "closed",
            f"closed loop ({st['closed_concurrency']} users paced to the rate, "
            "from the actual send)",
        ),
    ):
        r = st[name]
        q = r["latency"]
        lines.append(
            f"| {label} | {r['requests']:,} | {_ms(q['p50'])} | {_ms(q['p90'])} | {_ms(q['p99'])} "
            f"| {_ms(q['p99_9'])} | {_ms(q['max'])} |"
        )
    lines += [
        "",
        "A tenth of the requests were due during a stall and waited up to a second: the open-"
        "loop p99 shows it; the closed loop timed only the few requests its users had in flight "
        "and sent the rest after the stall, so its p99 stays at the normal latency.",
        "",
        f"**Generator cost.** One worker process, {gen['connections']} keep-alive connections, "
        f"against a minimal {gen['server']} server on the same {m['cpu_count']} cores, "
        f"{gen['duration']:g} s:",
        "",
        "| client | mode | achieved req/s | worker CPU per request | p50 | p99 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for key, client, mode in (
        ("closed_raw", "lean asyncio HTTP/1.1 (default)", "closed, as fast as possible"),
        ("closed_aiohttp", "aiohttp", "closed, as fast as possible"),
        ("open", "lean asyncio HTTP/1.1 (default)", f"open, {gen['open_rate']:,}/s offered"),
    ):
        r = gen[key]
        lines.append(
            f"| {client} | {mode} | {r['throughput']:,.0f} | {r['cpu_us_per_request']:,.0f} µs "
            f"| {_ms(r['latency']['p50'])} | {_ms(r['latency']['p99'])} |"
        )
    lines += [
        "",
        "The closed-loop rows measure the most one worker and this server reach together; "
        "`--workers N` adds processes. Against wrk and Locust on nginx: the capacity "
        "section (bench/capacity.py).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
