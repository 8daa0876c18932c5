"""``assay monitor drill``: every scenario trips its signal through the real service, every
expected action fires in time, escalation fires without an acknowledgement, the record lands
in the evidence repository and the ``monitoring.readiness`` check then passes.

One audited reference serves the whole module; each test serves its own replica on loopback
(a fresh database), on a :class:`ManualClock` that the drill moves past acknowledgement
deadlines, or on a :class:`ScaledClock` for the drills of a "remote" service. Every webhook
points at a loopback receiver.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from _cli_support import error_of, flat, invoke
from assay.api import execute
from assay.checks._registry import Status
from assay.evidence import Repository
from assay.monitor.clock import Clock, ManualClock, ScaledClock
from assay.monitor.drill_client import (
    DrillSetupError,
    ManualTime,
    Target,
    TrafficGenerator,
    WallTime,
    pii_text,
    preflight,
)
from assay.monitor.drill_local import WebhookSink, rehearsal_spec
from assay.monitor.drill_routes import store_record
from assay.monitor.drills import run_drills
from assay.monitor.keys import create_key
from assay.monitor.store.db import Database
from assay.monitor.store.schema import events
from assay.privacy import scan_text
from assay.spec import Spec
from assay.spec.monitor import DRILL_SCENARIOS, Monitor
from monitor._service_support import Served, audited, serving, spec_document

RUNBOOK = "https://wiki.example.com/runbooks/"

RULES: list[dict[str, Any]] = [
    {
        "name": "inputs-drifted",
        "signal": "input_shift",
        "when": "share_drifted > 0.3",
        "window": {"events": 200},
        "actions": ["snapshot", "alert", "retrain", "route_fallback"],
        "runbook": RUNBOOK + "drift",
        "ack_within_minutes": 5,
    },
    {
        "name": "accuracy-fell",
        "signal": "accuracy_drop",
        "when": "accuracy < 0.6",
        "window": {"events": 100},
        "actions": ["notify_engineering", "retrain"],
        "runbook": RUNBOOK + "accuracy",
        "ack_within_minutes": 10,
    },
    {
        "name": "slow",
        "signal": "latency_spike",
        "when": "p95_ms > 100",
        "window": {"events": 100},
        "actions": ["autoscale", "degraded_mode"],
        "runbook": RUNBOOK + "latency",
        "ack_within_minutes": 2,
    },
    {
        "name": "leaky",
        "signal": "suspicious_output",
        "when": "pii_rate > 0.05",
        "window": {"events": 100},
        "actions": ["quarantine_sessions", "snapshot"],
        "runbook": RUNBOOK + "pii",
        "ack_within_minutes": 2,
    },
    {
        "name": "auth-burst",
        "signal": "security_anomaly",
        "when": "auth_failures >= 20",
        "window": {"events": 100},
        "actions": ["revoke_keys", "forensic_logging"],
        "runbook": RUNBOOK + "security",
        "ack_within_minutes": 2,
    },
    {
        "name": "key-abuse",
        "signal": "security_anomaly",
        "when": "key_rate_ratio > 10",
        "window": {"events": 100},
        "actions": ["revoke_keys", "alert"],
        "runbook": RUNBOOK + "security",
        "ack_within_minutes": 2,
    },
]


def monitor_section(sink: str) -> dict[str, Any]:
    hooks = ("alert", "retrain", "engineering", "autoscale", "keys_revoked")
    return {
        "escalation": [
            {"name": "on-call", "webhook": f"{sink}/hook/oncall"},
            {"name": "head of ML", "webhook": f"{sink}/hook/head", "after_minutes": 30},
        ],
        "webhooks": {name: f"{sink}/hook/{name}" for name in hooks},
        "autoscale_command": [sys.executable, "-c", "pass"],
    }


@dataclass
class Env:
    folder: Path
    spec: Spec
    repo: Repository
    sink: WebhookSink


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    folder = tmp_path_factory.mktemp("drills")
    with WebhookSink().serving() as sink:
        spec, repo, _ = audited(folder, rules=RULES, monitor=monitor_section(sink.url))
        yield Env(folder, spec, repo, sink)


def with_rules(spec: Spec, rules: Sequence[Mapping[str, Any]], **monitor: Any) -> Spec:
    """``spec`` with other rules (and monitor fields), validated like a loaded spec."""
    assert spec.monitor is not None
    data = spec.monitor.model_dump(exclude_none=True)
    data.update(rules=list(rules), **monitor)
    return spec.model_copy(update={"monitor": Monitor.model_validate(data)})


@contextmanager
def drilling(
    env: Env, folder: Path, *, spec: Spec | None = None, clock: Clock | None = None
) -> Iterator[tuple[Served, Target, Database]]:
    """A replica on loopback over a fresh database and a drill target for it: in process
    (records stored directly) on a manual clock; over HTTP on a scaled one."""
    spec = spec or env.spec
    clock = clock or ManualClock()
    db = Database.open(f"sqlite:///{folder / 'monitor.db'}")
    try:
        with serving(spec, env.repo, db, clock=clock) as served:
            if isinstance(clock, ManualClock):
                with db.begin() as conn:
                    _, token = create_key(
                        conn, name="drill", role="admin", now=clock.now(), rate_per_second=1e6
                    )
                run_id = served.replica.baseline_run
                target = Target(
                    served.url,
                    token,
                    ManualTime(clock),
                    store=lambda record: store_record(db, env.repo, run_id, record),
                    in_process=True,
                )
            else:
                assert isinstance(clock, ScaledClock)
                target = Target(served.url, served.keys["admin"], WallTime(clock.factor))
            yield served, target, db
    finally:
        db.close()


def readiness(spec: Spec, repo: Repository) -> dict[str, Any]:
    result = execute(spec, repo=repo)
    return {f.subject: f for f in result.run.findings if f.check_id == "monitoring.readiness"}


# ---------------------------------------------------------------------------------- drills


def test_every_scenario_trips_its_signal_fires_its_actions_and_escalates(
    env: Env, tmp_path: Path
) -> None:
    with drilling(env, tmp_path) as (served, target, db):
        results = run_drills(
            env.spec, served.replica.service.baseline, target, timeout=60, action_deadline=20
        )
        client = served.client()
        route = client.get("/v1/route").json()
        unresolved = client.get("/v1/incidents", params={"status": "open"}).json()
        acked = client.get("/v1/incidents", params={"status": "acknowledged"}).json()
        log = client.get("/v1/actions", params={"limit": 1000}).json()
        listed = client.get("/v1/drills").json()
        with db.connect() as conn:
            ids = [r.id for r in conn.execute(select(events.c.id))]
    assert [r.scenario for r in results] == list(DRILL_SCENARIOS)
    for result in results:
        assert result.passed, (result.scenario, result.record["failures"])
        assert result.store_error is None
    records = {r.scenario: r.record for r in results}
    for scenario, record in records.items():
        assert record["format"] == 1 and record["scenario"] == scenario
        assert record["started"] <= record["finished"]
        assert record["service"] == served.url and record["failures"] == []
        expected = {r["rule"]: r for r in record["expected"]["rules"]}
        observed = {i["rule"]: i for i in record["observed"]["incidents"]}
        rules = {r["name"] for r in RULES if r["signal"] == scenario}
        assert set(observed) == set(expected) == rules
        for name, incident in observed.items():
            actions = {a["action"]: a for a in incident["actions"]}
            assert set(actions) == set(expected[name]["actions"])
            for action in actions.values():
                assert action["outcome"] == "ok", action
                assert 0 <= action["recorded_after_s"] <= 20
            escalation = incident["escalation"]
            assert escalation["name"] == "on-call" and escalation["level"] == 1
            assert escalation["delivery"] == "delivered"
            assert escalation["after_deadline_s"] >= 0
            assert escalation["deadline"] == pytest.approx(
                incident["opened_at"] + expected[name]["ack_within_minutes"] * 60
            )
        assert set(record["timings"]) >= {"traffic_s", "incidents_s", "actions_s", "total_s"}
        assert sorted(record["observed"]["cleanup"]["resolved"]) == sorted(observed_ids(record))

    def metrics(scenario: str, rule: str) -> dict[str, float]:
        found = next(i for i in records[scenario]["observed"]["incidents"] if i["rule"] == rule)
        return dict(found["metrics"])

    assert metrics("input_shift", "inputs-drifted")["share_drifted"] == 1.0
    assert metrics("accuracy_drop", "accuracy-fell")["accuracy"] == 0.0
    assert metrics("latency_spike", "slow")["p95_ms"] > 100
    leaky = metrics("suspicious_output", "leaky")
    assert leaky["pii_rate"] == leaky["invalid_rate"] == 1.0 and leaky["ood_rate"] == 0.5
    assert metrics("security_anomaly", "auth-burst")["auth_failures"] == 100
    assert metrics("security_anomaly", "key-abuse")["key_rate_ratio"] > 10
    security = records["security_anomaly"]["observed"]["incidents"]
    key = next(i for i in security if i["rule"] == "key-abuse")
    assert key["subject"].startswith("drill-security_anomaly-") and key["subject"].endswith("-k0")
    # No other signal tripped: suspicious outputs do not read as input drift.
    assert all("not_resolved" not in r["observed"]["cleanup"] for r in records.values())

    # The system is left as the drill found it: incidents resolved, route and mode restored
    # by a human step in the action log.
    assert route["target"] == "primary" and route["degraded_mode"] is False
    assert unresolved == [] and acked == []
    restored = [a["detail"] for a in log if a["action"] == "route"]
    assert sorted("target" in d for d in restored) == [False, True]  # route; degraded mode
    assert any(d.get("degraded_mode") is False for d in restored)
    assert all(d["human"] and d["by"] == "assay drill" for d in restored)
    # Drill traffic can be told apart from real traffic.
    assert ids and all(i.startswith("drill-") for i in ids)
    # The webhooks went out (to the loopback receiver).
    assert {"alert", "retrain", "engineering", "autoscale", "oncall"} <= set(env.sink.kinds())

    # Stored: one drills row each, one evidence attachment each; the readiness check passes.
    assert sorted(d["scenario"] for d in listed) == sorted(DRILL_SCENARIOS)
    assert all(d["passed"] and d["evidence"] for d in listed)
    run = results[0].record["run"]
    attached = env.repo.attachments_of_kind("monitor_drill", limit=50)
    files = {
        f.name: f.sha256
        for a in attached
        for f in a.attachment.files
        if json.loads(env.repo.get(f.sha256))["run"] == run
    }
    assert set(files) == {f"drill-{s}.json" for s in DRILL_SCENARIOS}
    stored = json.loads(env.repo.get(files["drill-latency_spike.json"]))
    assert stored == json.loads(json.dumps(records["latency_spike"]))
    ready = readiness(env.spec, env.repo)
    for scenario in DRILL_SCENARIOS:
        assert ready[scenario].status == Status.PASS, ready[scenario].message
        assert ready[scenario].metrics["drill_passed"] == 1
    assert ready["score_shift"].status == Status.FAIL  # no rule, and no drill scenario


def observed_ids(record: dict[str, Any]) -> list[int]:
    return [int(i["id"]) for i in record["observed"]["incidents"]]


def test_a_drill_fails_when_an_action_cannot_run_and_says_why(env: Env, tmp_path: Path) -> None:
    slow = {**RULES[2], "actions": ["alert", "degraded_mode"]}
    spec = with_rules(env.spec, [slow], webhooks={})  # alert is only a webhook: none is set
    with drilling(env, tmp_path, spec=spec) as (served, target, _):
        [result] = run_drills(spec, served.replica.service.baseline, target, ["latency_spike"])
        route = served.client().get("/v1/route").json()
    record = result.record
    assert not result.passed and result.stored is not None
    [failure] = record["failures"]
    assert "rule slow: action alert failed" in failure
    assert "no webhook set (monitor.webhooks.alert); nothing was sent" in failure
    [incident] = record["observed"]["incidents"]
    outcomes = {a["action"]: a["outcome"] for a in incident["actions"]}
    assert outcomes == {"alert": "failed", "degraded_mode": "ok"}
    assert incident["escalation"]["name"] == "on-call"  # the rest was still verified
    assert route["degraded_mode"] is False  # and cleaned up
    ready = readiness(env.spec, env.repo)
    assert ready["latency_spike"].status == Status.FAIL
    assert "its last drill failed" in ready["latency_spike"].message


def test_an_escalation_that_cannot_be_seen_within_the_timeout_fails_the_drill(
    env: Env, tmp_path: Path
) -> None:
    slow = {**RULES[2], "ack_within_minutes": 600}
    spec = with_rules(env.spec, [slow])
    with drilling(env, tmp_path, spec=spec, clock=ScaledClock(60)) as (served, target, _):
        [result] = run_drills(
            spec, served.replica.service.baseline, target, ["latency_spike"], timeout=20
        )
        unresolved = served.client().get("/v1/incidents", params={"status": "open"}).json()
    record = result.record
    assert not result.passed
    [failure] = record["failures"]
    assert "waiting for the acknowledgement deadline takes" in failure
    assert "at time scale 60" in failure and "--time-scale" in failure
    assert record["timings"]["total_s"] < 20  # it said so at once, without waiting
    [incident] = record["observed"]["incidents"]
    assert {a["outcome"] for a in incident["actions"]} == {"ok"}
    assert incident["escalation"] is None
    assert unresolved == []


def test_a_signal_no_rule_watches_fails_its_scenario_without_traffic(
    env: Env, tmp_path: Path
) -> None:
    spec = with_rules(env.spec, [RULES[0]])
    with drilling(env, tmp_path, spec=spec) as (served, target, _):
        results = run_drills(
            spec, served.replica.service.baseline, target, ["accuracy_drop", "input_shift"]
        )
    assert [r.passed for r in results] == [False, True]
    assert results[0].record["failures"] == [
        "no rule watches accuracy_drop (add one to monitor.rules)"
    ]
    assert results[0].record["observed"]["traffic"]["events"] == 0


def test_an_unresolved_incident_of_the_rule_blocks_the_drill(env: Env, tmp_path: Path) -> None:
    spec = with_rules(env.spec, [RULES[0]])
    with drilling(env, tmp_path, spec=spec) as (served, target, _):
        client = served.client()
        traffic = TrafficGenerator(
            served.replica.service.baseline,
            served.replica.service.monitor,
            seed=5,
            scenario="input_shift",
            run="real",
            normal_latency_ms=20,
        )
        body = {"events": traffic.events(200, now=served.clock.now(), mode="shift")}
        assert client.post("/v1/events", json=body).status_code == 202
        served.replica.service.settle()
        [real] = client.get("/v1/incidents").json()
        [result] = run_drills(spec, served.replica.service.baseline, target, ["input_shift"])
        after = client.get(f"/v1/incidents/{real['id']}").json()["incident"]
    assert not result.passed
    assert f"already has open incident {real['id']} on inputs" in result.record["failures"][0]
    assert result.record["observed"]["traffic"]["events"] == 0
    assert after["status"] == "open"  # the drill does not touch an incident it did not open


def test_a_drill_of_a_service_on_a_scaled_clock_stores_its_record_over_http(
    env: Env, tmp_path: Path
) -> None:
    with drilling(env, tmp_path, clock=ScaledClock(600)) as (served, target, _):
        preflight(target)
        results = run_drills(
            env.spec,
            served.replica.service.baseline,
            target,
            ["input_shift", "accuracy_drop"],
            timeout=60,
            action_deadline=20,
        )
        listed = served.client().get("/v1/drills").json()
        route = served.client().get("/v1/route").json()
    for result in results:
        assert result.passed, result.record["failures"]
        assert result.record["mode"] == "remote" and result.record["time_scale"] == 600
        assert result.stored is not None and result.stored["evidence"]
        assert env.repo.get(result.stored["evidence"])  # attached by the service
        [incident] = result.record["observed"]["incidents"]
        assert incident["escalation"]["delivery"] == "delivered"
    assert sorted(d["scenario"] for d in listed) == ["accuracy_drop", "input_shift"]
    assert route["target"] == "primary"


# ------------------------------------------------------------------------ the routes


def test_drill_and_route_routes_need_an_admin_and_check_their_bodies(
    env: Env, tmp_path: Path
) -> None:
    with drilling(env, tmp_path) as (served, _, _):
        admin, read = served.client(), served.client("read")
        assert read.post("/v1/route", json={"target": "fallback"}).status_code == 403
        assert read.post("/v1/drills", json={}).status_code == 403
        assert admin.post("/v1/route", json={}).status_code == 422
        assert admin.post("/v1/route", json={"target": "sideways"}).status_code == 422
        flipped = admin.post("/v1/route", json={"target": "fallback", "note": "test"})
        assert flipped.status_code == 200 and flipped.json()["target"] == "fallback"
        back = admin.post("/v1/route", json={"target": "primary", "degraded_mode": False})
        assert back.json()["target"] == "primary"
        assert admin.get("/v1/route").json()["target"] == "primary"
        steps = [a for a in admin.get("/v1/actions").json() if a["action"] == "route"]
        bad = admin.post(
            "/v1/drills",
            json={"format": 1, "scenario": "nope", "started": 2.0, "finished": 1.0, "passed": 1},
        )
        good = admin.post(
            "/v1/drills",
            json={"format": 1, "scenario": "input_shift", "started": 1.0, "finished": 2.0,
                  "passed": False, "failures": ["by hand"]},
        )  # fmt: skip
    assert [s["detail"]["target"] for s in steps] == ["primary", "fallback"]  # newest first
    assert steps[1]["detail"] == {
        "human": True,
        "by": "admin-key",
        "note": "test",
        "target": "fallback",
        "previous": {"target": "primary"},
    }
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {"scenario", "finished"}
    assert good.status_code == 201
    assert json.loads(env.repo.get(good.json()["evidence"]))["failures"] == ["by hand"]


# ------------------------------------------------------------------------------ traffic


def test_drill_traffic_is_seeded_and_its_pii_is_found_by_the_scanner(env: Env) -> None:
    monitor = env.spec.monitor
    assert monitor is not None
    baseline = audited_baseline(env)

    def traffic(seed: int) -> list[dict[str, Any]]:
        made = TrafficGenerator(
            baseline,
            monitor,
            seed=seed,
            scenario="suspicious_output",
            run="r1",
            normal_latency_ms=20,
        )
        return made.events(50, now=1.0, suspicious=True)

    first, again, other = traffic(1), traffic(1), traffic(2)
    assert json.dumps(first) == json.dumps(again) and json.dumps(first) != json.dumps(other)
    assert all(e["id"].startswith("drill-suspicious_output-r1-") for e in first)
    assert all(e["session_id"].startswith("drill-suspicious_output-r1-s") for e in first)
    text = pii_text(np.random.default_rng(0), 7)
    kinds = {m.kind for m in scan_text(text)}
    assert {"email", "payment_card"} <= kinds
    assert all(e["output_text"] and scan_text(e["output_text"]) for e in first)
    assert all(e["prediction"] != e["prediction"] for e in first)  # NaN: the model predicts


def audited_baseline(env: Env) -> Any:
    from assay.monitor.server import load_baseline

    baseline, _, _ = load_baseline(env.spec, env.repo.path)
    return baseline


def test_a_rehearsal_points_every_webhook_at_the_receiver(env: Env) -> None:
    rehearsed = rehearsal_spec(env.spec, "http://127.0.0.1:1")
    monitor = rehearsed.monitor
    assert monitor is not None
    hooks = monitor.webhooks.model_dump()
    assert hooks["alert"] == "http://127.0.0.1:1/hook/alert"
    assert all(url is None or url.startswith("http://127.0.0.1:1/hook/") for url in hooks.values())
    assert [lv.webhook for lv in monitor.escalation] == [
        "http://127.0.0.1:1/hook/escalation-1",
        "http://127.0.0.1:1/hook/escalation-2",
    ]
    assert monitor.autoscale_command == [sys.executable, "-c", "pass"]
    assert env.spec.monitor is not None and env.spec.monitor.webhooks.alert != hooks["alert"]


# ------------------------------------------------------------------------ command line


def spec_file(env: Env, name: str, rules: Sequence[Mapping[str, Any]]) -> Path:
    path = env.folder / name
    document = spec_document(rules=rules, monitor=monitor_section("https://hooks.invalid"))
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def drill_cli(env: Env, spec: Path, *args: object, key: str | None = None) -> Any:
    return invoke(
        "monitor",
        "drill",
        "--spec",
        spec,
        "--repo",
        env.repo.path,
        *args,
        env={"ASSAY_MONITOR_KEY": key or ""},
    )


def test_the_command_drills_in_process_and_exits_0_when_the_drill_passes(
    env: Env, tmp_path: Path
) -> None:
    spec = spec_file(env, "drill.yaml", RULES)
    out = tmp_path / "drills.json"
    result = drill_cli(env, spec, "--scenario", "input_shift", "--json", out)
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "drill input_shift: PASS" in text
    assert "ok" in row(result.stdout, "action route_fallback")
    assert "on-call (level 1), 1 s after the deadline, delivered" in row(
        result.stdout, "escalate to on-call after 5 min"
    )
    assert "cleanup: resolved incident(s) 1; restored target=primary" in text
    assert "PASS: 1 drill(s) passed" in text
    written = json.loads(out.read_text())
    assert written["passed"] is True and written["drills"][0]["mode"] == "in-process"
    assert written["stored"][0]["evidence"]


def row(text: str, needle: str) -> str:
    """The table row (line) of ``text`` holding ``needle``."""
    return next(line for line in text.splitlines() if needle in line)


def test_the_command_exits_1_when_a_drill_fails(env: Env) -> None:
    spec = spec_file(env, "no-accuracy.yaml", [RULES[0]])
    result = drill_cli(env, spec, "--scenario", "accuracy_drop")
    assert result.exit_code == 1, result.output
    text = flat(result.stdout)
    assert "drill accuracy_drop: FAIL" in text
    assert "no rule watches accuracy_drop" in text
    assert "FAIL: 1 drill(s) failed: accuracy_drop" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("args", "key", "message"),
    [
        (["--scenario", "drift"], None, "--scenario 'drift': unknown scenario 'drift'"),
        (["--timeout", "0"], None, "--timeout and --action-deadline must be positive"),
        (["--url", "http://127.0.0.1:9"], None, "$ASSAY_MONITOR_KEY is not set"),
        (["--url", "PORT"], "amk_x", "cannot reach the monitor at http://127.0.0.1:"),
        (["--url", "http://x", "--db", "m.db"], "amk_x", "--db is for in-process drills"),
    ],
)
def test_the_command_exits_2_on_bad_input(
    env: Env, args: list[str], key: str | None, message: str
) -> None:
    spec = spec_file(env, "drill.yaml", RULES)
    args = [f"http://127.0.0.1:{_free_port()}" if a == "PORT" else a for a in args]
    assert message in error_of(drill_cli(env, spec, *args, key=key))


def test_the_command_refuses_a_key_that_is_not_an_admin_key(env: Env, tmp_path: Path) -> None:
    spec = spec_file(env, "drill.yaml", RULES)
    with drilling(env, tmp_path) as (served, _, _):
        message = error_of(drill_cli(env, spec, "--url", served.url, key=served.keys["read"]))
        unknown = error_of(drill_cli(env, spec, "--url", served.url, key="amk_x"))
    assert "this needs 'admin'" in message and "give it an admin key" in message
    assert "refuses the key" in unknown


def test_preflight_names_an_unreachable_service() -> None:
    target = Target(f"http://127.0.0.1:{_free_port()}", "amk_x", WallTime(1.0))
    with pytest.raises(DrillSetupError, match="cannot reach the monitor") as caught:
        preflight(target)
    assert "Is `assay monitor serve` running there?" in str(caught.value)
    assert caught.value.exit_code == 2
