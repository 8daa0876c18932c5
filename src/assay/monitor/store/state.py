"""The service's state: flags, revoked keys, quarantined sessions and their review queue,
forensic capture, drills and snapshots.

Functions take a :class:`sqlalchemy.Connection` (from :meth:`Database.begin` for writes).
Times are the caller's clock. Every write is idempotent where the action it serves must be
(revoking a key twice, quarantining a session twice, starting a capture twice). Rows come
back as dicts of the table's columns, JSON columns as stored text; flags are the exception:
their values go in and come out as JSON values.

A JSON argument given as ``str`` is taken as JSON text already encoded; anything else is
encoded with ``pydantic_core.to_json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic_core import from_json, to_json
from sqlalchemy import Connection, insert, select, update

from assay.monitor.store import schema
from assay.monitor.store.db import dialect_insert

__all__ = [
    "REVIEW_STATUSES",
    "drills",
    "finish_drill",
    "flags",
    "forensic_keys",
    "get_flag",
    "hold_for_review",
    "is_revoked",
    "log_forensic",
    "quarantine_sessions",
    "quarantined",
    "record_drill",
    "record_snapshot",
    "release_sessions",
    "resolve_review",
    "review_queue",
    "revoke_key",
    "revoked_keys",
    "set_flag",
    "snapshots",
    "start_forensic",
]

REVIEW_STATUSES = ("held", "released", "rejected")
_IN_CHUNK = 500
_PRESERVE = {"preserve_rowcount": True}  # SQLAlchemy drops INSERT rowcounts otherwise


def _json(value: Any) -> str:
    return value if isinstance(value, str) else to_json(value).decode()


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in rows]


def _count(result: Any) -> int:
    return max(int(result.rowcount), 0)


# -- flags -----------------------------------------------------------------------------------


def get_flag(conn: Connection, name: str, default: Any = None) -> Any:
    """Flag ``name``'s JSON value (``default`` when it was never set)."""
    table = schema.flags
    text = conn.execute(select(table.c.value).where(table.c.name == name)).scalar_one_or_none()
    return default if text is None else from_json(text)


def set_flag(conn: Connection, name: str, value: Any, *, now: float, by: str | None) -> None:
    """Set flag ``name`` to the JSON value ``value`` (``by``: who set it)."""
    table = schema.flags
    stmt = dialect_insert(conn)(table).values(
        name=name, value=to_json(value).decode(), updated=now, by=by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={
            "value": stmt.excluded.value,
            "updated": stmt.excluded.updated,
            "by": stmt.excluded.by,
        },
    )
    conn.execute(stmt)


def flags(conn: Connection) -> dict[str, Any]:
    """Every flag's value."""
    table = schema.flags
    return {row.name: from_json(row.value) for row in conn.execute(select(table))}


# -- revoked keys ----------------------------------------------------------------------------


def revoke_key(
    conn: Connection, key_id: str, *, now: float, reason: str, incident_id: int | None = None
) -> bool:
    """Revoke API key ``key_id``. False if it was already revoked (the first revocation's
    time, reason and incident stay)."""
    table = schema.revoked_keys
    stmt = (
        dialect_insert(conn)(table)
        .values(key_id=key_id, revoked_at=now, reason=reason, incident_id=incident_id)
        .on_conflict_do_nothing(index_elements=[table.c.key_id])
    )
    return _count(conn.execute(stmt.execution_options(**_PRESERVE))) == 1


def revoked_keys(conn: Connection) -> list[dict[str, Any]]:
    """Every revoked key, in the order they were revoked."""
    table = schema.revoked_keys
    return _dicts(conn.execute(select(table).order_by(table.c.revoked_at, table.c.key_id)))


def is_revoked(conn: Connection, key_id: str) -> bool:
    table = schema.revoked_keys
    query = select(table.c.key_id).where(table.c.key_id == key_id)
    return conn.execute(query).first() is not None


# -- quarantine and the review queue ---------------------------------------------------------


def quarantine_sessions(
    conn: Connection, session_ids: Iterable[str], *, now: float, incident_id: int | None = None
) -> int:
    """Quarantine sessions: their outputs are held for review from ``now`` on. A session
    already in quarantine keeps its start; a released one is quarantined again. Returns how
    many sessions were newly quarantined."""
    rows = [
        {"session_id": s, "incident_id": incident_id, "since": now, "released_at": None}
        for s in _unique(session_ids)
    ]
    if not rows:
        return 0
    table = schema.quarantine
    stmt = dialect_insert(conn)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.session_id],
        set_={
            "incident_id": stmt.excluded.incident_id,
            "since": stmt.excluded.since,
            "released_at": None,
        },
        where=table.c.released_at.is_not(None),
    )
    return _count(conn.execute(stmt.execution_options(**_PRESERVE), rows))


def release_sessions(conn: Connection, session_ids: Iterable[str], *, now: float) -> int:
    """Lift the quarantine of these sessions. Returns how many were in quarantine."""
    table = schema.quarantine
    released = 0
    for chunk in _chunks(_unique(session_ids)):
        stmt = (
            update(table)
            .where(table.c.session_id.in_(chunk), table.c.released_at.is_(None))
            .values(released_at=now)
        )
        released += _count(conn.execute(stmt))
    return released


def quarantined(conn: Connection, session_ids: Iterable[str] | None = None) -> set[str]:
    """Which of ``session_ids`` are in quarantine now (all of them if ``None``)."""
    table = schema.quarantine
    base = select(table.c.session_id).where(table.c.released_at.is_(None))
    if session_ids is None:
        return set(conn.execute(base).scalars())
    found: set[str] = set()
    for chunk in _chunks(_unique(session_ids)):
        found.update(conn.execute(base.where(table.c.session_id.in_(chunk))).scalars())
    return found


def hold_for_review(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Hold outputs for human review: mappings with ``event_id``, ``session_id``, ``ts`` and
    ``output`` (JSON: prediction, score, output text), status ``held`` unless given."""
    if not rows:
        return 0
    params = [
        {
            "event_id": row["event_id"],
            "session_id": row["session_id"],
            "ts": row["ts"],
            "output": _json(row["output"]),
            "status": row.get("status", "held"),
        }
        for row in rows
    ]
    conn.execute(insert(schema.review_queue), params)
    return len(params)


def review_queue(
    conn: Connection, *, status: str | None = "held", limit: int = 100
) -> list[dict[str, Any]]:
    """The oldest ``limit`` items of the review queue with ``status`` (any if ``None``)."""
    table = schema.review_queue
    query = select(table)
    if status is not None:
        query = query.where(table.c.status == status)
    return _dicts(conn.execute(query.order_by(table.c.seq).limit(limit)))


def resolve_review(conn: Connection, seqs: Sequence[int], *, status: str) -> int:
    """Release or reject held items (by ``seq``). Returns how many were still held."""
    if status not in REVIEW_STATUSES[1:]:
        raise ValueError(f"a review ends 'released' or 'rejected', not {status!r}")
    table = schema.review_queue
    changed = 0
    for chunk in _chunks(list(seqs)):
        stmt = (
            update(table)
            .where(table.c.seq.in_(chunk), table.c.status == "held")
            .values(status=status)
        )
        changed += _count(conn.execute(stmt))
    return changed


# -- forensic capture ------------------------------------------------------------------------


def start_forensic(
    conn: Connection, key_ids: Iterable[str], *, until: float, incident_id: int | None = None
) -> int:
    """Capture full requests of these keys until ``until``. A capture already running past
    ``until`` is left alone; a shorter one is extended. Returns how many keys' captures were
    started or extended."""
    rows = [{"key_id": k, "until": until, "incident_id": incident_id} for k in _unique(key_ids)]
    if not rows:
        return 0
    table = schema.forensic
    stmt = dialect_insert(conn)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key_id],
        set_={"until": stmt.excluded.until, "incident_id": stmt.excluded.incident_id},
        where=table.c.until < stmt.excluded.until,
    )
    return _count(conn.execute(stmt.execution_options(**_PRESERVE), rows))


def forensic_keys(conn: Connection, now: float) -> set[str]:
    """Keys whose requests are captured at ``now``."""
    table = schema.forensic
    return set(conn.execute(select(table.c.key_id).where(table.c.until > now)).scalars())


def forensic_until(conn: Connection, now: float) -> dict[str, float]:
    """Keys captured at ``now`` and until when."""
    table = schema.forensic
    rows = conn.execute(select(table.c.key_id, table.c.until).where(table.c.until > now))
    return {key: float(until) for key, until in rows}


def log_forensic(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Store captured requests: mappings with ``key_id``, ``ts`` and ``request`` (JSON:
    method, path, headers without secrets, body)."""
    if not rows:
        return 0
    params = [
        {"key_id": row["key_id"], "ts": row["ts"], "request": _json(row["request"])} for row in rows
    ]
    conn.execute(insert(schema.forensic_log), params)
    return len(params)


# -- drills and snapshots --------------------------------------------------------------------


def record_drill(
    conn: Connection,
    *,
    scenario: str,
    started: float,
    record: Any,
    finished: float | None = None,
    passed: bool | None = None,
    evidence: str | None = None,
) -> int:
    """Store a drill (``record``: its JSON record). Returns the drill's id."""
    stmt = insert(schema.drills).values(
        scenario=scenario,
        started=started,
        finished=finished,
        passed=passed,
        record=_json(record),
        evidence=evidence,
    )
    key = conn.execute(stmt).inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_drill(
    conn: Connection,
    drill_id: int,
    *,
    finished: float,
    passed: bool,
    record: Any,
    evidence: str | None = None,
) -> None:
    """Record how drill ``drill_id`` ended."""
    table = schema.drills
    values = {"finished": finished, "passed": passed, "record": _json(record)}
    if evidence is not None:
        values["evidence"] = evidence
    result = conn.execute(update(table).where(table.c.id == drill_id).values(**values))
    if _count(result) != 1:
        raise KeyError(f"no drill has id {drill_id}")


def drills(
    conn: Connection,
    *,
    scenario: str | None = None,
    since: float | None = None,
    passed: bool | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The latest ``limit`` drills, newest first; only those of ``scenario``, started at or
    after ``since`` and with outcome ``passed`` when given."""
    table = schema.drills
    query = select(table)
    if scenario is not None:
        query = query.where(table.c.scenario == scenario)
    if since is not None:
        query = query.where(table.c.started >= since)
    if passed is not None:
        query = query.where(table.c.passed.is_(passed))
    query = query.order_by(table.c.started.desc(), table.c.id.desc()).limit(limit)
    return _dicts(conn.execute(query))


def record_snapshot(
    conn: Connection, *, ts: float, events: int, evidence: str, incident_id: int | None = None
) -> int:
    """Record a snapshot of ``events`` events stored as evidence ``evidence`` (its sha256).
    Returns the snapshot's id."""
    stmt = insert(schema.snapshots).values(
        incident_id=incident_id, ts=ts, events=events, evidence=evidence
    )
    key = conn.execute(stmt).inserted_primary_key
    assert key is not None
    return int(key[0])


def snapshots(conn: Connection, *, incident_id: int | None = None) -> list[dict[str, Any]]:
    """Snapshots in the order they were taken (of one incident, if given)."""
    table = schema.snapshots
    query = select(table)
    if incident_id is not None:
        query = query.where(table.c.incident_id == incident_id)
    return _dicts(conn.execute(query.order_by(table.c.ts, table.c.id)))
