"""Load-generator capacity: Assay's load tester against wrk and Locust, on one local nginx.

Issue 6's capacity target: against Debian's nginx serving a small static JSON file on
loopback, Assay's generator sustains at least a quarter of wrk's request rate and more than
Locust's FastHttpUser, all measured in one run, and its own CPU cost per request is reported.

One run of this script:

1. starts nginx (``worker_processes`` 1 by default, ``--nginx-workers``) on a free loopback
   port with a temporary configuration: one static file ``/ok.json`` (55 bytes), keep-alive
   on with no per-connection request limit, access log off;
2. runs, one after the other, each in its own process and each for ``--duration`` seconds
   of load: ``wrk -t2 -c64 --latency``; Locust headless, one process, 64 FastHttpUsers
   without think time (``bench/peers/locust_capacity.py``); Assay's loadtest in closed mode
   (64 users, as fast as possible) with 1 and with 2 worker processes; then Assay's open
   loop at rising rates, with 1 and then 2 workers, until a step misses (achieved < 97 % of
   the offered rate, > 0.1 % errors, or a send-lag p99 above 5 ms: the generator fell
   behind its schedule), plus one step halfway between the last rate held and the miss;
3. for every run records the requests, the achieved rate, latency percentiles where the
   tool gives them, and the CPU time (user + system) of the generator's whole process tree
   from ``os.wait4`` — start-up and imports included, the same accounting for every tool —
   divided by its requests; also nginx's CPU time over the run and the machine's busy share.

The generator and nginx share the machine's cores (2 on the project's machine): every
figure is "generator + server on the same cores", which is how the target is phrased.

    .venv/bin/python bench/capacity.py                 # 5–10 minutes; `make bench-tools` first
    .venv/bin/python bench/capacity.py --duration 3 --rates 5000,10000   # a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import cpu_model

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCHEMA = "assay-bench-capacity-results/1"
BODY = b'{"status":"ok","model":"demo","version":3,"score":0.93}'
PATH = "/ok.json"

NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {tmp}/www;
        location = {path} {{ default_type application/json; }}
    }}
}}
"""

# A step of the open-loop search passes when all three hold.
MIN_ACHIEVED = 0.97  # achieved / offered
MAX_ERROR_RATE = 0.001
MAX_LAG_P99_MS = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    ap.add_argument("--connections", type=int, default=64, help="connections / users per tool")
    ap.add_argument("--nginx-workers", default="1", help="nginx worker_processes (1 or auto)")
    ap.add_argument(
        "--rates",
        default=None,
        help="open-loop rates to step through (default: 2,500/s steps from 5,000/s up to "
        "wrk's rate or 1.3× the best closed-mode rate, whichever is higher)",
    )
    ap.add_argument("--open-workers", default="1,2", help="worker counts of the open loop")
    ap.add_argument("--assay", default=str(Path(sys.executable).parent / "assay"))
    ap.add_argument("--locust", default=str(BENCH / ".venv" / "bin" / "locust"))
    ap.add_argument("--pause", type=float, default=2.0, help="seconds of rest between runs")
    ap.add_argument("--results", type=Path, default=BENCH / "results.json")
    ap.add_argument("--markdown", type=Path, default=BENCH / "RESULTS.md")
    return ap.parse_args(argv)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_line(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0] if text else None


def _dpkg(package: str) -> str | None:
    return _first_line(["dpkg-query", "-W", "-f=${Version}", package])


def machine() -> dict[str, Any]:
    import psutil

    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "ram_bytes": psutil.virtual_memory().total,
        "load_average": os.getloadavg()[0],
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(nginx: str, locust: str, assay: str) -> dict[str, Any]:
    nginx_line = _first_line([nginx, "-v"]) or ""
    wrk_line = _first_line(["wrk", "-v"]) or ""
    locust_line = _first_line([locust, "--version"]) or ""
    return {
        "nginx": nginx_line.split("/")[-1] if "/" in nginx_line else nginx_line,
        "nginx_package": _dpkg("nginx-light") or _dpkg("nginx-core") or _dpkg("nginx"),
        "wrk": wrk_line.split(" [")[0].removeprefix("wrk ").strip(),
        "wrk_package": _dpkg("wrk"),
        "locust": locust_line.split()[1] if len(locust_line.split()) > 1 else locust_line,
        "assay": (_first_line([assay, "--version"]) or "").removeprefix("assay ").strip(),
    }


class Nginx:
    """nginx in the foreground with a throw-away prefix; ``url`` serves the JSON file."""

    def __init__(self, workers: str) -> None:
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(self.binary).exists():
            raise SystemExit(
                "nginx is not installed: run `make bench-tools` (Debian's nginx-light)"
            )
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed: run `make bench-tools`")
        self.workers = workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.tmp = Path(tempfile.mkdtemp(prefix="assay-capacity-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        tmp = self.tmp
        (tmp / "www").mkdir()
        (tmp / "www" / PATH.lstrip("/")).write_bytes(BODY)
        # Workers drop root to `nobody` when started as root: they must read the file.
        for p in (tmp, tmp / "www"):
            p.chmod(0o755)
        (tmp / "www" / PATH.lstrip("/")).chmod(0o644)
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(workers=self.workers, tmp=tmp, port=self.port, path=PATH))
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "stderr.log").open("wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(self.url, timeout=1) as r:
                    if r.read() == BODY:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = (tmp / "stderr.log").read_text() + (tmp / "error.log").read_text()
                self.__exit__(None, None, None)
                raise SystemExit(f"nginx did not start: {err.strip()[-500:]}")
            time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU of nginx's master and workers so far."""
        import psutil

        total = 0.0
        if self.proc is None:
            return total
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for p in (root, *root.children(recursive=True)):
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
        return total

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_generator(
    cmd: list[str], nginx: Nginx, *, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one generator process to its end: wall time, its tree's CPU, nginx's CPU."""
    import psutil

    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        server0, machine0 = nginx.cpu_seconds(), psutil.cpu_times()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out_f,
            stderr=err_f,
            env=env,
            start_new_session=True,
        )
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, expire)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # the child and its waited-for tree
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind
        server1, machine1 = nginx.cpu_seconds(), psutil.cpu_times()
        out_f.seek(0)
        err_f.seek(0)
        stdout = out_f.read().decode(errors="replace")
        stderr = err_f.read().decode(errors="replace")
    idle = sum(getattr(machine1, f, 0) - getattr(machine0, f, 0) for f in ("idle", "iowait"))
    total = sum(machine1) - sum(machine0)
    return {
        "command": " ".join(cmd),
        "exit_code": proc.returncode,
        "timed_out": expired.is_set(),
        "wall_s": round(wall, 3),
        "cpu_user_s": round(usage.ru_utime, 3),
        "cpu_sys_s": round(usage.ru_stime, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "nginx_cpu_s": round(server1 - server0, 3),
        "machine_busy": round(1 - idle / total, 3) if total > 0 else None,
        "_stdout": stdout,
        "_stderr": stderr,
    }


def _finish(run: dict[str, Any], requests: int | None) -> dict[str, Any]:
    stdout, stderr = run.pop("_stdout"), run.pop("_stderr")
    run["requests"] = requests
    if requests:
        run["cpu_us_per_request"] = round(run["cpu_s"] / requests * 1e6, 2)
        run["nginx_cpu_us_per_request"] = round(run["nginx_cpu_s"] / requests * 1e6, 2)
    if run["exit_code"] not in (0, None) or not requests:
        run["stderr_tail"] = (stderr or stdout)[-600:]
    return run


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(nginx: Nginx, args: argparse.Namespace) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration:g}s", "--latency", nginx.url]
    run = run_generator(cmd, nginx, timeout=args.duration + 60)
    out = run["_stdout"]
    requests = None
    if m := re.search(r"(\d+) requests in ([\d.]+\w+)", out):
        requests = int(m.group(1))
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        run["rps"] = float(m.group(1))
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.M))
    run["p50_ms"] = _ms(pct["50"]) if "50" in pct else None
    run["p99_ms"] = _ms(pct["99"]) if "99" in pct else None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    run["errors"] = (int(errors.group(1)) if errors else 0) + (
        sum(int(x) for x in re.findall(r"\d+", sock.group(1))) if sock else 0
    )
    return _finish(run, requests)


def run_locust(nginx: Nginx, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    prefix = work / "locust"
    n = args.connections
    cmd = [
        args.locust,
        "-f",
        str(BENCH / "peers" / "locust_capacity.py"),
        "--headless",
        "-u",
        str(n),
        "-r",
        str(n),
        "-t",
        f"{args.duration:g}s",
        "--host",
        nginx.url.removesuffix(PATH),
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "CAPACITY_PATH": PATH, "LOCUST_SKIP_MONKEY_PATCH_CHECK": "1"}
    run = run_generator(cmd, nginx, timeout=args.duration + 120, env=env)
    requests = None
    stats = Path(f"{prefix}_stats.csv")
    if stats.exists():
        with stats.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("Name") == "Aggregated":
                    requests = int(row["Request Count"])
                    run["errors"] = int(row["Failure Count"])
                    run["rps"] = float(row["Requests/s"])
                    run["p50_ms"] = (
                        float(row["50%"]) if row.get("50%") not in (None, "N/A") else None
                    )
                    run["p99_ms"] = (
                        float(row["99%"]) if row.get("99%") not in (None, "N/A") else None
                    )
    return _finish(run, requests)


def run_assay(
    nginx: Nginx,
    args: argparse.Namespace,
    work: Path,
    *,
    workers: int,
    rate: float | None = None,
) -> dict[str, Any]:
    out = work / f"assay-{workers}-{rate or 'closed'}.json"
    cmd = [
        args.assay,
        "loadtest",
        nginx.url,
        "--duration",
        f"{args.duration:g}",
        "--warmup",
        "0",
        "--workers",
        str(workers),
        "--json",
        str(out),
        "-q",
    ]
    if rate is None:
        cmd += ["--mode", "closed", "--concurrency", str(args.connections)]
    else:
        cmd += ["--rate", f"{rate:g}", "--connections", str(args.connections)]
    run = run_generator(cmd, nginx, timeout=args.duration + 120)
    run.update(mode="closed" if rate is None else "open", workers=workers, offered_rate=rate)
    requests = None
    if out.exists():
        r = json.loads(out.read_text())
        requests = r["requests"]
        run["rps"] = r["throughput"]
        run["errors"] = r["errors"]["total"]
        run["error_rate"] = r["errors"]["rate"]
        run["p50_ms"] = r["latency"]["p50"]
        run["p99_ms"] = r["latency"]["p99"]
        run["send_lag_p99_ms"] = (r.get("send_lag") or {}).get("p99")
        run["workers_cpu_s"] = r["cpu_seconds"]
        run["workers_cpu_us_per_request"] = round(r["cpu_seconds"] / max(requests, 1) * 1e6, 2)
        if rate is not None:
            misses = []
            if r["throughput"] < MIN_ACHIEVED * rate:
                misses.append(f"achieved {r['throughput']:,.0f}/s < {MIN_ACHIEVED:.0%} of offered")
            if r["errors"]["rate"] > MAX_ERROR_RATE:
                misses.append(f"errors {r['errors']['rate']:.2%}")
            lag = run["send_lag_p99_ms"]
            if lag is None or lag > MAX_LAG_P99_MS:
                misses.append(f"send-lag p99 {lag} ms")
            run["misses"] = misses
            run["passed"] = not misses
    return _finish(run, requests)


def _brief(name: str, r: dict[str, Any]) -> str:
    rps = r.get("rps")
    cpu = r.get("cpu_us_per_request")
    text = f"{name}: {rps:,.0f}/s" if rps is not None else f"{name}: no result"
    if cpu is not None:
        text += f", {cpu:.1f} µs CPU/request"
    if r.get("misses"):
        text += f" — missed: {'; '.join(r['misses'])}"
    return text


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {
        "schema": SCHEMA,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "bench/capacity.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "duration": args.duration,
        "connections": args.connections,
        "nginx_workers": args.nginx_workers,
        "body_bytes": len(BODY),
        "criteria": {
            "min_achieved": MIN_ACHIEVED,
            "max_error_rate": MAX_ERROR_RATE,
            "max_lag_p99_ms": MAX_LAG_P99_MS,
        },
    }
    with Nginx(args.nginx_workers) as nginx, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results["versions"] = versions(nginx.binary, args.locust, args.assay)
        runs: dict[str, Any] = {}
        # Untimed warm-up: page cache and byte-compiled modules warm for every tool alike.
        for cmd in (
            ["wrk", "-t1", "-c4", "-d1s", nginx.url],
            [args.locust, "--version"],
            [args.assay, "loadtest", nginx.url, "--rate", "200", "--duration", "1", "-q"],
        ):
            subprocess.run(cmd, capture_output=True, check=False, timeout=120)
        runs["wrk"] = run_wrk(nginx, args)
        _log(_brief("wrk", runs["wrk"]))
        time.sleep(args.pause)
        runs["locust"] = run_locust(nginx, args, work)
        _log(_brief("locust FastHttpUser", runs["locust"]))
        for workers in (1, 2):
            time.sleep(args.pause)
            runs[f"assay_closed_{workers}"] = run_assay(nginx, args, work, workers=workers)
            _log(_brief(f"assay closed, {workers} worker(s)", runs[f"assay_closed_{workers}"]))
        best = max((runs[f"assay_closed_{w}"].get("rps") or 0) for w in (1, 2))
        if args.rates:
            rates = [float(x) for x in args.rates.split(",")]
        else:
            wrk = runs["wrk"].get("rps") or 0
            top = max(best * 1.3, wrk, 10_000)  # until a miss; wrk's rate as the ceiling
            rates = [float(r) for r in range(5000, int(top) + 1, 2500)]
        steps = []
        for workers in (int(w) for w in args.open_workers.split(",")):
            for rate in rates:
                time.sleep(args.pause)
                step = run_assay(nginx, args, work, workers=workers, rate=rate)
                steps.append(step)
                _log(_brief(f"assay open {rate:,.0f}/s, {workers} worker(s)", step))
                if not step.get("passed"):
                    break
            mine = [st for st in steps if st["workers"] == workers]
            passed = [st["offered_rate"] for st in mine if st.get("passed")]
            if passed and not mine[-1].get("passed"):
                # One step halfway between the last rate held and the first missed.
                rate = (max(passed) + steps[-1]["offered_rate"]) / 2
                time.sleep(args.pause)
                step = run_assay(nginx, args, work, workers=workers, rate=rate)
                steps.append(step)
                _log(_brief(f"assay open {rate:,.0f}/s, {workers} worker(s)", step))
        runs["assay_open_steps"] = steps
        results["runs"] = runs
    results["machine"]["load_average_after"] = os.getloadavg()[0]
    results["summary"] = summarise(results)

    from render import render_markdown

    everything = json.loads(args.results.read_text()) if args.results.exists() else {}
    everything["capacity"] = results
    args.results.write_text(json.dumps(everything, indent=2, default=str) + "\n")
    args.markdown.write_text(render_markdown(everything))
    print(render_section(results))
    _log(f"wrote {args.results} and {args.markdown}")
    return 0


def _sustained(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The passed open-loop step with the highest achieved rate."""
    passed = [s for s in steps if s.get("passed")]
    return max(passed, key=lambda s: s["rps"]) if passed else None


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    runs = results["runs"]
    sustained = _sustained(runs["assay_open_steps"])
    wrk, locust = runs["wrk"].get("rps"), runs["locust"].get("rps")
    open_rps = sustained["rps"] if sustained else None
    closed = max((runs[f"assay_closed_{w}"].get("rps") or 0) for w in (1, 2)) or None
    return {
        "wrk_rps": wrk,
        "locust_rps": locust,
        "assay_open_sustained_rate": sustained["offered_rate"] if sustained else None,
        "assay_open_sustained_workers": sustained["workers"] if sustained else None,
        "assay_open_sustained_rps": open_rps,
        "assay_open_sustained_cpu_us": sustained.get("cpu_us_per_request") if sustained else None,
        "assay_closed_best_rps": closed,
        "quarter_of_wrk": open_rps is not None and wrk is not None and open_rps >= wrk / 4,
        "above_locust": open_rps is not None and locust is not None and open_rps > locust,
        "closed_quarter_of_wrk": closed is not None and wrk is not None and closed >= wrk / 4,
        "closed_above_locust": closed is not None and locust is not None and closed > locust,
    }


def _num(x: float | None, fmt: str = ",.0f", suffix: str = "") -> str:
    return "—" if x is None else f"{format(x, fmt)}{suffix}"


def _row(label: str, r: dict[str, Any]) -> str:
    return (
        f"| {label} | {_num(r.get('requests'), ',d')} | {_num(r.get('rps'))} | "
        f"{_num(r.get('p50_ms'), ',.2f', ' ms')} | {_num(r.get('p99_ms'), ',.2f', ' ms')} | "
        f"{_num(r.get('errors'), ',d')} | {_num(r.get('cpu_us_per_request'), ',.1f', ' µs')} | "
        f"{_num(r.get('nginx_cpu_us_per_request'), ',.1f', ' µs')} | "
        f"{_num(r.get('machine_busy') and r['machine_busy'] * 100, '.0f', ' %')} |"
    )


def render_section(results: dict[str, Any]) -> str:
    """The Markdown section for bench/RESULTS.md from the figures :func:`main` measured."""
    m, v, runs, s = results["machine"], results["versions"], results["runs"], results["summary"]
    c, n, d = results["criteria"], results["connections"], results["duration"]
    lines = [
        "## Load generator capacity: Assay against wrk and Locust on nginx",
        "",
        f"Produced by `{results['command'].strip()}` on {results['date']}; machine: {m['cpu']}, "
        f"{m['cpu_count']} CPUs, load average {m['load_average']:.2f} before. nginx "
        f"{v['nginx']} (Debian {v['nginx_package']}), wrk {v['wrk']} (Debian "
        f"{v['wrk_package']}), Locust {v['locust']} (bench/.venv), Assay {v['assay']}.",
        "",
        f"nginx (`worker_processes {results['nginx_workers']}`, keep-alive without a "
        f"per-connection request limit, access log off) serves a {results['body_bytes']}-byte "
        "static JSON file on 127.0.0.1. Every generator ran in its own process, one after the "
        f"other in this one run, for {d:g} s of load with {n} connections (Assay: no warm-up, "
        "so it loads as long as the others). **nginx and the generator share the same "
        f"{m['cpu_count']} cores**, so each rate is what generator and server reach together. "
        "CPU per request: the generator's whole process tree, user + system from `wait4` "
        "(start-up and imports included, the same accounting for every tool), over its "
        "requests; nginx's CPU over the same requests beside it; busy: the machine's CPU "
        "use during the run.",
        "",
        "| generator | requests | req/s | p50 | p99 | errors | generator CPU / request "
        "| nginx CPU / request | machine busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _row("wrk (`-t2 -c64`, C, epoll)", runs["wrk"]),
        _row(f"Locust FastHttpUser (1 process, {n} users, no wait)", runs["locust"]),
    ]
    for w in (1, 2):
        r = runs[f"assay_closed_{w}"]
        lines.append(_row(f"Assay `--mode closed --concurrency {n} --workers {w}`", r))
    steps = runs["assay_open_steps"]
    unbounded = []
    for w in sorted({st["workers"] for st in steps}):
        mine = [st for st in steps if st["workers"] == w]
        best = _sustained(mine)
        if best:
            held = (
                "every step held" if all(st.get("passed") for st in mine) else "highest rate held"
            )
            lines.append(
                _row(
                    f"Assay open loop, `--rate {best['offered_rate']:,.0f} --workers {w}` ({held})",
                    best,
                )
            )
        if all(st.get("passed") for st in mine):
            unbounded.append(w)
    lines += [
        "",
        "Open-loop steps (rising rate, stopped at the first miss for each worker count, then "
        "one step halfway between the last rate held and the miss): a "
        f"step passes when it achieves ≥ {c['min_achieved']:.0%} of the offered rate with ≤ "
        f"{c['max_error_rate']:.1%} errors and a send-lag p99 ≤ {c['max_lag_p99_ms']:g} ms "
        "(requests left on time, not late because the generator fell behind). Latency runs "
        "from the intended send time.",
        "",
        "| workers | offered | achieved | p50 | p99 | send-lag p99 | generator CPU / request "
        "| workers' CPU / request | verdict |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for st in steps:
        verdict = "pass" if st.get("passed") else "miss: " + "; ".join(st.get("misses", []))
        lines.append(
            f"| {st['workers']} | {st['offered_rate']:,.0f}/s | {_num(st.get('rps'))}/s | "
            f"{_num(st.get('p50_ms'), ',.2f', ' ms')} | {_num(st.get('p99_ms'), ',.2f', ' ms')} | "
            f"{_num(st.get('send_lag_p99_ms'), ',.2f', ' ms')} | "
            f"{_num(st.get('cpu_us_per_request'), ',.1f', ' µs')} | "
            f"{_num(st.get('workers_cpu_us_per_request'), ',.1f', ' µs')} | {verdict} |"
        )
    if unbounded:
        lines += [
            "",
            f"With {' and '.join(map(str, unbounded))} worker(s) every rate stepped through "
            "was held: the highest is a lower bound of the sustainable rate, not its limit.",
        ]
    wrk, loc = s["wrk_rps"], s["locust_rps"]
    sustained, closed = s["assay_open_sustained_rps"], s["assay_closed_best_rps"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    def share(x: float | None, y: float | None) -> str:
        return "n/a" if x is None or not y else f"{x / y:.2f}×"

    lines += [
        "",
        "| target (issue 6) | figure compared | verdict |",
        "| --- | --- | --- |",
        f"| Assay ≥ ¼ of wrk's rate | open loop sustained {_num(sustained)}/s "
        f"(`--rate {_num(s['assay_open_sustained_rate'])} "
        f"--workers {s['assay_open_sustained_workers']}`) = {share(sustained, wrk)} "
        f"wrk's {_num(wrk)}/s | {verdict(s['quarter_of_wrk'])} |",
        f"| Assay > Locust FastHttpUser | {_num(sustained)}/s vs {_num(loc)}/s "
        f"({share(sustained, loc)}) | {verdict(s['above_locust'])} |",
        f"| (closed mode, best of 1 and 2 workers) | {_num(closed)}/s: {share(closed, wrk)} "
        f"wrk, {share(closed, loc)} Locust | ¼ of wrk: {verdict(s['closed_quarter_of_wrk'])}; "
        f"> Locust: {verdict(s['closed_above_locust'])} |",
        "",
        "The verdicts use the open-loop sustained rate: the highest rate Assay held on "
        "schedule, which is what its users run. wrk and Locust are closed loops that send as "
        "fast as answers come back; Assay's closed mode is the like-for-like maximum. "
        "\"Workers' CPU\" is the workers' own CPU time during the test (`cpu_seconds` in "
        "Assay's JSON) per request: steady state, without the parent process, interpreter "
        "start-up and imports that the generator-CPU column includes.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
