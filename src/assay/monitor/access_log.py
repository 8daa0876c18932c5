"""The access audit log: who read what, and who was refused.

The service records a line per request that reads events, incidents or evidence (and per
refused request): when, which key (id and role), method, path, status and client address.
:class:`AccessLogWriter` keeps the request path free of database writes: :meth:`record` only
appends to an in-memory buffer, and a background thread writes the buffer in batches — when
``max_batch`` entries are waiting, every ``flush_interval_s`` seconds, and on :meth:`close`,
which writes everything still buffered (entries recorded = entries written).

If the database refuses a batch (locked, unreachable), the entries stay buffered and the
next flush tries again. Only if the outage outlasts ``max_pending`` buffered entries are the
oldest dropped (counted in :attr:`AccessLogWriter.dropped` and logged), so a dead database
cannot make the service run out of memory.

Paths are logged without the query string; the lead's middleware passes
``request.url.path``. Values longer than their columns are cut to fit, so one odd request
cannot fail a batch on PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select

from assay.monitor.clock import Clock
from assay.monitor.store.schema import access_log

log = logging.getLogger(__name__)

_WIDTHS = {"key_id": 40, "role": 20, "method": 10, "client": 100}
_PATH_MAX = 2048


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One request. ``key_id`` and ``role`` are ``None`` when no valid key was presented;
    ``seq`` is set on entries read back from the table."""

    ts: float
    key_id: str | None
    role: str | None
    method: str
    path: str
    status: int
    client: str | None = None
    seq: int | None = None

    def row(self) -> dict[str, Any]:
        """The entry as a row of ``access_log``, each value cut to its column's width."""
        values = asdict(self)
        del values["seq"]
        for column, width in _WIDTHS.items():
            value = values[column]
            if isinstance(value, str) and len(value) > width:
                values[column] = value[:width]
        if len(self.path) > _PATH_MAX:
            values["path"] = self.path[:_PATH_MAX]
        return values


class AccessLogWriter:
    """Buffers access entries and writes them to ``access_log`` in batches.

    Start it with :meth:`start` (or use it as a context manager) to flush in a background
    thread; without it, call :meth:`flush` yourself. :meth:`close` stops the thread and
    writes what is left. ``record`` is thread-safe and never touches the database.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        max_batch: int = 500,
        flush_interval_s: float = 1.0,
        max_pending: int = 200_000,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if not flush_interval_s > 0:
            raise ValueError(f"flush_interval_s must be positive, got {flush_interval_s}")
        self._engine = engine
        self._clock = clock
        self.max_batch = max_batch
        self.flush_interval_s = flush_interval_s
        self.max_pending = max(max_pending, max_batch)
        self._pending: deque[AccessEntry] = deque()
        self._lock = threading.Lock()  # guards _pending and the counters
        self._flushing = threading.Lock()  # one writer at a time, in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.recorded = 0
        self.written = 0
        self.dropped = 0
        self.failures = 0
        """Batches the database refused (they were kept and retried)."""

    # ---------------------------------------------------------------------------- recording

    def record(
        self,
        *,
        method: str,
        path: str,
        status: int,
        key_id: str | None = None,
        role: str | None = None,
        client: str | None = None,
        ts: float | None = None,
    ) -> None:
        """Buffer one request (``ts`` defaults to now on the writer's clock)."""
        self.add(
            AccessEntry(
                ts=self._clock.now() if ts is None else ts,
                key_id=key_id,
                role=role,
                method=method,
                path=path,
                status=status,
                client=client,
            )
        )

    def write(self, values: Mapping[str, Any]) -> None:
        """Buffer an entry given as a mapping with the :class:`AccessEntry` fields (``ts``,
        ``key_id``, ``role``, ``method``, ``path``, ``status``, ``client``). Keys without a
        column (``duration_ms``…) are ignored; a missing ``ts`` is now."""
        ts = values.get("ts")
        self.record(
            method=str(values["method"]),
            path=str(values["path"]),
            status=int(values["status"]),
            key_id=values.get("key_id"),
            role=values.get("role"),
            client=values.get("client"),
            ts=None if ts is None else float(ts),
        )

    def add(self, entry: AccessEntry) -> None:
        """Buffer an entry made by the caller."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the access log writer is closed")
            self._pending.append(entry)
            self.recorded += 1
            self._trim()
            full = len(self._pending) >= self.max_batch
        if full:
            self._wake.set()

    def _trim(self) -> None:
        """Drop the oldest entries past ``max_pending`` (called with the lock held)."""
        overflow = len(self._pending) - self.max_pending
        if overflow <= 0:
            return
        for _ in range(overflow):
            self._pending.popleft()
        before = self.dropped
        self.dropped += overflow
        if before == 0 or before // 10_000 != self.dropped // 10_000:
            log.error(
                "access log: the database has not taken entries for a while; "
                "%d oldest entries dropped so far",
                self.dropped,
            )

    @property
    def pending(self) -> int:
        """Entries buffered and not yet written."""
        with self._lock:
            return len(self._pending)

    # ----------------------------------------------------------------------------- flushing

    def flush(self) -> int:
        """Write every buffered entry now, in batches of ``max_batch``; returns how many
        were written. A database error leaves the unwritten entries buffered and is raised."""
        total = 0
        with self._flushing:
            while True:
                with self._lock:  # take the batch out, so an overflow cannot drop it mid-write
                    count = min(len(self._pending), self.max_batch)
                    if count == 0:
                        return total
                    batch = [self._pending.popleft() for _ in range(count)]
                try:
                    with self._engine.begin() as conn:
                        conn.execute(access_log.insert(), [entry.row() for entry in batch])
                except Exception:
                    with self._lock:
                        self.failures += 1
                        self._pending.extendleft(reversed(batch))  # back in front, in order
                        self._trim()
                    raise
                with self._lock:
                    self.written += count
                total += count

    def start(self) -> AccessLogWriter:
        """Flush in a background daemon thread (on size, on time); returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="assay-access-log", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:
                if not failing:  # once per outage, not once per second
                    log.exception(
                        "access log: writing a batch failed; %d entries kept for the next try",
                        self.pending,
                    )
                failing = True
            else:
                if failing:
                    log.warning("access log: writing works again")
                failing = False

    def close(self) -> None:
        """Stop the background thread and write everything still buffered. Raises the
        database's error if the last write fails (the entries are then lost)."""
        with self._lock:
            self._closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def __enter__(self) -> AccessLogWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_access_log(
    conn: Connection,
    *,
    since: float | None = None,
    limit: int = 1000,
    key_id: str | None = None,
) -> list[AccessEntry]:
    """Entries at or after ``since`` (all if ``None``), oldest first, at most ``limit``;
    only ``key_id``'s if given."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    query = select(access_log)
    if since is not None:
        query = query.where(access_log.c.ts >= since)
    if key_id is not None:
        query = query.where(access_log.c.key_id == key_id)
    query = query.order_by(access_log.c.ts, access_log.c.seq).limit(limit)
    return [
        AccessEntry(
            ts=row.ts,
            key_id=row.key_id,
            role=row.role,
            method=row.method,
            path=row.path,
            status=row.status,
            client=row.client,
            seq=row.seq,
        )
        for row in conn.execute(query)
    ]
