"""`assay monitor serve` and `assay monitor rules` from the command line: the real process on
loopback, and exit 2 with one clear message for every bad input, before anything listens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from _service_support import audited, events, spec_document

from _cli_support import flat, invoke
from assay.monitor.keys import create_key
from assay.monitor.store.db import Database


def _write_spec(tmp_path: Path, **monitor: object) -> Path:
    audited(tmp_path, monitor=monitor or None)
    path = tmp_path / "assay.yaml"
    path.write_text(yaml.safe_dump(spec_document(monitor=monitor or None)))
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_runs_the_service_as_a_process(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    db_path = tmp_path / "monitor.db"
    with Database.open(db_path) as db, db.begin() as conn:
        _, token = create_key(conn, name="feeder", role="ingest", now=time.time())
        _, reader = create_key(conn, name="ops", role="read", now=time.time())
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "assay", "monitor", "serve", "--spec", str(spec),
         "--db", str(db_path), "--repo", str(tmp_path / ".assay"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env={**os.environ},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the service did not get ready"
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {token}"}
        answer = httpx.post(url + "/v1/events", json=events(0, 50), headers=headers, timeout=10)
        assert answer.status_code == 202 and answer.json()["accepted"] == 50
        metrics = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {reader}"})
        assert "assay_monitor_events_stored_total 50.0" in metrics.text
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=20)
    assert "monitoring monitored against run" in out.decode()


def test_serve_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    repo = tmp_path / ".assay"
    no_monitor = tmp_path / "plain.yaml"
    document = yaml.safe_load(spec.read_text())
    del document["monitor"]
    no_monitor.write_text(yaml.safe_dump(document))
    db = tmp_path / "m.db"
    cases: dict[str, list[object]] = {
        "has no `monitor:` section": ["--spec", no_monitor, "--repo", repo, "--db", db],
        "not an Assay evidence repository": ["--spec", spec, "--repo", tmp_path / "nowhere"],
        "is not supported": ["--spec", spec, "--repo", repo, "--db", "mysql://x@y/z"],
        "must be positive": ["--spec", spec, "--repo", repo, "--db", db, "--time-scale", "0"],
    }
    for expected, args in cases.items():
        result = invoke("monitor", "serve", *args)
        assert result.exit_code == 2, (expected, result.output, result.stderr)
        assert expected in flat(result.stderr), (expected, result.stderr)
        assert "Traceback" not in result.stderr


def test_serve_refuses_a_run_without_a_baseline(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    document = yaml.safe_load(spec.read_text())
    document["checks"] = {"monitoring.baseline": {"enabled": False}}
    spec.write_text(yaml.safe_dump(document))
    assert invoke("audit", spec, "--repo", tmp_path / ".assay", "-q").exit_code in (0, 1)
    result = invoke(
        "monitor", "serve", "--spec", spec, "--repo", tmp_path / ".assay",
        "--db", tmp_path / "m.db",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "has no monitor baseline" in flat(result.stderr)


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(
            "monitor", "serve", "--spec", spec, "--repo", tmp_path / ".assay",
            "--db", tmp_path / "m.db", "--port", port,
        )  # fmt: skip
    assert result.exit_code == 2 and "already in use" in flat(result.stderr)


def test_rules_export_prometheus(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    out = tmp_path / "rules.yml"
    result = invoke("monitor", "rules", "--spec", spec, "-o", out)
    assert result.exit_code == 0, result.stderr
    rules = yaml.safe_load(out.read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert any(r["alert"] == "inputs_drifted" for r in alerts)
    assert (
        'signal="input_shift"' in next(r for r in alerts if r["alert"] == "inputs_drifted")["expr"]
    )
    bad = invoke("monitor", "rules", "--spec", spec, "--format", "nagios")
    assert bad.exit_code == 2 and "nagios" in bad.stderr


def test_a_spec_naming_an_unknown_action_is_refused_at_load(tmp_path: Path) -> None:
    spec = _write_spec(tmp_path)
    document = yaml.safe_load(spec.read_text())
    document["monitor"]["rules"][0]["actions"] = ["snapshot", "page_the_ceo"]
    spec.write_text(yaml.safe_dump(document))
    result = invoke("monitor", "rules", "--spec", spec)
    assert result.exit_code == 2
    assert "unknown action 'page_the_ceo'" in flat(result.stderr)
    assert "line" in result.stderr
