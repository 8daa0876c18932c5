"""The webhook outbox: durable, retried, at-least-once delivery of every POST the monitor makes.

Nothing in the monitor calls a webhook directly. An action or an escalation writes a row to
the ``outbox`` table (:func:`enqueue`) in the same transaction as its own effect, so a crash
can lose neither; :func:`deliver_due` later POSTs the rows that are due. A row that fails
(connection refused, timeout, a non-2xx answer) is tried again after :func:`backoff` seconds —
1, 2, 4 … doubling up to 300 s, no jitter — until ``max_attempts`` (:data:`MAX_ATTEMPTS`)
attempts have failed; it is then ``failed`` with its ``last_error``, and the action that
enqueued it becomes ``failed`` too (``retrying`` while attempts remain).

Delivery never holds a database transaction during an HTTP call: a short transaction *claims*
the due rows (moves their ``next_attempt`` :data:`CLAIM_SECONDS` ahead, so another replica
skips them and a crash mid-delivery only delays them), the POSTs run outside any transaction,
and one short transaction per row records the outcome. A receiver can therefore see a row
twice (a crash after the POST, before the record) — every POST carries
``Idempotency-Key: assay-outbox-<id>`` so it can drop the repeat.

Example::

    with engine.begin() as conn:
        enqueue(conn, "alert", "https://am.example.com/api/v2/alerts", [alert], now=clock.now())
    with httpx.Client(timeout=5.0) as client:
        deliver_due(engine, clock.now(), client=client)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx
import pydantic_core
from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from assay._version import __version__
from assay.monitor.store.schema import actions, outbox, timeline

MAX_ATTEMPTS = 12
"""Attempts before a row is ``failed``: with :func:`backoff` about 18.5 minutes of retrying."""
BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
CLAIM_SECONDS = 60.0
"""How far a claim moves ``next_attempt`` ahead: the longest a crashed delivery delays a row."""
TIMEOUT = 5.0
"""Seconds for one POST (connect, read, write and pool each) when no client is passed."""
USER_AGENT = f"assay-monitor/{__version__}"
QUIET_KINDS = frozenset({"alert_refresh"})
"""Outbox kinds whose deliveries stay off the incident timeline (periodic refreshes)."""
_ERROR_BODY = 300

DeliveryStatus = Literal["delivered", "retrying", "failed"]


def dumps(value: Any) -> str:
    """JSON text as the monitor stores it (NaN and infinities become ``null``)."""
    return pydantic_core.to_json(value).decode()


def backoff(attempts: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: ``base · 2^(attempts-1)``,
    at most ``cap`` — 1, 2, 4, 8 … 256, 300, 300 … with the defaults. Deterministic."""
    if attempts < 1:
        raise ValueError(f"attempts counts failed attempts and starts at 1, got {attempts}")
    exponent = min(attempts - 1, 62)  # 2**62 s is past any cap; avoids float overflow
    return float(min(cap, base * 2.0**exponent))


@dataclass(frozen=True)
class OutboxRow:
    """One webhook POST, pending, delivered or failed."""

    id: int
    kind: str
    url: str
    payload: Any
    action_seq: int | None
    incident_id: int | None
    created: float
    attempts: int
    next_attempt: float
    status: str
    last_error: str | None
    delivered_at: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Delivery:
    """What one delivery attempt of :func:`deliver_due` did."""

    id: int
    kind: str
    url: str
    status: DeliveryStatus
    attempts: int
    http_status: int | None
    error: str | None
    next_attempt: float | None
    """When the row is tried again (``retrying`` only)."""


def enqueue(
    conn: Connection,
    kind: str,
    url: str,
    payload: Any,
    *,
    now: float,
    action_seq: int | None = None,
    incident_id: int | None = None,
) -> int:
    """Queue a POST of ``payload`` (any JSON-able value) to ``url``, due at once; its id.

    Call it inside the transaction that makes the effect the webhook reports, so both commit
    or neither does."""
    if not url:
        raise ValueError("a webhook needs a URL")
    result = conn.execute(
        insert(outbox).values(
            kind=kind,
            url=url,
            payload=dumps(payload),
            action_seq=action_seq,
            incident_id=incident_id,
            created=now,
            attempts=0,
            next_attempt=now,
            status="pending",
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=int(row.id),
        kind=row.kind,
        url=row.url,
        payload=json.loads(row.payload),
        action_seq=row.action_seq,
        incident_id=row.incident_id,
        created=row.created,
        attempts=row.attempts,
        next_attempt=row.next_attempt,
        status=row.status,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
    )


def get(conn: Connection, outbox_id: int) -> OutboxRow:
    """One outbox row; ``KeyError`` if there is none with that id."""
    row = conn.execute(select(outbox).where(outbox.c.id == outbox_id)).first()
    if row is None:
        raise KeyError(f"no outbox entry {outbox_id}")
    return _row(row)


def list_outbox(
    conn: Connection,
    *,
    status: str | Sequence[str] | None = None,
    incident_id: int | None = None,
    limit: int = 100,
) -> list[OutboxRow]:
    """Outbox rows, newest first; only those of ``status`` / ``incident_id`` if given."""
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        query = query.where(outbox.c.status.in_(wanted))
    if incident_id is not None:
        query = query.where(outbox.c.incident_id == incident_id)
    return [_row(row) for row in conn.execute(query)]


def next_due(conn: Connection) -> float | None:
    """When the earliest pending row is due (so a delivery loop can sleep until then)."""
    value = conn.execute(
        select(func.min(outbox.c.next_attempt)).where(outbox.c.status == "pending")
    ).scalar()
    return None if value is None else float(value)


def requeue(conn: Connection, outbox_id: int, *, now: float) -> OutboxRow:
    """Make a ``failed`` row pending again, due at once, with a fresh count of attempts (an
    operator's "redeliver" after fixing the receiver). ``ValueError`` if it is not failed."""
    row = get(conn, outbox_id)
    if row.status != "failed":
        raise ValueError(f"outbox entry {outbox_id} is {row.status}; only a failed one requeues")
    conn.execute(
        update(outbox)
        .where(outbox.c.id == outbox_id)
        .values(status="pending", attempts=0, next_attempt=now)
    )
    if row.action_seq is not None:
        _update_action(conn, row.action_seq, outcome="retrying", finished=None)
    return get(conn, outbox_id)


def _claim(engine: Engine, now: float, max_batch: int) -> list[OutboxRow]:
    """Take up to ``max_batch`` due rows for this caller, in one short transaction."""
    claimed: list[OutboxRow] = []
    with engine.begin() as conn:
        due = conn.execute(
            select(outbox)
            .where(and_(outbox.c.status == "pending", outbox.c.next_attempt <= now))
            .order_by(outbox.c.next_attempt, outbox.c.id)
            .limit(max_batch)
        ).all()
        for row in due:
            taken = conn.execute(
                update(outbox)
                .where(
                    and_(
                        outbox.c.id == row.id,
                        outbox.c.status == "pending",
                        outbox.c.next_attempt <= now,
                    )
                )
                .values(next_attempt=now + CLAIM_SECONDS)
            )
            if taken.rowcount == 1:
                claimed.append(_row(row))
    return claimed


def _post(client: httpx.Client, row: OutboxRow) -> tuple[int | None, str | None]:
    """(HTTP status, error) of one POST; error ``None`` means delivered (2xx)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": f"assay-outbox-{row.id}",
        "X-Assay-Delivery": str(row.id),
        "X-Assay-Kind": row.kind,
    }
    try:
        response = client.post(row.url, content=dumps(row.payload).encode(), headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {str(exc) or 'no detail'}"
    if 200 <= response.status_code < 300:
        return response.status_code, None
    body = response.text[:_ERROR_BODY].strip()
    reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    return response.status_code, f"{reason}: {body}" if body else reason


def _update_action(conn: Connection, seq: int, **values: Any) -> None:
    extra = values.pop("detail", None)
    if extra is not None:
        current = conn.execute(select(actions.c.detail).where(actions.c.seq == seq)).scalar()
        detail = json.loads(current) if current else {}
        detail.update(extra)
        values["detail"] = dumps(detail)
    conn.execute(update(actions).where(actions.c.seq == seq).values(**values))


def _note(conn: Connection, row: OutboxRow, now: float, detail: dict[str, Any]) -> None:
    """A line on the incident's timeline about this row's delivery."""
    if row.incident_id is None or row.kind in QUIET_KINDS:
        return
    kind = "escalation" if row.kind == "escalation" else "action"
    conn.execute(
        insert(timeline).values(
            incident_id=row.incident_id, ts=now, kind=kind, actor="monitor", detail=dumps(detail)
        )
    )


def _record(
    conn: Connection,
    row: OutboxRow,
    *,
    http_status: int | None,
    error: str | None,
    now: float,
    max_attempts: int,
) -> Delivery:
    attempts = row.attempts + 1
    about = {"webhook": row.kind, "outbox": row.id, "url": row.url, "attempts": attempts}
    action_name = None
    if row.action_seq is not None:
        action_name = conn.execute(
            select(actions.c.action).where(actions.c.seq == row.action_seq)
        ).scalar()
        if action_name is not None:
            about["action"] = action_name
    if error is None:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(status="delivered", attempts=attempts, delivered_at=now)
        )
        if row.action_seq is not None:
            undelivered = conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(and_(outbox.c.action_seq == row.action_seq, outbox.c.status != "delivered"))
            ).scalar_one()
            if undelivered == 0:
                _update_action(
                    conn,
                    row.action_seq,
                    outcome="ok",
                    finished=now,
                    attempts=attempts,
                    detail={"delivered_at": now, "webhook_error": None},
                )
        _note(conn, row, now, {**about, "delivered": True, "http_status": http_status})
        return Delivery(row.id, row.kind, row.url, "delivered", attempts, http_status, None, None)
    if attempts >= max_attempts:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(status="failed", attempts=attempts, last_error=error, next_attempt=now)
        )
        if row.action_seq is not None:
            _update_action(
                conn,
                row.action_seq,
                outcome="failed",
                finished=now,
                attempts=attempts,
                detail={"webhook_error": error, "outbox": row.id},
            )
        _note(conn, row, now, {**about, "delivered": False, "gave_up": True, "error": error})
        return Delivery(row.id, row.kind, row.url, "failed", attempts, http_status, error, None)
    retry_at = now + backoff(attempts)
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row.id)
        .values(attempts=attempts, last_error=error, next_attempt=retry_at)
    )
    if row.action_seq is not None:
        _update_action(
            conn,
            row.action_seq,
            outcome="retrying",
            attempts=attempts,
            detail={"webhook_error": error, "outbox": row.id, "next_attempt": retry_at},
        )
    if attempts == 1:  # the first failure goes on the timeline; the rest only on the row
        _note(conn, row, now, {**about, "delivered": False, "error": error, "retry_at": retry_at})
    return Delivery(row.id, row.kind, row.url, "retrying", attempts, http_status, error, retry_at)


def deliver_due(
    engine: Engine,
    now: float,
    *,
    client: httpx.Client | None = None,
    max_batch: int = 50,
    max_attempts: int = MAX_ATTEMPTS,
) -> list[Delivery]:
    """POST every due pending row (at most ``max_batch``) and record each outcome.

    ``client`` is used as given (its timeout applies); without one a client with a
    :data:`TIMEOUT` s timeout is made for this call. Redirects are not followed (a 3xx is a
    failure: a webhook URL that moved should be fixed in the spec). Returns what happened to
    each row, in the order they were due."""
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    rows = _claim(engine, now, max_batch)
    if not rows:
        return []
    own = client is None
    http = client if client is not None else httpx.Client(timeout=TIMEOUT)
    results: list[Delivery] = []
    try:
        for row in rows:
            http_status, error = _post(http, row)
            with engine.begin() as conn:
                results.append(
                    _record(
                        conn,
                        row,
                        http_status=http_status,
                        error=error,
                        now=now,
                        max_attempts=max_attempts,
                    )
                )
    finally:
        if own:
            http.close()
    return results
