"""Events, labels and KPI values on SQLite and PostgreSQL; retention."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError

from assay.monitor.store import Database, schema, state
from assay.monitor.store import db as db_module
from assay.monitor.store import traffic as traffic_module
from assay.monitor.store.traffic import (
    count_events,
    events_by_ids,
    existing_event_ids,
    insert_events,
    insert_kpis,
    kpi_values,
    labels_for,
    recent_events,
    upsert_labels,
)

T0 = 1_800_000_000.0


def make_events(n: int, *, start: int = 0, seed: int = 0, **fixed: Any) -> list[dict[str, Any]]:
    """``n`` events with 27 features (18 numeric, 9 categorical) as the ingest path stores
    them: features already JSON text."""
    rng = random.Random(seed)
    rows = []
    for i in range(start, start + n):
        features = {
            f"f{j:02d}": (rng.choice(["red", "green", "blue"]) if j % 3 == 0 else rng.gauss(0, 1))
            for j in range(27)
        }
        rows.append(
            {
                "id": f"ev-{i:08d}",
                "ts": T0 + i,
                "received": T0 + i + 0.25,
                "model_version": "v1",
                "session_id": f"s{i % 50}",
                "key_id": f"k{i % 4}",
                "features": json.dumps(features),
                "prediction": float(rng.random() > 0.5),
                "score": rng.random(),
                "latency_ms": rng.uniform(5, 50),
                "output_text": None,
                **fixed,
            }
        )
    return rows


# -- events ----------------------------------------------------------------------------------


def test_events_round_trip(db: Database) -> None:
    rows = make_events(3)
    rows[1]["output_text"] = "Dear customer, …"
    with db.begin() as conn:
        assert insert_events(conn, rows) == 3
    with db.connect() as conn:
        assert count_events(conn) == 3
        stored = events_by_ids(conn, [r["id"] for r in rows])
    assert [{k: v for k, v in s.items() if k != "seq"} for s in stored] == rows
    assert [s["seq"] for s in stored] == sorted(s["seq"] for s in stored)
    assert json.loads(stored[0]["features"]) == json.loads(rows[0]["features"])


def test_optional_columns_may_be_left_out_and_other_keys_are_ignored(db: Database) -> None:
    row = {"id": "a", "ts": T0, "received": T0, "model_version": "v1", "features": "{}"}
    with db.begin() as conn:
        assert insert_events(conn, [row, {**row, "id": "b", "score": 0.5, "extra": 1}]) == 2
    with db.connect() as conn:
        a, b = events_by_ids(conn, ["a", "b"])
    assert a["score"] is None and a["session_id"] is None and b["score"] == 0.5


def test_a_row_without_a_required_column_is_refused_by_name(db: Database) -> None:
    rows = make_events(2)
    del rows[1]["features"]
    refused = pytest.raises(ValueError, match=r"event row 1 lacks column 'features'")
    with refused, db.begin() as conn:
        insert_events(conn, rows)
    with db.connect() as conn:
        assert count_events(conn) == 0


def test_a_null_required_value_is_an_error_not_a_silent_skip(db: Database) -> None:
    rows = make_events(2)
    rows[0]["model_version"] = None
    with pytest.raises(IntegrityError), db.begin() as conn:
        insert_events(conn, rows)
    with db.connect() as conn:
        assert count_events(conn) == 0


def test_duplicate_ids_are_skipped_and_reported(db: Database) -> None:
    first = make_events(5)
    with db.begin() as conn:
        assert insert_events(conn, first) == 5
    again = make_events(3, start=3, seed=9)  # ev-3 and ev-4 exist; ev-5 is new
    batch = [*again, again[-1]]  # ev-5 twice in one batch
    with db.begin() as conn:
        assert existing_event_ids(conn, [r["id"] for r in batch]) == {"ev-00000003", "ev-00000004"}
        assert insert_events(conn, batch) == 1
    with db.connect() as conn:
        assert count_events(conn) == 6
        (kept,) = events_by_ids(conn, ["ev-00000003"])
    assert kept["features"] == first[3]["features"]  # the first copy stays


def test_nothing_to_insert(db: Database) -> None:
    with db.begin() as conn:
        assert insert_events(conn, []) == 0
        assert upsert_labels(conn, []) == 0
        assert insert_kpis(conn, []) == 0
        assert events_by_ids(conn, []) == []
        assert existing_event_ids(conn, []) == set()


@pytest.mark.slow
def test_100k_events_in_500_row_batches_are_all_stored_in_a_few_statements_each(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/monitor-storage.md and bench/monitor.py have the measured rates; what this test
    # catches is the regression that would ruin them, a statement (or a commit) per row,
    # by counting the statements the database is sent: through SQLAlchemy (SQLite's
    # executemany) or as one COPY and one INSERT … SELECT per batch (PostgreSQL, straight
    # through the driver).
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    copy_into = traffic_module._copy_into

    def counted_copy(*args: Any) -> int:
        nonlocal statements
        statements += 2
        return copy_into(*args)

    monkeypatch.setattr(traffic_module, "_copy_into", counted_copy)

    rows = make_events(100_000)
    inserted = 0
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for offset in range(0, len(rows), 500):
            with db.begin() as conn:
                inserted += insert_events(conn, rows[offset : offset + 500])
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    with db.connect() as conn:
        assert count_events(conn) == inserted == 100_000
        assert events_by_ids(conn, ["ev-00099999"])[0]["ts"] == T0 + 99_999
    assert 200 <= statements <= 200 * 4, f"{statements} statements for 200 batches of 500 rows"


def test_events_by_ids_keeps_the_order_asked_for_across_chunks(db: Database) -> None:
    with db.begin() as conn:
        insert_events(conn, make_events(1_200))
    wanted = [f"ev-{i:08d}" for i in range(1_199, -1, -2)] + ["missing", "ev-00000001"]
    with db.connect() as conn:
        found = events_by_ids(conn, wanted)
    assert [e["id"] for e in found] == [w for w in dict.fromkeys(wanted) if w != "missing"]


def test_recent_events_are_the_last_stored_oldest_first_and_filtered(db: Database) -> None:
    with db.begin() as conn:
        insert_events(conn, make_events(100))
        insert_events(conn, make_events(1, start=500, ts=T0 - 1))  # stored last, stamped early
    with db.connect() as conn:
        last = recent_events(conn, limit=5)
        assert [e["id"] for e in last] == [f"ev-{i:08d}" for i in (96, 97, 98, 99, 500)]
        since = recent_events(conn, limit=5, since=T0 + 98)
        assert [e["id"] for e in since] == ["ev-00000098", "ev-00000099"]
        by_session = recent_events(conn, limit=100, session_ids=["s1", "s2"])
        assert {e["session_id"] for e in by_session} == {"s1", "s2"} and len(by_session) == 4
        by_key = recent_events(conn, limit=3, key_ids=["k3"], since=T0 + 50)
        assert [e["id"] for e in by_key] == ["ev-00000091", "ev-00000095", "ev-00000099"]
        assert recent_events(conn, limit=10, session_ids=[]) == []


# -- labels and KPIs -------------------------------------------------------------------------


def test_labels_are_upserted_and_the_last_of_a_batch_wins(db: Database) -> None:
    with db.begin() as conn:
        assert upsert_labels(conn, [("e1", 1.0, T0), ("e2", 0.0, T0), ("e1", 0.0, T0 + 1)]) == 2
    with db.begin() as conn:
        assert upsert_labels(conn, [("e2", 1.0, T0 + 2), ("e3", 1.0, T0 + 2)]) == 2
    with db.connect() as conn:
        assert labels_for(conn, ["e1", "e2", "e3", "e4"]) == {"e1": 0.0, "e2": 1.0, "e3": 1.0}
        stored = conn.execute(select(schema.labels).order_by(schema.labels.c.event_id)).all()
    assert [tuple(r) for r in stored] == [
        ("e1", 0.0, T0 + 1),
        ("e2", 1.0, T0 + 2),
        ("e3", 1.0, T0 + 2),
    ]


def test_kpis_are_stored_and_read_back_in_time_order(db: Database) -> None:
    rows = [("revenue", T0 + i, 100.0 + i) for i in (3, 1, 2)] + [("churn", T0, 0.1)]
    with db.begin() as conn:
        assert insert_kpis(conn, rows) == 4
    with db.connect() as conn:
        assert kpi_values(conn, "revenue") == [(T0 + 1, 101.0), (T0 + 2, 102.0), (T0 + 3, 103.0)]
        assert kpi_values(conn, "revenue", limit=2) == [(T0 + 2, 102.0), (T0 + 3, 103.0)]
        assert kpi_values(conn, "revenue", since=T0 + 3) == [(T0 + 3, 103.0)]
        assert kpi_values(conn, "none") == []


# -- retention -------------------------------------------------------------------------------


def _fill_for_retention(db: Database) -> None:
    """Traffic at T0 + 0..99 and records of what happened, also old."""
    with db.begin() as conn:
        insert_events(conn, make_events(100))
        upsert_labels(conn, [(f"ev-{i:08d}", 1.0, T0 + i + 200) for i in range(0, 100, 10)])
        upsert_labels(conn, [("ghost-old", 1.0, T0 + 1), ("ghost-new", 1.0, T0 + 80)])
        insert_kpis(conn, [("revenue", T0 + i, float(i)) for i in range(0, 100, 5)])
        access = [
            {"ts": T0 + i, "method": "POST", "path": "/v1/events", "status": 202}
            for i in range(0, 100, 4)
        ]
        conn.execute(insert(schema.access_log), access)
        state.log_forensic(
            conn, [{"key_id": "k1", "ts": T0 + i, "request": {"i": i}} for i in range(0, 100, 25)]
        )
        incident = {
            "rule": "r",
            "signal": "input_shift",
            "subject": "inputs",
            "severity": "major",
            "owner": "o",
            "status": "resolved",
            "opened_at": T0,
            "updated_at": T0,
        }
        incident_id = conn.execute(insert(schema.incidents), incident).inserted_primary_key[0]
        conn.execute(
            insert(schema.timeline),
            {"incident_id": incident_id, "ts": T0, "kind": "signal", "detail": "{}"},
        )
        conn.execute(
            insert(schema.actions),
            {
                "key": f"{incident_id}:alert:x",
                "incident_id": incident_id,
                "action": "alert",
                "started": T0,
                "outcome": "ok",
                "detail": "{}",
            },
        )
        state.record_drill(conn, scenario="input_shift", started=T0, record={"ok": True})
        state.record_snapshot(conn, ts=T0, events=10, evidence="ab" * 32)
        state.hold_for_review(
            conn, [{"event_id": "ev-00000001", "session_id": "s1", "ts": T0, "output": {}}]
        )
        state.set_flag(conn, "route", "primary", now=T0, by="test")


def test_retention_prunes_only_traffic_older_than_the_cutoff(db: Database) -> None:
    _fill_for_retention(db)
    kept_tables = [
        "incidents",
        "incident_timeline",
        "actions",
        "drills",
        "snapshots",
        "review_queue",
        "flags",
    ]
    before = db.counts(kept_tables)

    counts = db.prune(before=T0 + 50)

    assert counts == {
        "events": 50,
        "labels": 5 + 1,  # labels of pruned events (whenever they came) + an old orphan
        "kpis": 10,
        "access_log": 13,
        "forensic_log": 2,
    }
    assert db.counts(kept_tables) == before
    with db.connect() as conn:
        assert count_events(conn) == 50
        assert min(conn.execute(select(schema.events.c.ts)).scalars()) == T0 + 50
        assert set(labels_for(conn, [f"ev-{i:08d}" for i in range(100)] + ["ghost-new"])) == {
            *(f"ev-{i:08d}" for i in range(50, 100, 10)),
            "ghost-new",
        }
        assert kpi_values(conn, "revenue")[0] == (T0 + 50, 50.0)
        for table in (schema.access_log, schema.forensic_log):
            assert min(conn.execute(select(table.c.ts)).scalars()) >= T0 + 50
    assert db.prune(before=T0 + 50) == dict.fromkeys(counts, 0)


def test_retention_deletes_in_chunks(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "PRUNE_CHUNK", 7)
    _fill_for_retention(db)
    counts = db.prune(before=T0 + 1_000)
    assert counts == {
        "events": 100,
        "labels": 12,
        "kpis": 20,
        "access_log": 25,
        "forensic_log": 4,
    }
    assert db.counts(["events", "labels", "kpis", "access_log", "forensic_log"]) == dict.fromkeys(
        counts, 0
    )
