"""``assay serve-model``: bad input exits 2 with one message; a real server process serves a
skops file until interrupted."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from _cli_support import error_of, invoke
from _model_audits import GOOD_FEATURES, fit_model, make_table
from assay.serving import bind
from assay.serving._faults import BAD_LATENCY, BAD_STALL
from assay.serving._server import KEY_UNSET, NO_MODEL, PORT_IN_USE, TARGET_KIND, TARGET_NOT_FOUND
from conftest import KEY, call


@pytest.fixture(scope="module")
def skops_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io as sio

    path = tmp_path_factory.mktemp("model") / "churn.skops"
    sio.dump(fit_model("good", make_table("good", 300, 1)), path)
    return path


def test_a_missing_model_file_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.skops"
    assert error_of(invoke("serve-model", missing)) == TARGET_NOT_FOUND.format(path=missing)


def test_an_unknown_suffix_exits_2(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    assert error_of(invoke("serve-model", tmp_path / "model.bin")) == TARGET_KIND.format(
        path=tmp_path / "model.bin", suffix=".bin"
    )


def test_a_spec_without_a_model_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "assay.yaml"
    spec.write_text("version: 1\nsystem: {name: churn}\n")
    assert error_of(invoke("serve-model", spec)) == NO_MODEL.format(path=spec)


def test_a_pickle_needs_trust(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "used"}))
    message = error_of(invoke("serve-model", path))
    assert message.startswith(f"model file {path} is a pickle file")
    assert "pass --trust" in message and "trust: true" not in message


def test_malformed_faults_exit_2(skops_file: Path) -> None:
    result = invoke("serve-model", skops_file, "--latency", "fixed:soon")
    assert error_of(result) == (
        "--latency 'fixed:soon': 'soon' is not a duration. Use a number and a unit: 20ms, "
        "1.5s, 500us."
    )
    assert error_of(invoke("serve-model", skops_file, "--latency", "20ms")) == (
        BAD_LATENCY.format(text="20ms")
    )
    assert error_of(invoke("serve-model", skops_file, "--stall", "10s/1s")) == (
        BAD_STALL.format(text="10s/1s")
    )
    assert "--error-rate '2'" in error_of(invoke("serve-model", skops_file, "--error-rate", "2"))


def test_a_port_in_use_exits_2(skops_file: Path) -> None:
    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        taken.listen()
        result = invoke("serve-model", skops_file, "--port", port)
    assert error_of(result) == PORT_IN_USE.format(host="127.0.0.1", port=port)


def test_an_unset_key_variable_exits_2(skops_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    result = invoke("serve-model", skops_file, "--port", 0, "--api-key-env", "NO_SUCH_KEY_VAR")
    assert error_of(result) == KEY_UNSET.format(var="NO_SUCH_KEY_VAR")


def test_the_command_serves_a_skops_file(skops_file: Path, tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    command = [sys.executable, "-m", "assay", "serve-model", str(skops_file), "--port", "0"]
    command += ["--api-key-env", "SERVE_KEY", "--access-log", str(log), "--latency", "fixed:1ms"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
        assert banner[0].startswith("serving skops model") and "'churn'" in banner[0]
        url = banner[1].split()[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/predict")
        rows = make_table("good", 5, 9).select(GOOD_FEATURES).to_pylist()
        status, _, body = call(url, {"instances": rows}, key=KEY)
        assert status == 200 and len(json.loads(body)["predictions"]) == 5
        assert call(url, {"instances": rows})[0] == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert [json.loads(line)["status"] for line in log.read_text().splitlines()] == [200, 401]
