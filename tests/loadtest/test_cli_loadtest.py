"""``assay loadtest``: exit codes 0/1/2, the messages for bad input, and the JSON output."""

from __future__ import annotations

import json
from pathlib import Path

from _cli_support import error_of, flat, invoke
from _load_servers import dying_after, fixed_delay, serve, unused_port
from assay._cli_loadtest import NOT_A_NUMBER
from assay._http import network_problem
from assay.loadtest.run import UNREACHABLE
from assay.loadtest.schedule import BAD_RATE
from assay.loadtest.target import BAD_TEMPLATE, TEMPLATE_FIX

QUICK = ("--duration", "0.5", "--warmup", "0.2")


def test_a_met_objective_exits_0_and_writes_the_json(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    with serve(fixed_delay(0.002)) as url:
        result = invoke("loadtest", url, "--rate", "40", *QUICK, "--p99", "500", "--json", out)
    assert result.exit_code == 0, result.stderr
    assert "PASS every objective met" in flat(result.stdout)
    payload = json.loads(out.read_text())
    assert payload["schema"] == "assay-loadtest/1"
    assert payload["requests"] == 20 and payload["ok"] == 20
    assert payload["errors"] == {"total": 0, "rate": 0.0, "by_kind": {}}
    assert set(payload["latency"]) >= {"p50", "p90", "p95", "p99", "p99_9", "max"}
    assert payload["objective"]["p99_ms"] == 500 and payload["misses"] == []
    assert payload["histogram"]["data"] and payload["series"][0]["second"] == 0


def test_a_missed_objective_exits_1() -> None:
    with serve(fixed_delay(0.005)) as url:
        result = invoke("loadtest", url, "--rate", "40", *QUICK, "--p99", "0.5")
    assert result.exit_code == 1, result.stderr
    assert "exceeds the objective of 0.5 ms" in flat(result.stdout)


def test_a_server_that_dies_midway_is_reported_not_fatal() -> None:
    with serve(dying_after(0.3)) as url:
        result = invoke("loadtest", url, "--rate", "40", "--duration", "1", "--warmup", "0")
    assert result.exit_code == 0, result.stderr
    assert "connection" in flat(result.stdout)


def test_closed_mode_runs() -> None:
    with serve(fixed_delay(0.002)) as url:
        result = invoke("loadtest", url, "--mode", "closed", "--concurrency", "2", *QUICK)
    assert result.exit_code == 0, result.stderr
    assert "closed loop, 2 users" in flat(result.stdout)


def test_an_unreachable_url_exits_2() -> None:
    port = unused_port()
    url = f"http://127.0.0.1:{port}/predict"
    message = error_of(invoke("loadtest", url, "--rate", "10"))
    problem = network_problem(ConnectionRefusedError(), 5.0)
    assert message == UNREACHABLE.format(url=url, host="127.0.0.1", port=port, problem=problem)


def test_bad_numbers_exit_2() -> None:
    url = "http://127.0.0.1:9/"
    assert error_of(invoke("loadtest", url, "--rate", "0")) == BAD_RATE.format(value=0.0)
    assert error_of(invoke("loadtest", url, "--rate", "10", "--p99", "fast")) == (
        NOT_A_NUMBER.format(
            option="--p99", what="a number of milliseconds above 0", value="fast", example="250"
        )
    )


def test_a_malformed_template_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    with serve(fixed_delay(0.0)) as url:
        message = error_of(
            invoke("loadtest", url, "--rate", "10", "--data", data, "--template", '{"x": ${a')
        )
    problem = "Invalid placeholder in string: line 1, col 7"
    fix = TEMPLATE_FIX
    assert message == BAD_TEMPLATE.format(template='{"x": ${a', problem=problem, fix=fix)
