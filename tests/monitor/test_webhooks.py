"""The webhook outbox against real HTTP receivers on 127.0.0.1: delivery, retries with
backoff, giving up, and escalation that goes on while a receiver is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy
from _actions_support import T0, database, down_url, monitor, obs, receiver
from sqlalchemy import Engine, insert, select

from assay.monitor import incidents as inc
from assay.monitor import webhooks
from assay.monitor.clock import ManualClock
from assay.monitor.store import schema

MIN = 60.0


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(db_url)
    schema.metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def queue(engine: Engine, url: str, payload: Any, *, now: float = T0, **kw: Any) -> int:
    with engine.begin() as conn:
        return webhooks.enqueue(conn, kw.pop("kind", "alert"), url, payload, now=now, **kw)


def outbox_row(engine: Engine, outbox_id: int) -> webhooks.OutboxRow:
    with engine.connect() as conn:
        return webhooks.get(conn, outbox_id)


def add_action(engine: Engine, incident_id: int | None = None, action: str = "alert") -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(schema.actions).values(
                key=f"{incident_id}:{action}",
                incident_id=incident_id,
                rule="r",
                action=action,
                started=T0,
                outcome="running",
                attempts=1,
                detail=json.dumps({"webhook": "x"}),
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def action_row(engine: Engine, seq: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(schema.actions).where(schema.actions.c.seq == seq)).one()


def test_backoff_doubles_to_a_cap() -> None:
    assert [webhooks.backoff(k) for k in range(1, 13)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300,
    ]  # fmt: skip
    assert webhooks.backoff(10_000) == 300
    assert webhooks.backoff(3, base=0.5, cap=10) == 2
    with pytest.raises(ValueError, match="starts at 1"):
        webhooks.backoff(0)


def test_due_rows_are_posted_as_json_with_an_idempotency_key(
    engine: Engine, client: httpx.Client
) -> None:
    with receiver() as hook:
        first = queue(engine, hook.url("/a"), [{"labels": {"alertname": "x"}}])
        second = queue(engine, hook.url("/b"), {"text": "ünïcode ✓", "n": 1.5}, kind="retrain")
        later = queue(engine, hook.url("/c"), {"later": True}, now=T0 + 10)

        assert webhooks.deliver_due(engine, T0 - 1, client=client) == []
        done = webhooks.deliver_due(engine, T0, client=client)
        assert [(d.id, d.status, d.attempts, d.http_status) for d in done] == [
            (first, "delivered", 1, 200),
            (second, "delivered", 1, 200),
        ]
        assert hook.bodies() == [[{"labels": {"alertname": "x"}}], {"text": "ünïcode ✓", "n": 1.5}]
        headers = {k.lower(): v for k, v in hook.received[0].headers.items()}
        assert headers["content-type"] == "application/json"
        assert headers["idempotency-key"] == f"assay-outbox-{first}"
        assert headers["x-assay-kind"] == "alert"
        assert headers["user-agent"].startswith("assay-monitor/")
        row = outbox_row(engine, first)
        assert (row.status, row.attempts, row.delivered_at, row.last_error) == (
            "delivered",
            1,
            T0,
            None,
        )
        with engine.connect() as conn:
            assert webhooks.next_due(conn) == T0 + 10
        assert [d.id for d in webhooks.deliver_due(engine, T0 + 10, client=client)] == [later]
        assert webhooks.deliver_due(engine, T0 + 1000, client=client) == []  # nothing twice
        assert hook.hits == 3
    with engine.connect() as conn:
        assert webhooks.next_due(conn) is None


def test_a_failing_receiver_is_retried_with_backoff_then_delivered(
    engine: Engine, client: httpx.Client
) -> None:
    clock = ManualClock(T0)
    seq = add_action(engine)
    with receiver() as hook:
        hook.fail_next(3)
        outbox_id = queue(engine, hook.url(), {"n": 1}, action_seq=seq)
        tried: list[tuple[float, str, float | None]] = []
        for _ in range(60):  # walk the clock a second at a time
            for d in webhooks.deliver_due(engine, clock.now(), client=client):
                tried.append((clock.now() - T0, d.status, d.next_attempt))
                if d.status == "retrying":
                    assert action_row(engine, seq).outcome == "retrying"
            clock.advance(1)
        # attempts at 0 s, +1, +2, +4: waits of 1, 2, 4 seconds between them
        assert tried == [
            (0, "retrying", T0 + 1),
            (1, "retrying", T0 + 3),
            (3, "retrying", T0 + 7),
            (7, "delivered", None),
        ]
        assert hook.hits == 4
        assert hook.bodies() == [{"n": 1}]
    row = outbox_row(engine, outbox_id)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 4, T0 + 7)
    assert row.last_error == 'HTTP 503 Service Unavailable: {"error": "try later"}'
    action = action_row(engine, seq)
    assert (action.outcome, action.attempts, action.finished) == ("ok", 4, T0 + 7)
    assert json.loads(action.detail)["webhook_error"] is None


def test_a_down_receiver_fails_the_row_and_its_action(engine: Engine, client: httpx.Client) -> None:
    with engine.begin() as conn:
        firing = inc.open_or_update(
            conn,
            monitor(rules=[{"name": "r", "signal": "input_shift", "when": "max_psi > 1"}]).rule(
                "r"
            ),
            obs(metrics={"max_psi": 2.0}),
            now=T0,
            default_owner="ops",
        )
    incident_id = firing.incident.id
    seq = add_action(engine, incident_id)
    url = down_url()
    outbox_id = queue(engine, url, {"n": 1}, action_seq=seq, incident_id=incident_id)
    now, statuses = T0, []
    while True:
        done = webhooks.deliver_due(engine, now, client=client, max_attempts=4)
        if done:
            statuses.append((now - T0, done[0].status))
            if done[0].status == "failed":
                break
            assert done[0].next_attempt is not None
            now = done[0].next_attempt
    assert statuses == [(0, "retrying"), (1, "retrying"), (3, "retrying"), (7, "failed")]
    row = outbox_row(engine, outbox_id)
    assert (row.status, row.attempts) == ("failed", 4)
    assert row.last_error is not None and row.last_error.startswith("ConnectError")
    action = action_row(engine, seq)
    assert (action.outcome, action.attempts, action.finished) == ("failed", 4, T0 + 7)
    assert json.loads(action.detail)["webhook_error"] == row.last_error
    assert webhooks.deliver_due(engine, T0 + 10_000, client=client) == []  # given up

    with engine.connect() as conn:
        notes = [e.detail for e in inc.timeline_of(conn, incident_id) if e.kind == "action"]
    assert [(n["delivered"], n.get("gave_up", False), n["attempts"]) for n in notes] == [
        (False, False, 1),
        (False, True, 4),
    ]
    assert notes[1]["action"] == "alert" and notes[1]["url"] == url

    # an operator requeues it once the receiver is back
    with receiver() as hook:
        with engine.begin() as conn:
            conn.execute(
                sqlalchemy.update(schema.outbox)
                .where(schema.outbox.c.id == outbox_id)
                .values(url=hook.url())
            )
            webhooks.requeue(conn, outbox_id, now=T0 + 20_000)
            with pytest.raises(ValueError, match="only a failed one requeues"):
                webhooks.requeue(conn, outbox_id, now=T0 + 20_000)
        (redelivered,) = webhooks.deliver_due(engine, T0 + 20_000, client=client)
        assert (redelivered.status, redelivered.attempts) == ("delivered", 1)
    assert action_row(engine, seq).outcome == "ok"


def test_non_2xx_answers_and_bad_urls_are_failures(engine: Engine, client: httpx.Client) -> None:
    with receiver() as hook:
        hook.fail_next(1, status=404)
        gone = queue(engine, hook.url(), {})
        bad = queue(engine, "not a url", {})
        results = {d.id: d for d in webhooks.deliver_due(engine, T0, client=client)}
    assert results[gone].http_status == 404
    assert results[gone].error == 'HTTP 404 Not Found: {"error": "try later"}'
    assert results[bad].http_status is None
    assert str(results[bad].error).startswith("UnsupportedProtocol")
    assert {d.status for d in results.values()} == {"retrying"}


def test_a_claimed_row_is_not_posted_twice_and_a_lost_claim_expires(
    engine: Engine, client: httpx.Client
) -> None:
    with receiver() as hook:
        outbox_id = queue(engine, hook.url(), {"n": 1})
        # another replica claims the row and dies before posting
        (claimed,) = webhooks._claim(engine, T0, 10)
        assert claimed.id == outbox_id
        assert webhooks.deliver_due(engine, T0, client=client) == []
        assert webhooks.deliver_due(engine, T0 + webhooks.CLAIM_SECONDS - 1, client=client) == []
        (done,) = webhooks.deliver_due(engine, T0 + webhooks.CLAIM_SECONDS, client=client)
        assert done.status == "delivered"
        assert hook.hits == 1


def test_a_batch_is_at_most_max_batch(engine: Engine, client: httpx.Client) -> None:
    with receiver() as hook:
        for i in range(5):
            queue(engine, hook.url(), {"i": i})
        assert len(webhooks.deliver_due(engine, T0, client=client, max_batch=2)) == 2
        assert len(webhooks.deliver_due(engine, T0, client=client, max_batch=10)) == 3
        assert sorted(b["i"] for b in hook.bodies()) == [0, 1, 2, 3, 4]


def test_delivery_holds_no_transaction_during_the_post(tmp_path: Path) -> None:
    """While the receiver handles the POST, another connection can write to the database —
    SQLite would say "database is locked" if the deliverer held its write transaction."""
    with database(tmp_path) as engine:
        other = sqlalchemy.create_engine(
            f"sqlite:///{tmp_path / 'monitor.db'}", connect_args={"timeout": 0.2}
        )
        writes: list[str] = []

        def write_meanwhile() -> None:
            try:
                with other.begin() as conn:
                    conn.execute(
                        sqlalchemy.update(schema.outbox).values(last_error="touched meanwhile")
                    )
                writes.append("ok")
            except sqlalchemy.exc.OperationalError as exc:
                writes.append(str(exc.orig))

        try:
            with receiver() as hook, httpx.Client(timeout=5.0) as client:
                hook.on_request(write_meanwhile)
                queue(engine, hook.url(), {"n": 1})
                queue(engine, hook.url(), {"n": 2})
                done = webhooks.deliver_due(engine, T0, client=client)
        finally:
            other.dispose()
        assert writes == ["ok", "ok"]
        assert [d.status for d in done] == ["delivered", "delivered"]


def test_an_incident_escalates_while_its_webhook_target_is_down(
    engine: Engine, client: httpx.Client
) -> None:
    clock = ManualClock(T0)
    with receiver() as head:
        mon = monitor(
            rules=[
                {
                    "name": "drift",
                    "signal": "input_shift",
                    "when": "share_drifted > 0.2",
                    "ack_within_minutes": 10,
                }
            ],
            escalation=[
                {"name": "on-call", "webhook": down_url()},
                {"name": "head", "webhook": head.url("/head"), "after_minutes": 20},
            ],
        )
        with engine.begin() as conn:
            incident = inc.open_or_update(
                conn, mon.rule("drift"), obs(), now=clock.now(), default_owner="ops"
            ).incident

        def tick() -> list[webhooks.Delivery]:
            with engine.begin() as conn:
                inc.escalate_due(conn, mon, clock.now())
            return webhooks.deliver_due(engine, clock.now(), client=client, max_attempts=5)

        log = []
        for _ in range(60):  # an hour, a minute at a time
            for delivery in tick():
                log.append((clock.now() - T0, delivery.url.rsplit("/", 1)[1], delivery.status))
            clock.advance(MIN)

        # the on-call page fails and is retried (1, 2, 4, 8 s backoff: each due by the next
        # minute) until it gives up; the head of ML is paged on time regardless
        assert log == [
            (10 * MIN, "hook", "retrying"),
            (11 * MIN, "hook", "retrying"),
            (12 * MIN, "hook", "retrying"),
            (13 * MIN, "hook", "retrying"),
            (14 * MIN, "hook", "failed"),
            (30 * MIN, "head", "delivered"),
        ]
        (page,) = head.bodies("/head")
        assert page["incident"]["id"] == incident.id
        assert page["level"] == {"index": 2, "of": 2, "name": "head"}
    with engine.connect() as conn:
        full = inc.get_incident(conn, incident.id)
    assert full.incident.level == 2
    steps = [(e.ts - T0, e.detail) for e in full.timeline if e.kind == "escalation"]
    assert [(ts, d.get("name"), d.get("delivered"), d.get("gave_up")) for ts, d in steps] == [
        (10 * MIN, "on-call", None, None),
        (10 * MIN, None, False, None),
        (14 * MIN, None, False, True),
        (30 * MIN, "head", None, None),
        (30 * MIN, None, True, None),
        (40 * MIN, "head", None, None),  # exhausted: the ack window after the last level
    ]
    assert steps[-1][1]["exhausted"] is True
    assert [d.status for d in full.deliveries] == ["failed", "delivered"]
