"""The service's state on SQLite and PostgreSQL: flags, revoked keys, quarantine and review,
forensic capture, drills and snapshots."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select

from assay.monitor.store import Database, schema
from assay.monitor.store.state import (
    drills,
    finish_drill,
    flags,
    forensic_keys,
    get_flag,
    hold_for_review,
    is_revoked,
    log_forensic,
    quarantine_sessions,
    quarantined,
    record_drill,
    record_snapshot,
    release_sessions,
    resolve_review,
    review_queue,
    revoke_key,
    revoked_keys,
    set_flag,
    snapshots,
    start_forensic,
)

T0 = 1_800_000_000.0


def _incident(db: Database) -> int:
    row = {
        "rule": "keys-abused",
        "signal": "security_anomaly",
        "subject": "keys",
        "severity": "critical",
        "owner": "sec@example.com",
        "status": "open",
        "opened_at": T0,
        "updated_at": T0,
    }
    with db.begin() as conn:
        key = conn.execute(insert(schema.incidents), row).inserted_primary_key
    assert key is not None
    return int(key[0])


# -- flags -----------------------------------------------------------------------------------


def test_flags_hold_json_values_and_are_upserted(db: Database) -> None:
    with db.begin() as conn:
        assert get_flag(conn, "route") is None
        assert get_flag(conn, "degraded_mode", False) is False
        set_flag(conn, "route", {"target": "fallback", "since": T0}, now=T0, by="monitor")
        set_flag(conn, "degraded_mode", True, now=T0, by="monitor")
    with db.begin() as conn:
        set_flag(conn, "route", {"target": "primary"}, now=T0 + 5, by="alice")
    with db.connect() as conn:
        assert get_flag(conn, "route") == {"target": "primary"}
        assert get_flag(conn, "degraded_mode") is True
        assert flags(conn) == {"route": {"target": "primary"}, "degraded_mode": True}
        row = conn.execute(select(schema.flags).where(schema.flags.c.name == "route")).one()
    assert (row.updated, row.by) == (T0 + 5, "alice")


# -- revoked keys ----------------------------------------------------------------------------


def test_revoking_a_key_is_idempotent(db: Database) -> None:
    incident_id = _incident(db)
    with db.begin() as conn:
        assert revoke_key(conn, "k_1", now=T0, reason="burst", incident_id=incident_id)
        assert not revoke_key(conn, "k_1", now=T0 + 9, reason="again")
        assert revoke_key(conn, "k_0", now=T0 + 1, reason="manual")
    with db.connect() as conn:
        assert is_revoked(conn, "k_1") and is_revoked(conn, "k_0")
        assert not is_revoked(conn, "k_2")
        assert revoked_keys(conn) == [
            {"key_id": "k_1", "revoked_at": T0, "reason": "burst", "incident_id": incident_id},
            {"key_id": "k_0", "revoked_at": T0 + 1, "reason": "manual", "incident_id": None},
        ]


# -- quarantine and review -------------------------------------------------------------------


def test_quarantine_is_idempotent_and_can_be_lifted_and_renewed(db: Database) -> None:
    incident_id = _incident(db)
    with db.begin() as conn:
        assert quarantine_sessions(conn, ["s1", "s2", "s1"], now=T0, incident_id=incident_id) == 2
    with db.begin() as conn:
        assert quarantine_sessions(conn, ["s2", "s3"], now=T0 + 1) == 1
        assert quarantined(conn, ["s1", "s3", "s9"]) == {"s1", "s3"}
        assert release_sessions(conn, ["s1", "s9"], now=T0 + 2) == 1
        assert release_sessions(conn, ["s1"], now=T0 + 3) == 0
    with db.connect() as conn:
        assert quarantined(conn) == {"s2", "s3"}
        query = select(schema.quarantine.c.session_id, schema.quarantine.c.since)
        since = {row.session_id: row.since for row in conn.execute(query)}
    assert since["s2"] == T0  # quarantining again kept the first start
    with db.begin() as conn:
        assert quarantine_sessions(conn, ["s1"], now=T0 + 10) == 1
    with db.connect() as conn:
        row = conn.execute(
            select(schema.quarantine).where(schema.quarantine.c.session_id == "s1")
        ).one()
    assert (row.since, row.released_at, row.incident_id) == (T0 + 10, None, None)


def test_quarantined_asks_in_chunks(db: Database) -> None:
    sessions = [f"s{i}" for i in range(1_300)]
    with db.begin() as conn:
        assert quarantine_sessions(conn, sessions[::2], now=T0) == 650
    with db.connect() as conn:
        assert quarantined(conn, sessions) == set(sessions[::2])


def test_held_outputs_wait_in_the_review_queue(db: Database) -> None:
    rows = [
        {
            "event_id": f"e{i}",
            "session_id": "s1",
            "ts": T0 + i,
            "output": {"prediction": 1.0, "score": 0.9, "output_text": "hi"},
        }
        for i in range(3)
    ]
    rows[2]["output"] = '{"prediction": 0.0}'  # JSON text is stored as it is
    with db.begin() as conn:
        assert hold_for_review(conn, rows) == 3
        assert hold_for_review(conn, []) == 0
    with db.begin() as conn:
        held = review_queue(conn)
        assert [h["event_id"] for h in held] == ["e0", "e1", "e2"]
        assert json.loads(held[0]["output"]) == rows[0]["output"]
        assert held[2]["output"] == '{"prediction": 0.0}'
        assert resolve_review(conn, [held[0]["seq"]], status="released") == 1
        assert resolve_review(conn, [held[0]["seq"], held[1]["seq"]], status="rejected") == 1
    with db.connect() as conn:
        assert [h["event_id"] for h in review_queue(conn)] == ["e2"]
        assert [h["event_id"] for h in review_queue(conn, status="released")] == ["e0"]
        assert [h["status"] for h in review_queue(conn, status=None, limit=2)] == [
            "released",
            "rejected",
        ]
    with pytest.raises(ValueError, match="'released' or 'rejected'"), db.begin() as conn:
        resolve_review(conn, [1], status="held")


# -- forensic capture ------------------------------------------------------------------------


def test_forensic_capture_runs_until_its_end_and_is_only_ever_extended(db: Database) -> None:
    with db.begin() as conn:
        assert start_forensic(conn, ["k1", "k2"], until=T0 + 3600) == 2
        assert start_forensic(conn, ["k1"], until=T0 + 60) == 0  # shorter: kept as it was
        assert start_forensic(conn, ["k2"], until=T0 + 7200) == 1  # longer: extended
        assert start_forensic(conn, [], until=T0) == 0
    with db.connect() as conn:
        assert forensic_keys(conn, T0) == {"k1", "k2"}
        assert forensic_keys(conn, T0 + 3600) == {"k2"}
        assert forensic_keys(conn, T0 + 7200) == set()


def test_captured_requests_are_logged(db: Database) -> None:
    request = {"method": "POST", "path": "/v1/events", "headers": {"user-agent": "x"}}
    with db.begin() as conn:
        assert log_forensic(conn, [{"key_id": "k1", "ts": T0, "request": request}]) == 1
        assert log_forensic(conn, []) == 0
    with db.connect() as conn:
        row = conn.execute(select(schema.forensic_log)).one()
    assert (row.key_id, row.ts, json.loads(row.request)) == ("k1", T0, request)


# -- drills and snapshots --------------------------------------------------------------------


def test_drills_are_recorded_finished_and_listed(db: Database) -> None:
    with db.begin() as conn:
        first = record_drill(conn, scenario="input_shift", started=T0, record={"step": 1})
        second = record_drill(
            conn,
            scenario="latency_spike",
            started=T0 + 100,
            finished=T0 + 160,
            passed=False,
            record={"why": "no page"},
            evidence="cd" * 32,
        )
        finish_drill(conn, first, finished=T0 + 60, passed=True, record={"ok": 1}, evidence="ab")
        with pytest.raises(KeyError, match="no drill has id 9999"):
            finish_drill(conn, 9999, finished=T0, passed=True, record={})
    with db.connect() as conn:
        listed = drills(conn)
        assert [d["id"] for d in listed] == [second, first]  # newest first
        assert listed[1]["passed"] is True and json.loads(listed[1]["record"]) == {"ok": 1}
        assert listed[1]["evidence"] == "ab" and listed[1]["finished"] == T0 + 60
        assert [d["id"] for d in drills(conn, passed=True)] == [first]
        assert [d["id"] for d in drills(conn, scenario="latency_spike")] == [second]
        assert [d["id"] for d in drills(conn, since=T0 + 50)] == [second]
        assert [d["id"] for d in drills(conn, limit=1)] == [second]


def test_snapshots_are_recorded_per_incident(db: Database) -> None:
    incident_id = _incident(db)
    with db.begin() as conn:
        one = record_snapshot(conn, ts=T0, events=2000, evidence="a" * 64, incident_id=incident_id)
        two = record_snapshot(conn, ts=T0 + 1, events=10, evidence="b" * 64)
    with db.connect() as conn:
        assert [s["id"] for s in snapshots(conn)] == [one, two]
        (only,) = snapshots(conn, incident_id=incident_id)
    assert only == {
        "id": one,
        "incident_id": incident_id,
        "ts": T0,
        "events": 2000,
        "evidence": "a" * 64,
    }
