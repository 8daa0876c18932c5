"""The access audit log: buffered, batched writes that lose nothing on close."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import OperationalError

from assay.monitor.access_log import AccessEntry, AccessLogWriter, read_access_log
from assay.monitor.clock import ManualClock
from assay.monitor.store.db import Database
from assay.monitor.store.schema import access_log, metadata

T0 = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = create_engine(f"sqlite:///{tmp_path / 'monitor.db'}")
    metadata.create_all(made)
    yield made
    made.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(access_log)).scalar_one())


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        time.sleep(0.01)


def entry(i: int) -> AccessEntry:
    return AccessEntry(
        ts=T0 + i,
        key_id=f"key{i % 3}",
        role="read",
        method="GET",
        path=f"/v1/incidents/{i}",
        status=200,
        client="10.0.0.7",
    )


def test_close_writes_everything_recorded(engine: Engine, clock: ManualClock) -> None:
    writer = AccessLogWriter(engine, clock=clock, max_batch=100, flush_interval_s=3600)
    sent = [entry(i) for i in range(1234)]
    for item in sent:
        writer.add(item)
    assert rows(engine) == 0  # nothing touched the database on the request path
    writer.close()
    assert writer.recorded == writer.written == rows(engine) == 1234
    assert writer.pending == 0 and writer.dropped == 0
    with engine.connect() as conn:
        back = read_access_log(conn, limit=5000)
    assert [(e.ts, e.key_id, e.role, e.method, e.path, e.status, e.client) for e in back] == [
        (e.ts, e.key_id, e.role, e.method, e.path, e.status, e.client) for e in sent
    ]
    assert all(e.seq is not None for e in back)


def test_a_full_batch_is_written_without_waiting_for_the_interval(
    engine: Engine, clock: ManualClock
) -> None:
    with AccessLogWriter(engine, clock=clock, max_batch=50, flush_interval_s=3600) as writer:
        for i in range(49):
            writer.add(entry(i))
        assert writer.pending == 49
        writer.add(entry(49))
        eventually(lambda: rows(engine) == 50)
        assert writer.pending == 0


def test_entries_are_written_on_time_when_traffic_is_light(
    engine: Engine, clock: ManualClock
) -> None:
    with AccessLogWriter(engine, clock=clock, max_batch=1000, flush_interval_s=0.05) as writer:
        writer.record(method="GET", path="/v1/events", status=200, key_id="k1", role="read")
        writer.record(method="POST", path="/v1/events", status=401, client="203.0.113.9")
        eventually(lambda: rows(engine) == 2)
    with engine.connect() as conn:
        first, second = read_access_log(conn)
    assert (first.ts, first.key_id, first.role, first.status) == (T0, "k1", "read", 200)
    assert (second.key_id, second.role, second.client) == (None, None, "203.0.113.9")


def test_many_threads_recording_while_the_writer_flushes(
    engine: Engine, clock: ManualClock
) -> None:
    writer = AccessLogWriter(engine, clock=clock, max_batch=64, flush_interval_s=0.01).start()

    def request_path(worker: int) -> None:
        for i in range(500):
            writer.record(method="GET", path=f"/w{worker}/{i}", status=200, ts=T0 + i)

    threads = [threading.Thread(target=request_path, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert writer.recorded == writer.written == rows(engine) == 3000
    with engine.connect() as conn:
        paths = {e.path for e in read_access_log(conn, limit=10_000)}
    assert len(paths) == 3000


def test_a_refused_batch_is_kept_and_written_later(tmp_path: Path, clock: ManualClock) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'late.db'}")  # no tables yet
    writer = AccessLogWriter(engine, clock=clock, max_batch=10, flush_interval_s=3600)
    for i in range(25):
        writer.add(entry(i))
    with pytest.raises(OperationalError):
        writer.flush()
    assert (writer.pending, writer.written, writer.failures) == (25, 0, 1)
    metadata.create_all(engine)
    assert writer.flush() == 25
    writer.close()
    with engine.connect() as conn:
        assert [e.ts for e in read_access_log(conn)] == [T0 + i for i in range(25)]


def test_the_background_thread_survives_an_outage(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'outage.db'}")
    with AccessLogWriter(engine, clock=clock, max_batch=5, flush_interval_s=0.01) as writer:
        for i in range(12):
            writer.add(entry(i))
        eventually(lambda: writer.failures >= 2)
        metadata.create_all(engine)
        eventually(lambda: writer.written == 12)
    assert rows(engine) == 12
    failures = [r for r in caplog.records if "writing a batch failed" in r.getMessage()]
    assert len(failures) == 1  # logged once per outage


def test_a_long_outage_drops_the_oldest_entries_and_counts_them(
    tmp_path: Path, clock: ManualClock
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'down.db'}")
    writer = AccessLogWriter(engine, clock=clock, max_batch=10, max_pending=30)
    for i in range(45):
        writer.add(entry(i))
    with pytest.raises(OperationalError):
        writer.flush()
    assert (writer.recorded, writer.pending, writer.dropped) == (45, 30, 15)
    metadata.create_all(engine)
    writer.close()
    assert writer.recorded == writer.written + writer.dropped
    with engine.connect() as conn:
        assert [e.ts for e in read_access_log(conn)] == [T0 + i for i in range(15, 45)]


def test_values_are_cut_to_their_columns(engine: Engine, clock: ManualClock) -> None:
    writer = AccessLogWriter(engine, clock=clock)
    writer.record(
        method="PROPFINDXYZ123",
        path="/" + "p" * 5000,
        status=405,
        key_id="k" * 50,
        role="r" * 30,
        client="c" * 150,
    )
    writer.close()
    with engine.connect() as conn:
        (got,) = read_access_log(conn)
    assert (len(got.method), len(got.path), len(got.key_id or ""), len(got.role or "")) == (
        10,
        2048,
        40,
        20,
    )
    assert len(got.client or "") == 100


def test_write_takes_a_mapping_and_ignores_extra_keys(engine: Engine, clock: ManualClock) -> None:
    writer = AccessLogWriter(engine, clock=clock)
    writer.write(
        {"method": "GET", "path": "/metrics", "status": 200, "key_id": "k", "duration_ms": 1.5}
    )
    writer.write({"ts": T0 + 9, "method": "GET", "path": "/", "status": 302, "role": "read"})
    writer.close()
    with engine.connect() as conn:
        first, second = read_access_log(conn)
    assert (first.ts, first.path, first.key_id) == (T0, "/metrics", "k")
    assert (second.ts, second.status, second.role) == (T0 + 9, 302, "read")


def test_recording_after_close_is_an_error(engine: Engine, clock: ManualClock) -> None:
    writer = AccessLogWriter(engine, clock=clock)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(method="GET", path="/", status=200)


def test_reading_since_by_key_and_limited(engine: Engine, clock: ManualClock) -> None:
    writer = AccessLogWriter(engine, clock=clock)
    for i in reversed(range(30)):  # written newest first: reading sorts by time
        writer.add(entry(i))
    writer.close()
    with engine.connect() as conn:
        recent = read_access_log(conn, since=T0 + 25)
        assert [e.ts for e in recent] == [T0 + i for i in range(25, 30)]
        assert [e.ts for e in read_access_log(conn, since=T0 + 10, limit=3)] == [
            T0 + 10,
            T0 + 11,
            T0 + 12,
        ]
        mine = read_access_log(conn, key_id="key1")
        assert [e.ts for e in mine] == [T0 + i for i in range(1, 30, 3)]
        with pytest.raises(ValueError, match="limit must be at least 1"):
            read_access_log(conn, limit=0)


def test_settings_are_checked(engine: Engine, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="max_batch"):
        AccessLogWriter(engine, clock=clock, max_batch=0)
    with pytest.raises(ValueError, match="flush_interval_s"):
        AccessLogWriter(engine, clock=clock, flush_interval_s=0)


def test_batches_on_sqlite_and_postgresql(db: Database, clock: ManualClock) -> None:
    """Through a migrated Database, once on each backend; PostgreSQL enforces the column
    widths, so an over-long value must be cut, not fail its batch."""
    with AccessLogWriter(db.engine, clock=clock, max_batch=40, flush_interval_s=0.05) as writer:
        for i in range(199):
            writer.add(entry(i))
        writer.record(
            method="M" * 30, path="/x", status=400, client="c" * 500, key_id="k" * 90, ts=T0 + 500
        )
    assert writer.recorded == writer.written == 200
    with db.connect() as conn:
        back = read_access_log(conn, limit=500)
    assert len(back) == 200
    assert [e.ts for e in back[:199]] == [T0 + i for i in range(199)]
    assert (len(back[-1].method), len(back[-1].client or "")) == (10, 100)
