"""Automated actions: every action's effect, its record, idempotency, and the payloads a real
receiver gets. Database tests run on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from _actions_support import T0, Receiver, add_events, database, monitor, obs, receiver, rows
from sqlalchemy import Engine, insert, select

from assay._vocabulary import Severity
from assay.evidence import Repository
from assay.monitor import actions as act
from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.clock import ManualClock
from assay.monitor.store import schema
from assay.run import Artefact, Run, compute_verdict, sha256_hex
from assay.spec.monitor import Monitor

ALL = [
    "snapshot",
    "alert",
    "retrain",
    "route_fallback",
    "notify_engineering",
    "autoscale",
    "degraded_mode",
    "quarantine_sessions",
    "revoke_keys",
    "forensic_logging",
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(db_url)
    schema.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as hook:
        yield hook


def wired(hook: Receiver | None, actions: list[str] = ALL, **extra: Any) -> Monitor:
    section: dict[str, Any] = {
        "rules": [
            {
                "name": "abuse",
                "signal": "security_anomaly",
                "when": "key_rate_ratio > 5",
                "severity": "blocker",
                "owner": "security@example.com",
                "runbook": "https://wiki.example.com/abuse",
                "actions": actions,
            }
        ],
        "fallback": {"url": "http://127.0.0.1:9/fallback"},
        "forensic_minutes": 30,
    }
    if hook is not None:
        section["webhooks"] = {
            "alert": hook.url("/alert"),
            "retrain": hook.url("/retrain"),
            "engineering": hook.url("/eng"),
            "autoscale": hook.url("/autoscale"),
            "keys_revoked": hook.url("/keys"),
        }
    section.update(extra)
    return monitor(**section)


def abuse(**kw: Any) -> Any:
    values: dict[str, Any] = {
        "metrics": {"key_rate_ratio": 12.0, "auth_failures": 3.0},
        "subject": "keys",
        "window": "events=1000",
        "sessions": ("s1", "s2"),
        "keys": ("k_bad",),
        "event_ids": ("e0", "e1", "e2"),
    }
    values.update(kw)
    return obs("security_anomaly", **values)


class Sink:
    def __init__(self) -> None:
        self.files: list[tuple[str, bytes]] = []

    def __call__(self, name: str, data: bytes) -> str:
        self.files.append((name, data))
        return f"stored-{len(self.files)}"

    def records(self, index: int = -1) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.files[index][1].splitlines()]


def sample_events(engine: Engine) -> None:
    add_events(
        engine,
        [
            {
                "session_id": "s1",
                "key_id": "k_bad",
                "features": {
                    "email": "jo.doe@example.com",
                    "age": 41,
                    "note": "call +1 415 555 2671",
                },
                "prediction": 1.0,
                "score": 0.9,
                "latency_ms": 12.5,
                "output_text": "Sure, mail jo.doe@example.com for the refund",
            },
            {"session_id": "s2", "key_id": "k_bad", "features": {"age": 33}, "prediction": 0.0},
            {"session_id": "s3", "features": {"age": 50}, "output_text": "nothing personal"},
            {"session_id": "s9", "features": {"age": 20}},  # outside the window's ids
        ],
    )
    with engine.begin() as conn:
        conn.execute(insert(schema.labels).values(event_id="e0", label=1.0, ts=T0))


def keys_of(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(schema.actions.c.key).order_by(schema.actions.c.seq)).scalars()
        )


def deliver(engine: Engine, now: float) -> list[webhooks.Delivery]:
    with httpx.Client(timeout=5.0) as client:
        return webhooks.deliver_due(engine, now, client=client)


def test_every_action_makes_its_effect_and_records_it(engine: Engine, hook: Receiver) -> None:
    sample_events(engine)
    sink = Sink()
    runner = act.ActionRunner(
        wired(hook),
        default_owner="ops",
        snapshot_sink=sink,
        incident_url="https://monitor.example.com/incidents/{id}",
        command_timeout=10,
    )
    mon = runner.monitor
    fired = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0)
    incident = fired.incident
    assert fired.opened and incident.owner == "security@example.com"
    i = incident.id
    assert keys_of(engine) == [
        f"{i}:snapshot",
        f"{i}:alert",
        f"{i}:retrain",
        f"{i}:route_fallback",
        f"{i}:notify_engineering",
        f"{i}:autoscale:webhook",
        f"{i}:degraded_mode",
        f"{i}:quarantine_sessions:s1",
        f"{i}:quarantine_sessions:s2",
        f"{i}:revoke_keys:k_bad",
        f"{i}:forensic_logging:k_bad",
    ]
    outcomes = {r.key: r.outcome for r in fired.actions}
    webhook_actions = {
        "alert",
        "retrain",
        "notify_engineering",
        "autoscale:webhook",
        "revoke_keys:k_bad",
    }
    for key, outcome in outcomes.items():
        short = key.split(":", 1)[1]
        assert outcome == ("running" if short in webhook_actions else "ok"), key

    # snapshot: the window's three events, masked, stored and recorded
    (name, _), records = sink.files[0], sink.records()
    assert name == f"snapshot-incident-{i}-abuse-{int(T0)}.jsonl"
    assert [r["id"] for r in records] == ["e0", "e1", "e2"]
    assert records[0]["output_text"] == "Sure, mail [EMAIL] for the refund"
    assert records[0]["features"] == {"email": "[EMAIL]", "age": 41, "note": "call [PHONE]"}
    assert (records[0]["label"], records[1]["label"], records[0]["latency_ms"]) == (1.0, None, 12.5)
    (snap,) = rows(engine, schema.snapshots)
    assert (snap.incident_id, snap.ts, snap.events) == (i, T0, 3)
    assert snap.evidence == sha256_hex(sink.files[0][1])

    # retrain: a queued job citing the snapshot
    (job,) = rows(engine, schema.jobs)
    payload = json.loads(job.payload)
    assert (job.kind, job.status, job.incident_id) == ("retrain", "queued", i)
    assert payload["evidence"]["snapshots"] == [{"sha256": snap.evidence, "events": 3, "ts": T0}]
    assert payload["window"] == {"key": "events=1000", "start": T0 - 60, "end": T0, "n": 1000}
    assert payload["rule"] == "abuse" and payload["evidence"]["baseline"] == "approved"

    # flags, quarantine, revocation, forensic capture
    with engine.connect() as conn:
        flags = {r.name: json.loads(r.value) for r in conn.execute(select(schema.flags))}
    assert flags == {
        "route": {"target": "fallback", "since": T0, "incident": i},
        "degraded_mode": True,
    }
    assert {(r.session_id, r.incident_id, r.since) for r in rows(engine, schema.quarantine)} == {
        ("s1", i, T0),
        ("s2", i, T0),
    }
    (revoked,) = rows(engine, schema.revoked_keys)
    assert (revoked.key_id, revoked.revoked_at, revoked.incident_id) == ("k_bad", T0, i)
    assert revoked.reason == f"incident {i}: rule abuse (key_rate_ratio > 5) on keys"
    (capture,) = rows(engine, schema.forensic)
    assert (capture.key_id, capture.until, capture.incident_id) == ("k_bad", T0 + 30 * 60, i)

    # the webhooks, delivered to a real receiver
    delivered = deliver(engine, T0)
    assert {d.status for d in delivered} == {"delivered"}
    assert {r.path for r in hook.received} == {"/alert", "/retrain", "/eng", "/autoscale", "/keys"}
    (alerts,) = hook.bodies("/alert")
    (alert,) = alerts
    assert alert["labels"] == {
        "alertname": "abuse",
        "severity": "blocker",
        "rule": "abuse",
        "signal": "security_anomaly",
        "subject": "keys",
        "owner": "security@example.com",
    }
    assert alert["startsAt"] == "2027-01-15T08:00:00.000Z"
    assert "endsAt" not in alert
    assert alert["generatorURL"] == f"https://monitor.example.com/incidents/{i}"
    assert alert["annotations"]["summary"] == (
        "security_anomaly on keys: key_rate_ratio = 12 (rule abuse: key_rate_ratio > 5)"
    )
    assert alert["annotations"]["runbook_url"] == "https://wiki.example.com/abuse"
    assert "auth_failures=3, key_rate_ratio=12" in alert["annotations"]["description"]
    (retrain,) = hook.bodies("/retrain")
    assert retrain["job"]["id"] == job.id and retrain["job"]["status"] == "queued"
    (keys,) = hook.bodies("/keys")
    assert (keys["kind"], keys["key_id"], keys["reason"]) == (
        "assay.keys_revoked",
        "k_bad",
        revoked.reason,
    )
    (scale,) = hook.bodies("/autoscale")
    assert (scale["kind"], scale["direction"]) == ("assay.autoscale", "up")
    (eng,) = hook.bodies("/eng")
    assert eng["text"].startswith("[BLOCKER] security_anomaly on keys")
    assert eng["incident"]["url"] == f"https://monitor.example.com/incidents/{i}"

    with engine.connect() as conn:
        full = inc.get_incident(conn, i)
    assert {a.outcome for a in full.actions} == {"ok"}
    action_lines = [e.detail for e in full.timeline if e.kind == "action"]
    assert {"snapshot", "alert", "quarantine_sessions", "revoke_keys"} <= {
        d.get("action") for d in action_lines
    }
    quarantined = next(d for d in action_lines if d.get("action") == "quarantine_sessions")
    assert quarantined["sessions"] == ["s1", "s2"]


def test_running_a_firing_again_duplicates_nothing(engine: Engine, hook: Receiver) -> None:
    sample_events(engine)
    sink = Sink()
    runner = act.ActionRunner(wired(hook), snapshot_sink=sink)
    rule = runner.monitor.rule("abuse")
    first = runner.fire(engine, rule, abuse(), now=T0)
    counts = {t.name: len(rows(engine, t)) for t in (schema.actions, schema.outbox, schema.jobs)}

    again = runner.fire(engine, rule, abuse(), now=T0 + 5)
    assert again.incident.id == first.incident.id and not again.opened
    assert again.incident.fired == 2
    assert all(r.done_before for r in again.actions)
    assert {t.name: len(rows(engine, t)) for t in (schema.actions, schema.outbox, schema.jobs)} == (
        counts
    )
    assert len(sink.files) == 1 and len(rows(engine, schema.snapshots)) == 1

    # a later window names a new session and a new key: only those are acted on
    later = runner.fire(
        engine, rule, abuse(sessions=("s2", "s3"), keys=("k_bad", "k_new")), now=T0 + 60
    )
    fresh = [r.key for r in later.actions if not r.done_before]
    i = first.incident.id
    assert fresh == [
        f"{i}:quarantine_sessions:s3",
        f"{i}:revoke_keys:k_new",
        f"{i}:forensic_logging:k_new",
    ]
    assert len(rows(engine, schema.outbox)) == counts["outbox"] + 1  # the new key's webhook
    assert {r.key_id for r in rows(engine, schema.revoked_keys)} == {"k_bad", "k_new"}


def test_missing_webhooks_still_make_local_effects(engine: Engine) -> None:
    runner = act.ActionRunner(wired(None), snapshot_sink=Sink())
    result = runner.fire(engine, runner.monitor.rule("abuse"), abuse(), now=T0)
    by_action = {r.key.split(":", 1)[1]: r for r in result.actions}
    assert by_action["alert"].outcome == "failed"
    assert by_action["alert"].detail["error"] == (
        "no webhook set (monitor.webhooks.alert); nothing was sent"
    )
    assert by_action["alert"].detail["payload"][0]["labels"]["alertname"] == "abuse"
    assert by_action["notify_engineering"].outcome == "failed"
    assert by_action["retrain"].outcome == "ok"
    assert by_action["retrain"].detail["webhook"] is None
    assert "no webhook set (monitor.webhooks.retrain)" in by_action["retrain"].detail["note"]
    assert len(rows(engine, schema.jobs)) == 1
    revoke = by_action["revoke_keys:k_bad"]
    assert (revoke.outcome, revoke.detail["webhook"]) == ("ok", None)
    assert "no webhook set (monitor.webhooks.keys_revoked)" in revoke.detail["note"]
    assert len(rows(engine, schema.revoked_keys)) == 1
    autoscale = by_action["autoscale"]
    assert autoscale.outcome == "failed"
    assert (
        "neither monitor.webhooks.autoscale nor monitor.autoscale_command"
        in autoscale.detail["error"]
    )
    assert rows(engine, schema.outbox) == []


def test_an_observation_without_sessions_or_keys_is_recorded(engine: Engine) -> None:
    runner = act.ActionRunner(
        wired(None, ["quarantine_sessions", "revoke_keys", "forensic_logging"])
    )
    result = runner.fire(engine, runner.monitor.rule("abuse"), abuse(sessions=(), keys=()), now=T0)
    i = result.incident.id
    assert [(r.key, r.outcome) for r in result.actions] == [
        (f"{i}:quarantine_sessions", "ok"),
        (f"{i}:revoke_keys", "ok"),
        (f"{i}:forensic_logging", "ok"),
    ]
    assert result.actions[0].detail["note"] == "the observation named no sessions; nothing to do"
    assert rows(engine, schema.quarantine) == [] and rows(engine, schema.revoked_keys) == []


def test_state_already_set_by_another_incident_is_kept(engine: Engine) -> None:
    mon = wired(
        None,
        [
            "route_fallback",
            "degraded_mode",
            "quarantine_sessions",
            "forensic_logging",
            "revoke_keys",
        ],
    )
    runner = act.ActionRunner(mon)
    clock = ManualClock(T0)
    first = runner.fire(engine, mon.rule("abuse"), abuse(subject="a"), now=clock.now())
    with engine.begin() as conn:  # a human releases s2
        conn.execute(
            sqlalchemy.update(schema.quarantine)
            .where(schema.quarantine.c.session_id == "s2")
            .values(released_at=T0 + 30)
        )
    clock.advance(10 * 60)
    second = runner.fire(engine, mon.rule("abuse"), abuse(subject="b"), now=clock.now())
    assert second.incident.id != first.incident.id
    details = {r.key.split(":", 1)[1]: r.detail for r in second.actions}
    assert details["route_fallback"]["note"] == (
        f"already on the fallback since 2027-01-15T08:00:00.000Z (incident {first.incident.id})"
    )
    assert details["degraded_mode"]["note"] == "degraded mode was already on"
    assert details["quarantine_sessions:s1"]["note"].startswith("already quarantined since")
    assert details["quarantine_sessions:s2"]["note"] == (
        "quarantined again (released at 2027-01-15T08:00:30.000Z)"
    )
    assert details["revoke_keys:k_bad"]["note"].startswith("already revoked at")
    assert details["forensic_logging:k_bad"]["previous_until"] == T0 + 30 * 60
    with engine.connect() as conn:
        route = conn.execute(
            select(schema.flags.c.value).where(schema.flags.c.name == "route")
        ).scalar()
        q = {r.session_id: r for r in conn.execute(select(schema.quarantine))}
        (capture,) = conn.execute(select(schema.forensic)).all()
    assert json.loads(route or "null")["since"] == T0  # kept, not moved
    assert (q["s1"].incident_id, q["s2"].incident_id, q["s2"].released_at) == (
        first.incident.id,
        second.incident.id,
        None,
    )
    assert capture.until == clock.now() + 30 * 60  # extended, never shortened
    assert len(rows(engine, schema.revoked_keys)) == 1


# ----------------------------------------------------------------------------- snapshots


def test_snapshots_keep_text_verbatim_when_masking_is_off(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        sample_events(engine)
        sink = Sink()
        runner = act.ActionRunner(
            wired(None, ["snapshot"], mask_snapshots=False), snapshot_sink=sink
        )
        (result,) = runner.fire(engine, runner.monitor.rule("abuse"), abuse(), now=T0).actions
        assert result.detail["masked"] is False
        assert sink.records()[0]["output_text"] == "Sure, mail jo.doe@example.com for the refund"


def test_a_snapshot_without_event_ids_takes_the_time_range(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        sample_events(engine)  # e0…e3 at T0-30 … T0-27
        sink = Sink()
        runner = act.ActionRunner(
            wired(None, ["snapshot"]), snapshot_sink=sink, mask_method="partial"
        )
        window = abuse(event_ids=(), start=T0 - 29, end=T0 - 28)
        runner.fire(engine, runner.monitor.rule("abuse"), window, now=T0)
        assert [r["id"] for r in sink.records()] == ["e1", "e2"]


def test_a_snapshot_with_no_events_is_still_stored(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        sink = Sink()
        runner = act.ActionRunner(wired(None, ["snapshot"]), snapshot_sink=sink)
        (result,) = runner.fire(engine, runner.monitor.rule("abuse"), abuse(), now=T0).actions
        assert (result.outcome, result.detail["events"], sink.files[0][1]) == ("ok", 0, b"")
        assert "no stored events" in result.detail["note"]


def test_a_failed_snapshot_is_retried_by_the_next_firing(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        sample_events(engine)
        mon = wired(None, ["snapshot", "retrain"])
        runner = act.ActionRunner(mon, max_local_attempts=2)
        first = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0)
        snap = first.actions[0]
        assert (snap.outcome, snap.detail["retryable"]) == ("failed", True)
        assert snap.detail["error"].startswith("no snapshot sink is configured")
        assert json.loads(rows(engine, schema.jobs)[0].payload)["evidence"]["snapshots"] == []

        sink = Sink()
        runner.snapshot_sink = sink
        second = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 60)
        snap = second.actions[0]
        assert (snap.outcome, snap.done_before, snap.detail["events"]) == ("ok", False, 3)
        (row,) = [r for r in rows(engine, schema.actions) if r.action == "snapshot"]
        assert (row.attempts, row.outcome, row.finished) == (2, "ok", T0 + 60)
        assert second.actions[1].done_before  # the retrain job is not queued twice

        def broken(name: str, data: bytes) -> str:
            raise OSError("disk full")

        # attempts are capped: a third failure would not be retried
        with engine.begin() as conn:
            conn.execute(sqlalchemy.delete(schema.snapshots))
            conn.execute(
                sqlalchemy.update(schema.actions)
                .where(schema.actions.c.action == "snapshot")
                .values(outcome="failed", detail=json.dumps({"retryable": True}))
            )
        runner.snapshot_sink = broken
        third = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 120)
        assert third.actions[0].done_before and third.actions[0].outcome == "failed"


def test_a_sink_error_is_the_snapshots_outcome(tmp_path: Path) -> None:
    def broken(name: str, data: bytes) -> str:
        raise OSError("disk full")

    with database(tmp_path) as engine:
        runner = act.ActionRunner(wired(None, ["snapshot"]), snapshot_sink=broken)
        (result,) = runner.fire(engine, runner.monitor.rule("abuse"), abuse(), now=T0).actions
        assert (result.outcome, result.detail["error"]) == ("failed", "OSError: disk full")
        assert rows(engine, schema.snapshots) == []


def test_a_stale_running_snapshot_is_taken_again(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        mon = wired(None, ["snapshot"])
        sink = Sink()
        runner = act.ActionRunner(mon, snapshot_sink=sink, stale_after=300)
        with engine.begin() as conn:  # a crash left the claim behind
            incident = inc.open_or_update(
                conn, mon.rule("abuse"), abuse(), now=T0, default_owner="o"
            )
            conn.execute(
                insert(schema.actions).values(
                    key=f"{incident.incident.id}:snapshot",
                    incident_id=incident.incident.id,
                    rule="abuse",
                    action="snapshot",
                    started=T0,
                    outcome="running",
                    attempts=1,
                    detail="{}",
                )
            )
        assert runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 299).actions[0].done_before
        assert sink.files == []
        result = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 300).actions[0]
        assert (result.outcome, result.done_before) == ("ok", False)
        assert len(sink.files) == 1


def test_snapshots_attach_to_the_evidence_repository(tmp_path: Path) -> None:
    repo = Repository.open(tmp_path / ".assay")
    run = Run(
        created="2027-01-01T00:00:00Z",
        tool_version="0.1.0",
        system={"name": "credit-model", "version": "1.0"},
        seed=0,
        spec_sha256="ab" * 32,
        inputs=[],
        environment={"python": "3.11"},
        findings=[],
        verdict=compute_verdict([], Severity.MAJOR),
        artefacts=list[Artefact](),
    )
    stored = repo.store_run(run, blobs={})
    with database(tmp_path) as engine:
        sample_events(engine)
        sink = act.repository_sink(repo, stored.id)
        runner = act.ActionRunner(wired(None, ["snapshot"]), snapshot_sink=sink)
        (result,) = runner.fire(engine, runner.monitor.rule("abuse"), abuse(), now=T0).actions
        assert result.outcome == "ok"
        attached = repo.latest_attachment(stored.id, "monitor_snapshot")
        assert attached is not None and attached.id == result.detail["evidence"]
        (stored_file,) = attached.attachment.files
        assert stored_file.media_type == "application/x-ndjson"
        assert (
            stored_file.sha256
            == result.detail["sha256"]
            == rows(engine, schema.snapshots)[0].evidence
        )
        lines = repo.get(stored_file.sha256).splitlines()
        assert [json.loads(line)["id"] for line in lines] == ["e0", "e1", "e2"]
        assert repo.verify().ok


# ----------------------------------------------------------------------------- autoscale

SCRIPT = """\
import json, os, sys
with open(sys.argv[1], "w") as out:
    json.dump({k: v for k, v in os.environ.items() if k.startswith("ASSAY_")}, out)
print("scaled to 4 replicas")
sys.exit(int(sys.argv[2]))
"""


def test_the_autoscale_command_runs_with_the_incident_in_its_environment(tmp_path: Path) -> None:
    script, out = tmp_path / "scale.py", tmp_path / "env.json"
    script.write_text(SCRIPT)
    with database(tmp_path) as engine:
        mon = wired(
            None, ["autoscale"], autoscale_command=[sys.executable, str(script), str(out), "0"]
        )
        runner = act.ActionRunner(mon)
        result = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0)
        (command,) = result.actions
        assert command.key == f"{result.incident.id}:autoscale:command"
        assert (command.outcome, command.detail["exit_code"]) == ("ok", 0)
        assert command.detail["stdout"] == "scaled to 4 replicas\n"
        env = json.loads(out.read_text())
        assert env["ASSAY_INCIDENT"] == str(result.incident.id)
        assert (env["ASSAY_RULE"], env["ASSAY_SIGNAL"], env["ASSAY_SEVERITY"]) == (
            "abuse",
            "security_anomaly",
            "blocker",
        )
        assert json.loads(env["ASSAY_METRICS"]) == {"key_rate_ratio": 12.0, "auth_failures": 3.0}
        # idempotent: not run again for the same incident
        out.unlink()
        assert runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 5).actions[0].done_before
        assert not out.exists()


def test_a_failing_autoscale_command_is_recorded_and_retried(tmp_path: Path) -> None:
    script, out = tmp_path / "scale.py", tmp_path / "env.json"
    script.write_text(SCRIPT)
    with database(tmp_path) as engine, receiver() as hook:
        mon = wired(
            hook,
            ["autoscale"],
            autoscale_command=[sys.executable, str(script), str(out), "3"],
        )
        runner = act.ActionRunner(mon, max_local_attempts=2)
        first = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0)
        webhook, command = first.actions
        assert webhook.key.endswith(":autoscale:webhook") and webhook.outcome == "running"
        assert (command.outcome, command.detail["exit_code"]) == ("failed", 3)
        assert command.detail["error"] == "the command exited with 3"
        second = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 60)
        assert second.actions[0].done_before  # the webhook is not queued again
        assert (second.actions[1].done_before, second.actions[1].outcome) == (False, "failed")
        third = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0 + 120)
        assert third.actions[1].done_before  # two attempts were allowed
        assert len(rows(engine, schema.outbox)) == 1


def test_a_hanging_or_missing_command_fails_cleanly_and_no_shell_runs(tmp_path: Path) -> None:
    with database(tmp_path) as engine:
        hang = wired(
            None,
            ["autoscale"],
            autoscale_command=[sys.executable, "-c", "import time; time.sleep(30)"],
        )
        runner = act.ActionRunner(hang, command_timeout=0.5)
        (result,) = runner.fire(engine, hang.rule("abuse"), abuse(subject="a"), now=T0).actions
        assert result.outcome == "failed"
        assert result.detail["error"] == "the command did not finish within 0.5 s; it was killed"
        assert result.detail["seconds"] < 10

        missing = wired(None, ["autoscale"], autoscale_command=[str(tmp_path / "no-such-tool")])
        runner = act.ActionRunner(missing)
        (result,) = runner.fire(engine, missing.rule("abuse"), abuse(subject="b"), now=T0).actions
        assert result.outcome == "failed"
        assert result.detail["error"].startswith("the command could not start")

        marker = tmp_path / "pwned"
        shell = wired(None, ["autoscale"], autoscale_command=["echo", f"x; touch {marker}"])
        runner = act.ActionRunner(shell)
        (result,) = runner.fire(engine, shell.rule("abuse"), abuse(subject="c"), now=T0).actions
        assert result.outcome == "ok"
        assert result.detail["stdout"] == f"x; touch {marker}\n"
        assert not marker.exists()


# -------------------------------------------------------------------------------- alerts


def test_alerts_are_refreshed_for_alertmanager_while_the_incident_is_unresolved(
    engine: Engine, hook: Receiver
) -> None:
    mon = wired(hook, ["alert"])
    runner = act.ActionRunner(mon)
    incident = runner.fire(engine, mon.rule("abuse"), abuse(), now=T0).incident

    def resend(now: float) -> list[int]:
        with engine.begin() as conn:
            return act.resend_alerts(conn, mon, now, every=60)

    assert resend(T0 + 120) == []  # the first post is still pending
    deliver(engine, T0 + 1)
    assert resend(T0 + 30) == []  # posted 30 s ago
    assert len(resend(T0 + 61)) == 1
    assert resend(T0 + 200) == []  # the refresh is pending
    deliver(engine, T0 + 200)
    first, refresh = hook.bodies("/alert")
    assert refresh[0]["labels"] == first[0]["labels"]
    assert refresh[0]["startsAt"] == first[0]["startsAt"]
    with engine.connect() as conn:
        timeline = inc.timeline_of(conn, incident.id)
    assert all(e.detail.get("webhook") != "alert_refresh" for e in timeline)

    with engine.begin() as conn:
        inc.resolve(conn, incident.id, "ada", T0 + 300, monitor=mon)
    assert resend(T0 + 1000) == []
    deliver(engine, T0 + 300)
    resolved = hook.bodies("/alert")[-1][0]
    assert resolved["endsAt"] == "2027-01-15T08:05:00.000Z"


def test_handle_fires_every_matching_rule(engine: Engine) -> None:
    mon = monitor(
        rules=[
            {
                "name": "a",
                "signal": "input_shift",
                "when": "share_drifted > 0.2",
                "actions": ["degraded_mode"],
            },
            {"name": "b", "signal": "input_shift", "when": "share_drifted > 0.4"},
            {"name": "c", "signal": "input_shift", "when": "share_drifted > 0.9"},
        ]
    )
    runner = act.ActionRunner(mon, default_owner="monitoring-team")
    fired = runner.handle(engine, obs(metrics={"share_drifted": 0.5}), now=T0)
    assert [(f.incident.rule, f.incident.owner, len(f.actions)) for f in fired] == [
        ("a", "monitoring-team", 1),
        ("b", "monitoring-team", 0),
    ]
    with engine.connect() as conn:
        assert [i.rule for i in inc.list_incidents(conn)] == ["b", "a"]
