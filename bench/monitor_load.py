"""The parts of bench/monitor.py that talk to the service: the events and their request
bodies, the audited spec and keys, the databases (an SQLite file, a throw-away PostgreSQL
cluster), ``assay monitor serve`` as a process, the aiohttp load client, and py-spy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLIENT_KEYS = 8
"""Distinct ``api_key_id`` values in the events (the security detector keeps per-key state)."""
SESSIONS = 5_000
LATENCY_MAX_US = 600_000_000

SPEC = """\
version: 1
system: {name: monitor-bench}
owners: {default: ml@example.com}
datasets:
  reference: {path: reference.parquet, target: target, prediction: prediction, score: score}
monitor:
  baseline: latest
  detection:
    window: {events: 1000}
    prediction_range: [0, 1]
  webhooks: {alert: "http://127.0.0.1:9/alert"}
  escalation: [{name: on-call}]
  rules:
    - {name: inputs-drifted, signal: input_shift, when: share_drifted > 0.3, actions: [alert]}
    - {name: scores-shifted, signal: score_shift, when: psi > 0.25, actions: [alert]}
    - {name: slow, signal: latency_spike, when: p99_ms > 2000, actions: [alert]}
    - {name: bad-outputs, signal: suspicious_output, when: invalid_rate > 0.05, actions: [alert]}
    - {name: auth-burst, signal: security_anomaly, when: auth_failures >= 20, actions: [alert]}
    - {name: accuracy, signal: accuracy_drop, when: accuracy_drop > 0.1, actions: [alert]}
"""
"""Every signal that events or labels feed has a rule (KPIs are not declared); each detector
runs on the default window of 1,000 events."""


def log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


# --- the events ---------------------------------------------------------------------------------


def _scores(prediction: Any, rng: Any) -> Any:
    """The model's score: Beta(5, 2) where it predicted 1, Beta(2, 5) where 0."""
    import numpy as np

    positive = np.asarray(prediction) == 1
    n = positive.size
    return np.where(positive, rng.beta(5.0, 2.0, n), rng.beta(2.0, 5.0, n))


def write_reference(folder: Path, rows: int, seed: int) -> Path:
    """The drift benchmark's reference table (bench/generate.py) plus a ``score`` column."""
    import generate
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / "reference.parquet"
    generate.write_table(generate.design(seed), rows, path, current=False, row_group_size=rows)
    table = pq.read_table(path)
    score = _scores(table["prediction"].to_numpy(), np.random.default_rng([seed, 31337]))
    pq.write_table(table.append_column("score", pa.array(score)), path)
    return path


def _columns(design: Any, n: int, rng: Any) -> dict[str, list[Any]]:
    """``n`` events' values from the reference distribution (``None`` for a null)."""
    import generate
    import numpy as np
    import pyarrow as pa

    cols: dict[str, list[Any]] = {
        c.name: generate._float_values(c, rng, n, False).to_pylist() for c in design.floats
    }
    for s in design.strings:
        dictionary = pa.array(s.categories, pa.string())
        cols[s.name] = generate._string_values(s, dictionary, rng, n, False).to_pylist()
    _, prediction = generate._label_values(rng, n, False)
    pred = prediction.to_numpy(zero_copy_only=False)
    cols["prediction"] = pred.astype(np.float64).tolist()
    cols["score"] = _scores(pred, rng).tolist()
    cols["latency_ms"] = rng.gamma(2.0, 12.0, n).tolist()
    return cols


def _ids(n: int, rng: Any) -> list[str]:
    """Random version-4 UUIDs, as clients make request ids (seeded, so runs repeat)."""
    raw = rng.bytes(16 * n)
    return [str(uuid.UUID(bytes=raw[i * 16 : i * 16 + 16], version=4)) for i in range(n)]


def make_bodies(
    n_events: int, batch: int, seed: int, *, ids: str = "uuid", chunk: int = 50_000
) -> list[bytes]:
    """Request bodies ``{"events": [...]}`` of ``batch`` events each, ``n_events`` in all.

    Event ids are random UUIDs (seeded: the same in every phase, each on a fresh database),
    so the unique index on ``id`` sees them in random order, as from real clients; with
    ``ids="sequential"`` they are ``e0``, ``e1``, … Features: the drift benchmark's
    ``f00``…``f19`` and ``s0``…``s4``; then ``prediction`` (0/1), ``score``, ``latency_ms``,
    a session and a key.
    """
    import generate
    import numpy as np
    import pydantic_core

    design = generate.design(seed)
    names = [c.name for c in design.floats] + [s.name for s in design.strings]
    start_ts = time.time()
    bodies: list[bytes] = []
    chunk = max(batch, chunk - chunk % batch)
    for offset in range(0, n_events, chunk):
        n = min(chunk, n_events - offset)
        cols = _columns(design, n, np.random.default_rng([seed, 4242, offset]))
        rows = list(zip(*(cols[name] for name in names), strict=True))
        if ids == "uuid":
            names_of = _ids(n, np.random.default_rng([seed, 777, offset]))
        else:
            names_of = [f"e{offset + j}" for j in range(n)]
        pred, score, latency = cols["prediction"], cols["score"], cols["latency_ms"]
        for lo in range(0, n, batch):
            events = [
                {
                    "id": names_of[j],
                    "timestamp": start_ts + (offset + j) * 1e-4,
                    "model_version": "v1",
                    "session_id": f"s{(offset + j) % SESSIONS}",
                    "api_key_id": f"client-{(offset + j) % CLIENT_KEYS}",
                    "features": dict(zip(names, rows[j], strict=True)),
                    "prediction": pred[j],
                    "score": score[j],
                    "latency_ms": latency[j],
                }
                for j in range(lo, min(lo + batch, n))
            ]
            bodies.append(pydantic_core.to_json({"events": events}))
    return bodies


# --- the audited spec and the keys --------------------------------------------------------------


def env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}


def prepare(folder: Path, assay: Path, rows: int, seed: int) -> Path:
    """Write the reference table and the spec and audit it (the audit stores the monitor's
    baseline in ``folder/.assay``). Returns the spec's path."""
    write_reference(folder, rows, seed)
    spec = folder / "assay.yaml"
    spec.write_text(SPEC)
    done = subprocess.run(
        [str(assay), "audit", str(spec), "--repo", str(folder / ".assay"), "-q"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env=env(),
    )
    if done.returncode not in (0, 1):  # 1: the launch gate failed; the run is stored anyway
        raise RuntimeError(f"assay audit failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return spec


def _assay_json(assay: Path, *command: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(assay), *command, "--json"], capture_output=True, text=True, check=False, env=env()
    )
    if done.returncode != 0:
        raise RuntimeError(f"assay {' '.join(command[:3])} failed:\n{done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def make_keys(assay: Path, db_url: str) -> dict[str, str]:
    """The first admin key (``keys bootstrap``) and an ingest key whose own rate limit is far
    above the load (``keys create --rate``), so a 429 can only come from the writer's queue."""
    admin = _assay_json(
        assay, "monitor", "keys", "bootstrap", "--name", "bench-admin", "--db", db_url
    )
    ingest = _assay_json(
        assay,
        "monitor",
        "keys",
        "create",
        "--name",
        "bench-load",
        "--role",
        "ingest",
        "--rate",
        "100000",
        "--db",
        db_url,
    )
    return {"admin": str(admin["token"]), "ingest": str(ingest["token"])}


# --- databases ----------------------------------------------------------------------------------


def postgresql_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder (Debian's layout), if any."""
    found = list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in path.parent.parent.name.split(".") if p.isdigit())

    return max(found, key=version).parent if found else None


def postgresql_version(bin_dir: Path) -> str | None:
    done = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    found = re.search(r"\d+(?:\.\d+)+", done.stdout) if done.returncode == 0 else None
    return found.group(0) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


PG_SETTINGS = {
    # PostgreSQL's own defaults: fsync, synchronous_commit and full_page_writes on.
    "default": "-c max_connections=100",
    # The tests' throw-away cluster (tests/monitor/conftest.py): no fsync, no crash safety.
    "throwaway": "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=100 -c shared_buffers=64MB",
}


@dataclass
class Postgres:
    """A throw-away cluster: ``initdb`` and ``pg_ctl start`` in a temporary folder, as user
    postgres under root — the steps of tests/monitor/conftest.py, with a choice of settings."""

    bin: Path
    settings: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="assay-bench-pg-")))
    port: int = field(default_factory=_free_port)

    def start(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        data = str(self.root / "data")
        self._run(
            [
                *(str(self.bin / "initdb"), "--pgdata", data, "--username", "postgres"),
                *("--auth", "trust", "--encoding", "UTF8", "--no-sync"),
            ]
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            + PG_SETTINGS[self.settings]
        )
        log_file = str(self.root / "server.log")
        self._run(
            [
                *(str(self.bin / "pg_ctl"), "--pgdata", data, "--log", log_file),
                *("--options", options, "--wait", "start"),
            ]
        )

    def stop(self) -> None:
        stop = [str(self.bin / "pg_ctl"), "--pgdata", str(self.root / "data"), "-m", "fast"]
        subprocess.run(
            _as_postgres([*stop, "stop"]),
            cwd=self.root,
            capture_output=True,
            check=False,
            timeout=120,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            _as_postgres(command),
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout[-1500:]}{done.stderr[-1500:]}")

    def create_database(self) -> str:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def pid(self) -> int:
        return int((self.root / "data" / "postmaster.pid").read_text().split()[0])


@dataclass
class Databases:
    """Fresh databases on demand: SQLite files in the work folder; PostgreSQL databases on one
    cluster, started on first use."""

    folder: Path
    pg_bin: Path | None
    pg_settings: str
    cluster: Postgres | None = None
    made: int = 0

    def fresh(self, backend: str) -> str:
        self.made += 1
        if backend == "sqlite":
            return f"sqlite:///{self.folder / f'monitor-{self.made}.db'}"
        if self.cluster is None:
            if self.pg_bin is None:
                raise RuntimeError("PostgreSQL is not installed: run `make postgresql`")
            self.cluster = Postgres(self.pg_bin, self.pg_settings)
            self.cluster.start()
        return self.cluster.create_database()

    def drop(self, db_url: str) -> None:
        """Remove a database that is no longer needed, so PostgreSQL's autovacuum and
        checkpoints of a finished run do not run during the next one (and the disk keeps)."""
        if db_url.startswith("sqlite:///"):
            path = Path(db_url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        elif self.cluster is not None:
            import psycopg

            name = db_url.rsplit("/", 1)[1]
            with psycopg.connect(
                host="127.0.0.1",
                port=self.cluster.port,
                user="postgres",
                dbname="postgres",
                autocommit=True,
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute("CHECKPOINT")

    def server_pid(self, backend: str) -> int | None:
        return self.cluster.pid() if backend == "postgresql" and self.cluster else None

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


def count_stored(db_url: str) -> dict[str, int]:
    """``SELECT count(*)`` of the events, and of the incidents the run opened."""
    from sqlalchemy import create_engine, text

    from assay.monitor.store.db import normalise_url

    engine = create_engine(normalise_url(db_url))
    try:
        with engine.connect() as conn:

            def count(table: str) -> int:
                return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

            return {"events": count("events"), "incidents": count("incidents")}
    finally:
        engine.dispose()


# --- the service process ------------------------------------------------------------------------


class Service:
    """``assay monitor serve`` on a free port, in its own process group; stderr to a file."""

    def __init__(self, assay: Path, spec: Path, db_url: str, logfile: Path) -> None:
        self.logfile = logfile
        command = [str(assay), "monitor", "serve", "--spec", str(spec), "--db", db_url]
        command += ["--repo", str(spec.parent / ".assay"), "--port", "0"]
        self._log = logfile.open("wb")
        self.proc = subprocess.Popen(
            command,
            cwd=spec.parent,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env(),
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.url = ""
        for raw in self.proc.stdout:  # the banner names the ingest URL
            found = re.search(r"(http://[0-9.]+:\d+)/v1/events", raw.decode(errors="replace"))
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"the monitor did not start:\n{logfile.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def summary(self, admin_token: str) -> dict[str, Any]:
        """``GET /v1/summary``: the service's counters and the latest window of each signal."""
        request = urllib.request.Request(
            f"{self.url}/v1/summary", headers={"Authorization": f"Bearer {admin_token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            found: dict[str, Any] = json.loads(resp.read())
        return found

    def stop(self) -> int | None:
        """SIGINT (uvicorn shuts down gracefully; the lifespan closes the service), then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()
        return self.proc.returncode

    def log_problems(self) -> list[str]:
        """Lines of the service's stderr that report an error or a traceback."""
        text = self.logfile.read_text(errors="replace")
        return [ln for ln in text.splitlines() if re.search(r"ERROR|Traceback|Exception", ln)]


def tree_cpu(pid: int | None) -> float | None:
    """User + system seconds of a process and its live children (PostgreSQL's backends)."""
    if pid is None:
        return None
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = proc.cpu_times()
                total += t.user + t.system
    except psutil.NoSuchProcess:
        return None
    return total


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, all cores (not idle, not iowait)."""
    import psutil

    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Load:
    """What one run of the client saw."""

    sent_events: int = 0
    accepted: int = 0
    duplicates: int = 0
    requests: int = 0
    busy_429: int = 0
    errors: int = 0
    first_error: str | None = None
    seconds: float = 0.0
    completions: list[tuple[float, int]] = field(default_factory=list)
    histogram: Any = None
    slice_events: int = 0
    slices: list[Any] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "events_sent": self.sent_events,
            "events_accepted": self.accepted,
            "duplicates": self.duplicates,
            "requests": self.requests,
            "busy_429": self.busy_429,
            "errors": self.errors,
            "first_error": self.first_error,
            "seconds": self.seconds,
            "events_per_s": self.accepted / self.seconds if self.seconds else None,
            "latency_ms": quantiles(self.histogram),
        }

    def time_line(self) -> list[int]:
        """Events accepted in each second of the run."""
        counts: Counter[int] = Counter()
        for t, n in self.completions:
            counts[int(t)] += n
        return [counts.get(s, 0) for s in range(max(counts) + 1)] if counts else []

    def slice_rows(self) -> list[dict[str, Any]]:
        """Throughput and latency per ``slice_events`` accepted events (the soak's course)."""
        out: list[dict[str, Any]] = []
        done, last_done, last_t = 0, 0, 0.0
        for index, (t, n) in enumerate(self.completions):
            done += n
            final = index == len(self.completions) - 1
            if done - last_done >= self.slice_events or final:
                h = self.slices[min(len(out), len(self.slices) - 1)]
                rate = (done - last_done) / (t - last_t) if t > last_t else None
                out.append({"events": done, "events_per_s": rate, "latency_ms": quantiles(h)})
                last_done, last_t = done, t
        return out


def histogram() -> Any:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, LATENCY_MAX_US, 3)


def quantiles(h: Any) -> dict[str, float] | None:
    """p50, p95, p99, p99.9, max and mean in milliseconds, and the count."""
    if h is None or h.get_total_count() == 0:
        return None
    out = {
        f"p{p:g}".replace(".", "_"): h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)
    }
    out.update(max=h.get_max_value() / 1000, mean=h.get_mean_value() / 1000)
    out["count"] = h.get_total_count()
    return out


async def _send(
    session: Any, url: str, body: bytes, load: Load, headers: dict[str, str], started: float
) -> None:
    """Post one batch until it is accepted (a 429 waits ``Retry-After`` and sends again);
    latency from ``started`` to the 202. Any other answer is an error, not retried."""
    while True:
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                payload = await resp.read()
                status, retry = resp.status, resp.headers.get("Retry-After", "1")
        except Exception as exc:  # a dropped connection is the service's failure: count it
            load.errors += 1
            load.first_error = load.first_error or f"{type(exc).__name__}: {exc}"
            return
        load.requests += 1
        if status == 202:
            done = time.perf_counter()
            answer = json.loads(payload)
            load.accepted += answer["accepted"]
            load.duplicates += answer["duplicates"]
            load.completions.append((done, answer["accepted"] + answer["duplicates"]))
            micros = max(1, min(int((done - started) * 1e6), LATENCY_MAX_US))
            load.histogram.record_value(micros)
            if load.slices:
                index = (load.accepted - 1) // load.slice_events
                load.slices[min(index, len(load.slices) - 1)].record_value(micros)
            return
        if status == 429:
            load.busy_429 += 1
            try:
                await asyncio.sleep(float(retry))
            except ValueError:
                await asyncio.sleep(1.0)
            continue
        load.errors += 1
        load.first_error = load.first_error or f"HTTP {status}: {payload[:300]!r}"
        return


def _session(token: str, connections: int) -> tuple[Any, dict[str, str]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return aiohttp.ClientSession(connector=connector, timeout=timeout), headers


async def closed_loop(
    url: str,
    token: str,
    bodies: Sequence[bytes],
    *,
    batch: int,
    connections: int,
    slice_events: int = 0,
) -> Load:
    """``connections`` workers, each posting the next body as soon as its last one was
    accepted: the most the service takes. ``slice_events``: latency per slice as well."""
    load = Load(histogram=histogram(), slice_events=slice_events)
    if slice_events:
        load.slices = [histogram() for _ in range(-(-len(bodies) * batch // slice_events))]
    session, headers = _session(token, connections)
    target = f"{url}/v1/events"
    order = iter(bodies)

    async def worker() -> None:
        for body in order:
            await _send(session, target, body, load, headers, time.perf_counter())

    async with session:
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        load.seconds = time.perf_counter() - began
    load.sent_events = len(bodies) * batch
    load.completions = [(t - began, n) for t, n in load.completions]
    return load


async def open_loop(
    url: str, token: str, bodies: Sequence[bytes], *, batch: int, rate: float, connections: int
) -> Load:
    """One body every ``batch / rate`` seconds, whatever the answers; latency from each
    body's intended send time, so waiting for a connection or for the service counts."""
    load = Load(histogram=histogram())
    session, headers = _session(token, connections)
    target = f"{url}/v1/events"
    tasks = []
    async with session:
        began = time.perf_counter() + 0.05
        for i, body in enumerate(bodies):
            due = began + i * batch / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, target, body, load, headers, due)))
        await asyncio.gather(*tasks)
        load.seconds = time.perf_counter() - began
    load.sent_events = len(bodies) * batch
    load.completions = [(t - began, n) for t, n in load.completions]
    return load


# --- py-spy: where the service's time goes ------------------------------------------------------


def find_py_spy(given: str | None) -> str | None:
    """``--py-spy``, else py-spy in bench/.venv or on PATH (optional: `pip install py-spy`)."""
    if given:
        return given
    beside = Path(__file__).resolve().parent / ".venv" / "bin" / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_py_spy(py_spy: str, pid: int, out: Path, *, gil: bool) -> subprocess.Popen[bytes]:
    command = [py_spy, "record", "-p", str(pid), "-r", "200", "-f", "raw", "-o", str(out)]
    command += ["--nonblocking", *(["--gil"] if gil else ["--idle"])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_py_spy(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return (err or b"").decode(errors="replace")[-500:]


SPY_PARTS = (
    # (part, function names on the stack, checked in this order; the first that matches wins)
    ("JSON validation (pydantic validate_json)", ("TypeAdapter.validate_json",)),
    ("events → records and rows (_record, _row)", ("_record", "_row")),
    ("INSERT of the batch (insert_events)", ("insert_events",)),
    ("quarantine and forensic look-ups", ("_hold_quarantined", "_capture_forensic")),
    ("connection, BEGIN and COMMIT (Database.begin)", ("Database.begin",)),
    ("columnar batch (EventBatch.from_records)", ("EventBatch.from_records",)),
    ("detectors (Detectors.observe_events)", ("Detectors.observe_events",)),
    ("rest of ingest_events (write lock, counters, dispatch)", ("MonitorService.ingest_events",)),
    ("rest of the request in the worker thread", ("create_app.<locals>.ingest_call",)),
    (
        "authentication and rate limit (dependency)",
        ("create_app.<locals>.needs.<locals>.dependency",),
    ),
    (
        "background loop, access log, actions",
        (
            *("MonitorService.tick", "duties", "Database.acquire_lease", "Database.prune"),
            *("AccessLogWriter._run", "_worker"),
        ),
    ),
)


def _frame_name(frame: str) -> str:
    return frame.split(" (", 1)[0]


def summarise_py_spy(path: Path, *, only_ingest: bool = False) -> dict[str, Any]:
    """Samples of a py-spy raw file per part of the ingest path (:data:`SPY_PARTS`; the rest
    is the event loop: HTTP parsing, routing, authentication, the response), and the
    functions with the most own samples."""
    parts: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame_name(f) for f in stack.split(";")]
        if only_ingest and "create_app.<locals>.ingest_call" not in frames:
            continue
        n = int(count)
        total += n
        names = set(frames)
        for part, functions in SPY_PARTS:
            if names & set(functions):
                parts[part] += n
                break
        else:
            parts["event loop: HTTP, routing, auth, response"] += n
        own[stack.split(";")[-1].split(" (", 1)[0] + _where(stack.split(";")[-1])] += n
    return {
        "samples": total,
        "parts": {k: v / total for k, v in parts.most_common()} if total else {},
        "top_own": [(k, v / total) for k, v in own.most_common(12)] if total else [],
    }


def _where(frame: str) -> str:
    found = re.search(r"\(([^()]*?)(?::\d+)?\)$", frame)
    if not found:
        return ""
    parts = found.group(1).split("/")
    return f" ({'/'.join(parts[-2:])})"
