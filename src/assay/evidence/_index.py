"""The SQLite index of a repository: runs, findings, approvals and attachments, for listing.

The index is derived from the ledger and never the source of truth. It remembers the last
entry it indexed (``head_seq`` and the sha256 of that entry's file); when the ledger has moved
on it catches up, and when that entry is gone or different it is rebuilt from scratch.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.evidence.attachment import Attachment
from assay.evidence.signing import Approval
from assay.run import Run

SCHEMA_VERSION = "2"
"""Bump on any change to the tables: an index with another version is rebuilt from the ledger.
Version 2 added ``attachments``."""

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, created TEXT NOT NULL,
    system TEXT NOT NULL, version TEXT NOT NULL, verdict TEXT NOT NULL, counts TEXT NOT NULL,
    spec_sha256 TEXT NOT NULL, previous TEXT
);
CREATE TABLE findings (
    run_id TEXT NOT NULL, check_id TEXT NOT NULL, domain TEXT NOT NULL, subject TEXT NOT NULL,
    status TEXT NOT NULL, severity TEXT NOT NULL, owner TEXT NOT NULL
);
CREATE INDEX findings_run ON findings (run_id);
CREATE INDEX findings_check ON findings (check_id, subject);
CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, run_id TEXT NOT NULL, by_name TEXT NOT NULL,
    at TEXT NOT NULL, verdict TEXT NOT NULL
);
CREATE INDEX approvals_run ON approvals (run_id);
CREATE TABLE attachments (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, run_id TEXT NOT NULL, kind TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX attachments_run ON attachments (run_id, kind);
"""


@dataclass(frozen=True)
class RunSummary:
    """One stored run as ``assay runs list`` shows it, read from the index.

    ``system`` and ``version`` come from the run's ``system`` mapping (``name``, ``version``);
    ``verdict`` is ``pass`` or ``fail``; ``counts`` holds the number of findings per status.
    """

    seq: int
    id: str
    created: str
    system: str
    version: str
    verdict: str
    counts: dict[str, int]
    approved: bool


@contextmanager
def connect(path: Path | None, *, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit); ``None`` is in memory."""
    if path is None:
        target, uri = ":memory:", False
    elif read_only:
        target, uri = f"{path.resolve().as_uri()}?mode=ro", True
    else:
        target, uri = str(path), False
    with closing(sqlite3.connect(target, uri=uri, isolation_level=None, timeout=30)) as conn:
        yield conn


def create_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    conn.execute("INSERT INTO meta VALUES ('schema', ?), ('head_seq', '0')", (SCHEMA_VERSION,))


def head(conn: sqlite3.Connection) -> tuple[int, str | None] | None:
    """``(seq, entry sha256)`` of the last indexed entry; ``None`` if this is no usable index."""
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        return None
    if rows.get("schema") != SCHEMA_VERSION or "head_seq" not in rows:
        return None
    return int(rows["head_seq"]), rows.get("head_hash")


def set_head(conn: sqlite3.Connection, seq: int, entry_hash: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO meta VALUES ('head_seq', ?), ('head_hash', ?)",
        (str(seq), entry_hash),
    )


def add_run(conn: sqlite3.Connection, seq: int, run_id: str, run: Run) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            run_id,
            run.created,
            str(run.system.get("name", "")),
            str(run.system.get("version", "")),
            run.verdict.status,
            json.dumps(dict(run.verdict.counts), sort_keys=True),
            run.spec_sha256,
            run.previous,
        ),
    )
    conn.execute("DELETE FROM findings WHERE run_id = ?", (run_id,))
    conn.executemany(
        "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run_id,
                f.check_id,
                f.domain,
                f.subject,
                f.status.value,
                f.severity.value,
                f.owner,
            )
            for f in run.findings
        ],
    )


def add_approval(conn: sqlite3.Connection, seq: int, approval_id: str, approval: Approval) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?, ?)",
        (seq, approval_id, approval.run, approval.by, approval.at, approval.verdict),
    )


def add_attachment(
    conn: sqlite3.Connection, seq: int, attachment_id: str, attachment: Attachment
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO attachments VALUES (?, ?, ?, ?, ?)",
        (seq, attachment_id, attachment.run, attachment.kind, attachment.created),
    )


_RUN_COLUMNS = (
    "r.seq, r.id, r.created, r.system, r.version, r.verdict, r.counts, "
    "EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id)"
)


def _row(values: Sequence[Any]) -> RunSummary:
    return RunSummary(
        seq=values[0],
        id=values[1],
        created=values[2],
        system=values[3],
        version=values[4],
        verdict=values[5],
        counts=json.loads(values[6]),
        approved=bool(values[7]),
    )


def list_runs(conn: sqlite3.Connection) -> list[RunSummary]:
    """Every indexed run, oldest first."""
    rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs r ORDER BY r.seq").fetchall()
    return [_row(r) for r in rows]


def run_by_seq(conn: sqlite3.Connection, seq: int) -> RunSummary | None:
    row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.seq = ?", (seq,)).fetchone()
    return None if row is None else _row(row)


def runs_by_prefix(conn: sqlite3.Connection, prefix: str) -> list[RunSummary]:
    """Runs whose id starts with ``prefix`` (lower-case hex)."""
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs r WHERE substr(r.id, 1, ?) = ? ORDER BY r.seq",
        (len(prefix), prefix),
    ).fetchall()
    return [_row(r) for r in rows]


def latest_run(conn: sqlite3.Connection, *, approved: bool = False) -> RunSummary | None:
    """The newest run, or the newest run that has at least one approval."""
    where = "WHERE EXISTS (SELECT 1 FROM approvals a WHERE a.run_id = r.id)" if approved else ""
    row = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs r {where} ORDER BY r.seq DESC LIMIT 1"
    ).fetchone()
    return None if row is None else _row(row)


def approval_at(conn: sqlite3.Connection, seq: int) -> str | None:
    """The run id approved by ledger entry ``seq``, if that entry is an approval."""
    row = conn.execute("SELECT run_id FROM approvals WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def approvals_of(conn: sqlite3.Connection, run_id: str) -> list[tuple[int, str]]:
    """``(seq, approval object id)`` of each approval of ``run_id``, oldest first."""
    rows = conn.execute(
        "SELECT seq, id FROM approvals WHERE run_id = ? ORDER BY seq", (run_id,)
    ).fetchall()
    return [(int(seq), str(obj)) for seq, obj in rows]


def attachment_at(conn: sqlite3.Connection, seq: int) -> tuple[str, str] | None:
    """``(kind, run id)`` of ledger entry ``seq``, if that entry is an attachment."""
    row = conn.execute("SELECT kind, run_id FROM attachments WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def attachments_of(
    conn: sqlite3.Connection, run_id: str, kind: str | None = None
) -> list[tuple[int, str]]:
    """``(seq, attachment object id)`` of each attachment of ``run_id``, oldest first."""
    if kind is None:
        rows = conn.execute(
            "SELECT seq, id FROM attachments WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT seq, id FROM attachments WHERE run_id = ? AND kind = ? ORDER BY seq",
            (run_id, kind),
        ).fetchall()
    return [(int(seq), str(obj)) for seq, obj in rows]


def attachments_of_kind(conn: sqlite3.Connection, kind: str, limit: int) -> list[tuple[int, str]]:
    """``(seq, attachment object id)`` of the newest ``limit`` attachments of ``kind`` to any
    run, newest first."""
    rows = conn.execute(
        "SELECT seq, id FROM attachments WHERE kind = ? ORDER BY seq DESC LIMIT ?", (kind, limit)
    ).fetchall()
    return [(int(seq), str(obj)) for seq, obj in rows]
