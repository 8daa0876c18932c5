"""The whole monitor over HTTP: an audited baseline, a replica on loopback, real databases.

Drifted traffic opens an incident and runs its actions (snapshot into the evidence
repository, a retraining job, the route flipped); nobody acknowledges, so it escalates when the
clock passes the deadline; bad input gets a 4xx that names the problem; roles are enforced.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from _service_support import audited, events, serving

from assay.monitor.clock import ManualClock
from assay.monitor.store.db import Database


def _wait(predicate, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_drift_opens_an_incident_runs_actions_and_escalates(tmp_path: Path, db: Database) -> None:
    spec, repo, run_id = audited(tmp_path)
    clock = ManualClock()
    with serving(spec, repo, db, clock=clock) as served:
        ingest, admin = served.client("ingest"), served.client("admin")
        calm = ingest.post("/v1/events", json=events(0, 500))
        assert calm.status_code == 202, calm.text
        assert calm.json() == {"accepted": 500, "duplicates": 0, "held_for_review": 0}
        served.replica.service.settle()
        assert admin.get("/v1/incidents").json() == []  # unshifted traffic: no incident

        drifted = ingest.post("/v1/events", json=events(500, 500, shift=30))
        assert drifted.status_code == 202
        served.replica.service.settle()
        incidents = admin.get("/v1/incidents").json()
        assert [(i["rule"], i["status"], i["level"]) for i in incidents] == [
            ("inputs-drifted", "open", 0)
        ]
        incident = incidents[0]
        assert incident["owner"] == "ml@example.com"
        actions = {a["action"]: a for a in admin.get("/v1/actions").json()}
        assert {a: actions[a]["outcome"] for a in actions} == {
            "snapshot": "ok",
            "retrain": "ok",
            "route_fallback": "ok",
        }
        assert admin.get("/v1/route").json()["target"] == "fallback"
        jobs = admin.get("/v1/jobs").json()
        assert [j["kind"] for j in jobs] == ["retrain"]
        snapshots = served.replica.evidence.attachments_of_kind("monitor_snapshot")
        assert len(snapshots) == 1 and snapshots[0].attachment.run == run_id
        # In the evidence folder too: at once on SQLite; on PostgreSQL (shared evidence) once
        # the lease holder has replayed it into the folder's ledger.
        _wait(lambda: len(repo.attachments_of_kind("monitor_snapshot")) == 1)
        assert repo.verify().ok

        # Nobody acknowledges: once the clock passes the deadline, the first level is paged.
        clock.advance(61)

        def escalated() -> bool:
            detail = admin.get(f"/v1/incidents/{incident['id']}").json()
            return any(e["kind"] == "escalation" for e in detail["timeline"])

        _wait(escalated)
        acked = admin.post(f"/v1/incidents/{incident['id']}/ack", json={})
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        assert acked.json()["acked_by"] == "admin-key"
        resolved = admin.post(f"/v1/incidents/{incident['id']}/resolve", json={"note": "rolled"})
        assert resolved.json()["status"] == "resolved"
        assert admin.post(f"/v1/incidents/{incident['id']}/resolve", json={}).status_code == 409
        assert admin.post("/v1/incidents/999/ack", json={}).status_code == 404

        metrics = served.client("read").get("/metrics")
        assert metrics.status_code == 200
        assert 'assay_monitor_signal{metric="share_drifted"' in metrics.text
        assert "assay_monitor_events_stored_total 1000.0" in metrics.text
        stored = served.client("read").get("/v1/events", params={"limit": 3}).json()
        assert [e["id"] for e in stored] == ["e997", "e998", "e999"]
        assert set(stored[0]["features"]) == {"age", "income", "region"}
        by_session = served.client("read").get("/v1/events", params={"session_id": "s3"})
        assert {e["session_id"] for e in by_session.json()} == {"s3"}
        summary = served.client("read").get("/v1/summary").json()
        assert summary["route"]["target"] == "fallback"
        assert summary["stats"]["events_stored"] == 1000


def test_bad_input_gets_a_clear_4xx_and_nothing_is_stored(tmp_path: Path, db: Database) -> None:
    spec, repo, _ = audited(tmp_path, monitor={"model_versions": ["1"]})
    with serving(spec, repo, db) as served:
        ingest = served.client("ingest")
        wrong_type = ingest.post("/v1/events", content=b'{"events": [{"id": 1}]}')
        assert wrong_type.status_code == 422
        fields = {p["field"] for p in wrong_type.json()["problems"]}
        assert {"events[0].id", "events[0].timestamp", "events[0].features"} <= fields
        assert ingest.post("/v1/events", content=b"\xff\xfe{}").status_code == 400
        assert "not UTF-8" in ingest.post("/v1/events", content=b"\xff").json()["error"]
        assert ingest.post("/v1/events", content=b"{not json").status_code == 422
        body = events(0, 3)
        body["events"][1]["model_version"] = "9"
        unknown = ingest.post("/v1/events", json=body)
        assert unknown.status_code == 422
        assert unknown.json()["problems"][0]["field"] == "events[1].model_version"
        too_many = ingest.post("/v1/events", json=events(0, 5001))
        assert too_many.status_code == 413
        assert "at most 5000" in too_many.json()["error"]
        with db.connect() as conn:
            from assay.monitor.store.traffic import count_events

            assert count_events(conn) == 0  # nothing half-written
        # duplicates are counted, not stored twice
        assert ingest.post("/v1/events", json=events(0, 10)).json()["accepted"] == 10
        again = ingest.post("/v1/events", json=events(5, 10)).json()
        assert again == {"accepted": 5, "duplicates": 5, "held_for_review": 0}


def test_keys_and_roles_are_enforced(tmp_path: Path, db: Database) -> None:
    spec, repo, _ = audited(tmp_path)
    with serving(spec, repo, db) as served:
        anonymous = served.client("admin")
        anonymous.headers.pop("Authorization")
        missing = anonymous.get("/v1/incidents")
        assert missing.status_code == 401 and "no API key" in missing.json()["error"]
        forged = anonymous.get(
            "/v1/incidents", headers={"Authorization": "Bearer amk_aaaaaaaaaaaa_" + "x" * 43}
        )
        assert forged.status_code == 401
        assert served.client("ingest").get("/v1/incidents").status_code == 403
        assert served.client("read").post("/v1/events", json=events(0, 1)).status_code == 403
        assert served.client("read").post("/v1/incidents/1/ack", json={}).status_code == 403
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/ready").json()["status"] == "ready"
        # every read is in the access log, with the key that made it
        served.client("read").get("/v1/actions")
        served.replica.access_log.flush()
        from assay.monitor.access_log import read_access_log

        with db.connect() as conn:
            logged = read_access_log(conn, limit=100)
        assert any(e.path == "/v1/actions" and e.role == "read" for e in logged)
        assert any(e.status == 401 and e.key_id is None for e in logged)


@pytest.mark.parametrize("role", ["read"])
def test_openapi_documents_every_route(tmp_path: Path, db: Database, role: str) -> None:
    spec, repo, _ = audited(tmp_path)
    with serving(spec, repo, db) as served:
        schema = served.client(role).get("/openapi.json").json()
    paths = set(schema["paths"])
    for path in (
        "/v1/events",
        "/v1/labels",
        "/v1/kpis",
        "/v1/route",
        "/v1/incidents",
        "/v1/incidents/{incident_id}/ack",
        "/v1/incidents/{incident_id}/resolve",
        "/v1/actions",
        "/v1/keys/revoked",
        "/metrics",
    ):
        assert path in paths
    body = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert "events" in body["schema"]["properties"]


def test_forensic_capture_and_quarantine_apply_to_ingested_events(
    tmp_path: Path, db: Database
) -> None:
    from sqlalchemy import select

    from assay.monitor.store import schema, state

    spec, repo, _ = audited(tmp_path)
    with serving(spec, repo, db) as served:
        ingest = served.client("ingest")
        assert ingest.post("/v1/events", json=events(0, 10)).status_code == 202
        now = served.clock.now()
        with db.begin() as conn:
            state.start_forensic(conn, ["client-1"], until=now + 3600)
            state.quarantine_sessions(conn, ["s2"], now=now)
        served.replica.service.forget_cached_state()  # what the actions thread does
        answer = ingest.post("/v1/events", json=events(10, 14)).json()
        assert answer == {"accepted": 14, "duplicates": 0, "held_for_review": 2}
        with db.connect() as conn:
            captured = conn.execute(select(schema.forensic_log)).all()
        assert len(captured) == 14 and {r.key_id for r in captured} == {"client-1"}
        request = json.loads(captured[0].request)
        assert request["id"] == "e10" and set(request["features"]) == {"age", "income", "region"}
        held = served.client("read").get("/v1/review").json()
        assert sorted(r["event_id"] for r in held) == ["e16", "e23"]
