"""The performance checks: full audits that load real loopback servers — ``assay serve-model``'s
app with its fault injection (added latency, injected errors) and a single-threaded server of
tests/_load_servers.py whose capacity is known — for one or two seconds at low rates."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from _load_servers import dying_after, serve, unused_port
from assay.api import AuditResult, execute
from assay.checks import load_builtin
from assay.checks._registry import Finding, Status
from assay.checks.performance import NOT_MEASURED
from assay.checks.performance_run import hpa_manifest, replicas_needed
from assay.serving import Faults, create_app, parse_latency, running
from assay.sources.models.function import FunctionModel
from assay.spec.loader import spec_from_mapping

load_builtin()

KEY = "perf-Zq8Lm3Xt7Kw2Pv9Nc4Rb"
CHECKS = (
    "performance.autoscaling",
    "performance.error_rate",
    "performance.latency",
    "performance.saturation",
)


@pytest.fixture(autouse=True)
def _loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    monkeypatch.setenv("PERF_KEY", KEY)


def _zeros(frame: Any) -> list[int]:
    return [0] * len(frame)


@contextmanager
def model_server(
    *, latency: str | None = None, error_rate: float = 0.0, key: str | None = KEY
) -> Iterator[str]:
    """``assay serve-model``'s app over a tiny function model; yields its predict URL."""
    model = FunctionModel(_zeros, target="tests:zeros", features=["age", "income"])
    faults = Faults(
        latency=parse_latency(latency) if latency else None, error_rate=error_rate, seed=1
    )
    with running(create_app(model, api_key=key, faults=faults)) as served:
        yield served.url + "/predict"


def one_at_a_time(seconds: float) -> Callable[[Any], int]:
    """A server that answers one request at a time in ``seconds``: 1/seconds requests/s."""
    lock = threading.Lock()

    def answer(server: Any) -> int:
        with lock:
            time.sleep(seconds)
        return 200

    return answer


def audit(root: Path, performance: dict[str, Any], **extra: Any) -> AuditResult:
    root.mkdir(parents=True, exist_ok=True)
    rows = pa.table({"age": [31, 45, 27, 52], "income": [1200.0, 3400.5, 800.0, 2100.0]})
    pq.write_table(rows, root / "test.parquet")
    spec = spec_from_mapping(
        {
            "version": 1,
            "system": {"name": "pricing model"},
            "datasets": {"test": {"path": "test.parquet"}},
            "performance": {
                "key_env": "PERF_KEY",
                "duration": 1,
                "warmup": 0.2,
                "arrival": "constant",
                "peak_rate": 20,
                **performance,
            },
            **extra,
        },
        base_dir=root,
    )
    return execute(spec, repo=root / "repo")


def found(result: AuditResult, check_id: str) -> Finding:
    (finding,) = [f for f in result.run.findings if f.check_id == check_id]
    return finding


def stored(result: AuditResult, name: str) -> bytes:
    (artefact,) = [a for a in result.run.artefacts if a.name == name]
    return result.load(artefact.sha256)


def stored_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((root / "repo").rglob("*")) if p.is_file())


# ------------------------------------------------------------------------ latency and errors


def test_objectives_met_pass_and_the_key_is_never_stored(tmp_path: Path) -> None:
    with model_server() as url:
        result = audit(
            tmp_path,
            {
                "url": url,
                "data": "test",
                "template": '{"instances": [$row]}',
                "objectives": {"p95_ms": 400, "p99_ms": 500, "max_error_rate": 0.0},
                "peak_rate": 10,
                "saturation": {"start": 10, "stop": 20, "step": 10},
            },
        )
    latency = found(result, "performance.latency")
    assert latency.status is Status.PASS and latency.subject == url
    assert latency.metrics["n_requests"] == 10 and latency.metrics["n_ok"] == 10
    assert 0 < latency.metrics["p99_ms"] <= 500  # type: ignore[operator]
    assert latency.threshold is not None and latency.threshold.fail == 500
    errors = found(result, "performance.error_rate")
    assert errors.status is Status.PASS, errors.message  # the key was sent: no 401
    assert errors.metrics["error_rate"] == 0.0
    # Every rate tried met the objectives: a lower bound, so autoscaling warns.
    saturation = found(result, "performance.saturation")
    assert saturation.status is Status.PASS
    assert saturation.metrics["saturation_rate"] == 20 and saturation.metrics["saturated"] == 0
    assert "at least" in saturation.message
    scaling = found(result, "performance.autoscaling")
    assert scaling.status is Status.WARN and "lower bound" in scaling.message
    record = json.loads(stored(result, "performance/load.json"))
    assert record["schema"] == "assay-loadtest/1" and record["url"] == url
    assert record["settings"]["key"] == "environment variable PERF_KEY"
    assert record["settings"]["bodies"] == "rows of dataset test"
    assert record["histogram"]["data"] and len(record["spectrum"]) == 8
    (load,) = [a for a in result.run.artefacts if a.name == "performance/load.json"]
    assert latency.evidence == (f"sha256:{load.sha256}",) == errors.evidence
    raw = stored_bytes(tmp_path) + json.dumps([f.to_json() for f in result.run.findings]).encode()
    assert KEY.encode() not in raw


def test_a_missed_p99_objective_fails(tmp_path: Path) -> None:
    with model_server(latency="fixed:60ms") as url:
        result = audit(
            tmp_path, {"url": url, "body": '{"instances": []}', "objectives": {"p99_ms": 30}}
        )
    finding = found(result, "performance.latency")
    assert finding.status is Status.FAIL
    assert finding.metrics["p99_ms"] >= 60  # type: ignore[operator]
    assert finding.metrics["p99_objective_ms"] == 30
    assert finding.metrics["p95_objective_ms"] is None
    assert finding.threshold is not None and finding.threshold.metric == "p99_ms"
    assert "p99 ≤ 30 ms" in finding.message
    assert found(result, "performance.error_rate").status is Status.PASS
    assert found(result, "performance.saturation").status is Status.SKIPPED


def test_injected_errors_fail_the_error_rate(tmp_path: Path) -> None:
    with model_server(error_rate=0.5) as url:
        result = audit(tmp_path, {"url": url, "objectives": {"p99_ms": 1000}})
    finding = found(result, "performance.error_rate")
    assert finding.status is Status.FAIL
    assert finding.metrics["n_errors"] > 0  # type: ignore[operator]
    assert "status 500" in finding.message
    assert finding.threshold is not None and finding.threshold.fail == 0.01


def test_a_server_that_dies_mid_test_is_measured_to_the_end(tmp_path: Path) -> None:
    with serve(dying_after(0.6)) as url:
        result = audit(tmp_path, {"url": url, "objectives": {"p99_ms": 1000}})
    errors = found(result, "performance.error_rate")
    assert errors.status is Status.FAIL
    assert errors.metrics["n_requests"] == 20 and errors.metrics["n_errors"] > 0  # type: ignore[operator]
    assert found(result, "performance.latency").status is Status.PASS  # the answers it gave


def test_an_unreachable_endpoint_is_an_error_and_the_audit_goes_on(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{unused_port()}/predict"
    result = audit(tmp_path, {"url": url, "saturation": {"start": 10, "stop": 20, "step": 10}})
    port = url.split(":")[2].split("/")[0]
    problem = (
        f"cannot connect to 127.0.0.1:{port}: the connection was refused. Start the server, "
        "or fix the URL"
    )
    what = {
        "performance.latency": "Latency",
        "performance.error_rate": "The error rate",
        "performance.saturation": "Saturation",
        "performance.autoscaling": "The replica count",
    }
    for check_id in CHECKS:
        finding = found(result, check_id)
        assert finding.status is Status.ERROR and finding.subject == url
        assert finding.message == NOT_MEASURED.format(url=url, problem=problem, what=what[check_id])
    others = [f for f in result.run.findings if f.domain != "performance"]
    assert any(f.status is Status.PASS for f in others)  # the data checks ran


# --------------------------------------------------------------- saturation and autoscaling


def test_saturation_and_the_hpa_manifest(tmp_path: Path) -> None:
    # 20 ms per request, one at a time: 50 requests/s. 20 and 40 keep up; 60 queues.
    with serve(one_at_a_time(0.02)) as url:
        result = audit(
            tmp_path,
            {
                "url": url,
                "objectives": {"p99_ms": 100},
                "saturation": {"start": 20, "stop": 80, "step": 20},
                "replicas": 2,
                "headroom": 2.5,
                "autoscaling": {"name": "pricing", "namespace": "ml", "min_replicas": 1},
            },
        )
    saturation = found(result, "performance.saturation")
    assert saturation.metrics["saturation_rate"] == 40, saturation.message
    assert saturation.metrics["saturation_rate_per_replica"] == 20
    assert saturation.metrics["headroom"] == 2.0 and saturation.metrics["saturated"] == 1
    assert saturation.status is Status.WARN  # above the peak, below the wanted 2.5×
    assert saturation.threshold is not None and saturation.threshold.warn == 2.5
    scaling = found(result, "performance.autoscaling")
    assert scaling.status is Status.PASS
    assert scaling.metrics["replicas_needed"] == math.ceil(20 * 2.5 / 20) == 3
    assert scaling.metrics["replicas"] == scaling.metrics["max_replicas"] == 3
    text = stored(result, "performance/hpa.yaml").decode()
    manifest = yaml.safe_load(text)
    assert manifest["apiVersion"] == "autoscaling/v2"
    assert manifest["kind"] == "HorizontalPodAutoscaler"
    assert manifest["metadata"]["name"] == "pricing"
    assert manifest["metadata"]["namespace"] == "ml"
    assert manifest["metadata"]["annotations"]["assay/saturation-rate-per-replica"] == "20"
    assert manifest["spec"]["minReplicas"] == 1 and manifest["spec"]["maxReplicas"] == 3
    (metric,) = manifest["spec"]["metrics"]
    assert metric["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 70},
    }
    assert text.startswith("# Autoscaling recommendation written by Assay")
    steps = json.loads(stored(result, "performance/saturation.json"))
    assert [s["rate"] for s in steps["steps"]] == [20, 40, 60]
    assert steps["saturation_rate"] == 40 and not steps["steps"][-1]["passed"]


def test_replicas_math() -> None:
    assert replicas_needed(200, 1.5, 100) == 3
    assert replicas_needed(20, 1.5, 15) == 2  # exactly 2.0: no rounding up past it
    assert replicas_needed(1, 1.0, 1000) == 1


def test_min_replicas_is_a_floor_of_the_manifest() -> None:
    from assay.loadtest import Objective, SaturationResult
    from assay.spec.models import Performance

    perf = Performance.model_validate(
        {"peak_rate": 10, "headroom": 1.5, "autoscaling": {"min_replicas": 4}}
    )
    search = SaturationResult(Objective(p99_ms=100), (), 100.0)
    text = hpa_manifest(perf, search, per=100.0, needed=1, replicas=4)
    manifest = yaml.safe_load(text)
    assert manifest["spec"]["minReplicas"] == 4 and manifest["spec"]["maxReplicas"] == 4
    assert manifest["metadata"]["name"] == "model"
