"""The served model: the request and response contract, auth, metrics, the access log, and
Assay audits of the served endpoint — its model performance, access control and access log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _model_audits import GOOD_FEATURES, make_table, model_spec
from assay.api import execute
from assay.checks import load_builtin
from assay.checks._access_log import Secrets, read_log
from assay.checks._registry import REGISTRY, Finding, Status
from assay.serving import create_app, key_id, running
from assay.serving._app import MISSING_COLUMNS, NO_INSTANCES, UNAUTHORIZED, UNKNOWN_MODEL
from assay.sources.models import Model
from assay.spec.loader import spec_from_mapping
from conftest import KEY, call

load_builtin()

TABLE = make_table("good", 40, 5)


def records(n: int = 40) -> list[dict[str, Any]]:
    return TABLE.select(GOOD_FEATURES).slice(0, n).to_pylist()


def only(*check_ids: str) -> dict[str, Any]:
    """``checks:`` turning off every registered check but ``check_ids`` (a fast audit)."""
    return {c: {"enabled": False} for c in REGISTRY if c not in check_ids}


def found(findings: list[Finding], check_id: str, subject: str | None = None) -> Finding:
    (finding,) = [
        f for f in findings if f.check_id == check_id and (subject is None or f.subject == subject)
    ]
    return finding


# ------------------------------------------------------------------------------- the contract


def test_predictions_round_trip_equal_the_models_own(good_model: Model) -> None:
    expected = good_model.predict_all(TABLE)
    assert expected.proba is not None
    with running(create_app(good_model, name="good")) as served:
        by_records = call(served.url + "/predict", {"instances": records()})
        rows = [list(r.values()) for r in records()]
        by_rows = call(served.url + "/v1/models/good:predict", {"inputs": rows})
        empty = call(served.url + "/predict", {"instances": []})
    for status, _, body in (by_records, by_rows):
        answer = json.loads(body)
        assert status == 200
        assert answer["predictions"] == expected.labels.tolist()
        assert answer["classes"] == [0, 1]
        np.testing.assert_allclose(answer["probabilities"], expected.proba, rtol=1e-12)
    assert empty[0] == 200 and json.loads(empty[2]) == {"predictions": []}


def test_bad_requests_get_400_naming_the_problem(good_model: Model) -> None:
    with running(create_app(good_model, name="good")) as served:
        url = served.url + "/predict"
        no_rows = call(url, {"rows": []})
        missing = call(url, {"instances": [{"x1": 1.0}]})
        other = call(served.url + "/v1/models/other:predict", {"instances": []})
        width = call(url, {"instances": [[1.0, 2.0]]})
    assert no_rows[0] == 400
    assert json.loads(no_rows[2]) == {"error": NO_INSTANCES.format(keys="'rows'")}
    assert missing[0] == 400
    assert json.loads(missing[2])["error"] == MISSING_COLUMNS.format(
        missing="x2, x3, region", features="x1, x2, x3, region"
    )
    assert other[0] == 404
    assert json.loads(other[2])["error"] == UNKNOWN_MODEL.format(name="other", served="good")
    assert width[0] == 400 and "row 0 has 2 values" in json.loads(width[2])["error"]


def test_the_api_key_is_required_everywhere_but_health(good_model: Model) -> None:
    with running(create_app(good_model, api_key=KEY)) as served:
        url = served.url + "/predict"
        body = {"instances": records(2)}
        assert call(url, body)[0] == 401
        assert call(url, body, key="wrong")[0] == 401
        assert call(url, body, key="wrong", header="X-API-Key")[0] == 401
        assert call(served.url + "/metrics")[0] == 401
        assert call(served.url + "/nowhere")[0] == 401  # refused before routing
        refused = call(url, body)
        assert json.loads(refused[2]) == {"error": UNAUTHORIZED}
        assert refused[1]["WWW-Authenticate"].startswith("Bearer")
        assert call(url, body, key=KEY)[0] == 200
        assert call(url, body, key=KEY, header="X-API-Key")[0] == 200
        health = call(served.url + "/health")
    assert health[0] == 200 and json.loads(health[2])["auth"] is True
    assert KEY not in health[2].decode()


def test_metrics_count_requests_errors_rows_and_time(good_model: Model) -> None:
    with running(create_app(good_model)) as served:
        for n in (3, 4):
            call(served.url + "/predict", {"instances": records(n)})
        call(served.url + "/predict", {"bad": 1})
        call(served.url + "/health")
        status, headers, body = call(served.url + "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = body.decode().splitlines()
    for line in (
        'assay_serve_requests_total{route="/predict",code="200"} 2',
        'assay_serve_requests_total{route="/predict",code="400"} 1',
        'assay_serve_requests_total{route="/health",code="200"} 1',
        "assay_serve_errors_total 0",
        "assay_serve_predicted_rows_total 7",
        'assay_serve_request_duration_seconds_count{route="/predict"} 3',
        "# TYPE assay_serve_requests_total counter",
    ):
        assert line in lines
    (total,) = [
        x for x in lines if x.startswith('assay_serve_request_duration_seconds_sum{route="/p')
    ]
    assert float(total.split()[-1]) > 0


def test_the_access_log_says_who_what_and_when(good_model: Model, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "access.jsonl"
    with running(create_app(good_model, name="good", api_key=KEY, access_log=log)) as served:
        call(served.url + "/predict", {"instances": records(5)}, key=KEY)
        call(served.url + "/predict", {"instances": records(5)})
        call(served.url + "/health")  # not logged
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["path"], e["status"], e.get("key_id")) for e in entries] == [
        ("/predict", 200, key_id(KEY)),
        ("/predict", 401, None),
    ]
    assert entries[0]["rows"] == 5 and entries[0]["model"] == "good"
    assert entries[0]["timestamp"].endswith("+00:00") and entries[0]["client"] == "127.0.0.1"
    assert KEY not in log.read_text()
    stats = read_log(log, "jsonl", Secrets())
    assert (stats.n_entries, stats.n_refused, stats.malformed) == (2, 1, 0)
    assert stats.missing == {"who": 0, "what": 0, "when": 0}
    assert stats.fields["who"] == {"key_id": 1}


# ------------------------------------------------------------------------ audits of the server


def test_auditing_the_served_model_equals_auditing_the_model(tmp_path: Path) -> None:
    direct = model_spec("good", tmp_path, n=600)
    assert direct.model is not None and direct.model.object is not None
    checks = only("model.performance")
    mapping = direct.model_dump(mode="json", exclude_none=True, by_alias=True)
    mapping["checks"] = checks
    spec = spec_from_mapping(
        {**mapping, "model": {"object": direct.model.object, "features": GOOD_FEATURES}},
        base_dir=tmp_path,
    )
    from assay.sources.models import load_model

    model = load_model(spec)
    with running(create_app(model, name="good")) as served:
        remote = spec_from_mapping(
            {
                **mapping,
                "model": {
                    "url": served.url + "/predict",
                    "proba_path": "probabilities",
                    "classes": [0, 1],
                    "features": GOOD_FEATURES,
                },
            },
            base_dir=tmp_path,
        )
        by_url = execute(remote).run.findings
    by_object = execute(spec).run.findings
    performance = [f for f in by_object if f.check_id == "model.performance"]
    assert performance and all(f.status is not Status.ERROR for f in performance)
    for finding in performance:
        twin = found(by_url, "model.performance", finding.subject)
        assert twin.status is finding.status
        assert twin.metrics == pytest.approx(finding.metrics, rel=1e-9)


def test_access_checks_pass_against_the_served_model(good_model: Model, tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    with running(create_app(good_model, api_key=KEY, access_log=log)) as served:
        for _ in range(3):
            call(served.url + "/predict", {"instances": records(2)}, key=KEY)
        spec = spec_from_mapping(
            {
                "version": 1,
                "system": {"name": "served model"},
                "serving": {
                    "url": served.url + "/predict",
                    "key_env": "SERVE_KEY",
                    "access_log": "access.jsonl",
                },
                "checks": only("security.access_control", "security.access_log"),
            },
            base_dir=tmp_path,
        )
        findings = execute(spec).run.findings
    control = found(findings, "security.access_control")
    assert control.status is Status.PASS, control.message
    assert control.metrics["refused_probes"] == 2 and control.metrics["valid_key_refused"] == 0
    access = found(findings, "security.access_log")
    assert access.status is Status.PASS, access.message
    # 3 requests above, then the probes: no key, a wrong key (both refused), the valid key
    assert access.metrics["n_entries"] == 6 and access.metrics["n_refused"] == 2
    assert access.metrics["missing_who_ratio"] == 0.0


def test_an_open_server_fails_access_control(good_model: Model, tmp_path: Path) -> None:
    with running(create_app(good_model)) as served:
        spec = spec_from_mapping(
            {
                "version": 1,
                "system": {"name": "served model"},
                "serving": {"url": served.url + "/predict"},
                "checks": only("security.access_control"),
            },
            base_dir=tmp_path,
        )
        findings = execute(spec).run.findings
    control = found(findings, "security.access_control")
    assert control.status is Status.FAIL and control.metrics["accepted_probes"] == 2


def test_a_keyed_endpoint_is_audited_with_key_env_and_the_key_is_never_stored(
    good_model: Model, tmp_path: Path
) -> None:
    direct = model_spec("good", tmp_path, n=200)
    mapping = direct.model_dump(mode="json", exclude_none=True, by_alias=True)
    mapping["checks"] = only("model.performance")
    with running(create_app(good_model, api_key=KEY)) as served:
        model = {
            "url": served.url + "/predict",
            "proba_path": "probabilities",
            "classes": [0, 1],
            "features": GOOD_FEATURES,
        }
        keyed = execute(
            spec_from_mapping(
                {**mapping, "model": {**model, "key_env": "SERVE_KEY"}}, base_dir=tmp_path
            )
        )
        keyless = execute(spec_from_mapping({**mapping, "model": model}, base_dir=tmp_path))
    assert found(keyed.run.findings, "model.performance", "test").status is not Status.ERROR
    refused = found(keyless.run.findings, "model.performance")
    assert refused.status is Status.ERROR and "HTTP 401" in refused.message
    stored = b"".join(keyed.load(a.sha256) for a in keyed.run.artefacts)
    assert KEY.encode() not in stored
