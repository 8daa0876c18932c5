"""Two replicas over one PostgreSQL: traffic to both lands in one store, a rule firing on
both at once opens one incident, and escalation pages once — the lease holder's duty."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import pytest
from _service_support import audited, events, serving

from assay.monitor.clock import ManualClock
from assay.monitor.server import duties
from assay.monitor.service import ESCALATION_LEASE, LEASE_TTL
from assay.monitor.store.db import Database
from assay.monitor.store.traffic import count_events


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_replicas_share_incidents_and_escalate_once(
    tmp_path: Path, db_url: str, db: Database
) -> None:
    spec, repo, run_id = audited(tmp_path)
    clock = ManualClock()
    with ExitStack() as stack:
        other_db = stack.enter_context(Database.open(db_url))
        one = stack.enter_context(serving(spec, repo, db, clock=clock))
        two = stack.enter_context(serving(spec, repo, other_db, clock=clock))
        # calm traffic, then drifted traffic to both replicas at the same moment
        for i, served in enumerate((one, two)):
            assert served.client("ingest").post("/v1/events", json=events(i * 500, 500)).is_success
        answers: list[int] = []

        def send(served, start):  # type: ignore[no-untyped-def]
            reply = served.client("ingest").post("/v1/events", json=events(start, 500, shift=30))
            answers.append(reply.status_code)

        threads = [
            threading.Thread(target=send, args=(one, 1000)),
            threading.Thread(target=send, args=(two, 1500)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [202, 202]
        one.replica.service.settle()
        two.replica.service.settle()
        with db.connect() as conn:
            assert count_events(conn) == 2000
        incidents = one.client("read").get("/v1/incidents").json()
        assert [(i["rule"], i["fired"]) for i in incidents] == [("inputs-drifted", 2)]
        # one snapshot for the incident, in the evidence both replicas share
        for served in (one, two):
            (snapshot,) = served.replica.evidence.attachments_of_kind("monitor_snapshot")
            assert snapshot.attachment.run == run_id

        # Past the deadline only the lease holder escalates, once.
        clock.advance(120)
        holders = [
            r.replica.db.acquire_lease(ESCALATION_LEASE, r.replica.service.replica, LEASE_TTL,
                                       clock.now())
            for r in (one, two)
        ]  # fmt: skip
        assert holders.count(True) == 1
        for served, holds in zip((one, two), holders, strict=True):
            if holds:
                duties(served.replica, clock.now())
        detail = two.client("read").get(f"/v1/incidents/{incidents[0]['id']}").json()
        assert [e["kind"] for e in detail["timeline"]].count("escalation") == 1
