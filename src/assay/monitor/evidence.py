"""Evidence that several replicas share: the repository's attach interface over the database.

A monitor on PostgreSQL usually runs as several replicas, often on different hosts, so no one
evidence folder is theirs to write. :class:`SharedEvidence` offers the part of
:class:`~assay.evidence.Repository` the monitor uses — :meth:`~SharedEvidence.attach`,
:meth:`~SharedEvidence.attachments_of_kind`, :meth:`~SharedEvidence.get` — with content-
addressed objects and the attachment index in the shared database (``evidence_objects``,
``evidence_attachments``). Records are the same ``assay.attachment/1`` documents the folder
repository writes, so nothing is translated: :meth:`~SharedEvidence.sync` replays them, in
order and at their original times, into an evidence folder's hash-chained ledger (the lease
holder does so every turn when it has a folder; ``assay monitor evidence-sync`` on demand),
where the audit's ``monitoring.readiness`` check and ``assay export`` find them. A record is
never deleted; ``synced_seq`` tells which ledger entry holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from assay._version import __version__
from assay.evidence import Attachment, StoredAttachment
from assay.evidence._ledger import iso_utc
from assay.evidence.attachment import check_kind
from assay.monitor.store import schema
from assay.monitor.store.db import Database, dialect_insert
from assay.run import sha256_hex


class SharedEvidence:
    """Attachments to an audit run, kept in the monitor's shared database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def attach(
        self,
        run_ref: str,
        kind: str,
        files: Sequence[tuple[str, str, bytes]],
        *,
        now: datetime | None = None,
    ) -> StoredAttachment:
        """Store ``files`` (``(name, media type, bytes)``) as an attachment of ``kind`` to run
        ``run_ref`` (a full run id). Objects are written once (content-addressed); the record
        is committed with them in one transaction."""
        check_kind(kind)
        when = now or datetime.now(UTC)
        record = Attachment.build(
            run=run_ref, kind=kind, created=iso_utc(when), tool_version=__version__, files=files
        )
        raw = record.to_bytes()
        record_id = sha256_hex(raw)
        created = when.timestamp()
        objects = [(sha256_hex(data), data) for _, _, data in files] + [(record_id, raw)]
        with self.db.begin() as conn:
            insert = dialect_insert(conn)
            stmt = insert(schema.evidence_objects).on_conflict_do_nothing(
                index_elements=[schema.evidence_objects.c.sha256]
            )
            conn.execute(stmt, [{"sha256": s, "data": d, "created": created} for s, d in objects])
            stmt = insert(schema.evidence_attachments).on_conflict_do_nothing(
                index_elements=[schema.evidence_attachments.c.id]
            )
            conn.execute(
                stmt,
                {"id": record_id, "run": run_ref, "kind": kind, "created": created},
            )
            seq = conn.execute(
                select(schema.evidence_attachments.c.seq).where(
                    schema.evidence_attachments.c.id == record_id
                )
            ).scalar_one()
        return StoredAttachment(seq=int(seq), id=record_id, attachment=record)

    def get(self, sha256: str) -> bytes:
        """An object's bytes; :class:`KeyError` naming it if it is not stored."""
        with self.db.connect() as conn:
            data = conn.execute(
                select(schema.evidence_objects.c.data).where(
                    schema.evidence_objects.c.sha256 == sha256
                )
            ).scalar()
        if data is None:
            raise KeyError(f"no evidence object sha256:{sha256} in {self.db.display_url}")
        return bytes(data)

    def attachments_of_kind(self, kind: str, *, limit: int = 100) -> list[StoredAttachment]:
        """The newest ``limit`` attachments of ``kind``, newest first."""
        check_kind(kind)
        table = schema.evidence_attachments
        with self.db.connect() as conn:
            rows = conn.execute(
                select(table.c.seq, table.c.id)
                .where(table.c.kind == kind)
                .order_by(table.c.seq.desc())
                .limit(limit)
            ).all()
        return [self._stored(int(seq), str(record_id)) for seq, record_id in rows]

    def _stored(self, seq: int, record_id: str) -> StoredAttachment:
        return StoredAttachment(
            seq=seq, id=record_id, attachment=Attachment.from_bytes(self.get(record_id))
        )

    def sync(self, repository: Any, *, limit: int = 1000) -> int:
        """Replay attachments not yet in ``repository`` (a folder
        :class:`~assay.evidence.Repository` holding their runs) into its ledger, oldest first,
        at their original times; returns how many. Attachments of runs the folder does not
        hold stay unsynced (another folder may hold them)."""
        table = schema.evidence_attachments
        with self.db.connect() as conn:
            rows = conn.execute(
                select(table.c.seq, table.c.id)
                .where(table.c.synced_seq.is_(None))
                .order_by(table.c.seq)
                .limit(limit)
            ).all()
        synced = 0
        for seq, record_id in rows:
            stored = self._stored(int(seq), str(record_id))
            record = stored.attachment
            if not _holds(repository, record.run):
                continue
            files = [(f.name, f.media_type, self.get(f.sha256)) for f in record.files]
            when = datetime.strptime(record.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            entry = repository.attach(record.run, record.kind, files, now=when)
            with self.db.begin() as conn:
                conn.execute(
                    update(table)
                    .where(table.c.seq == seq, table.c.synced_seq.is_(None))
                    .values(synced_seq=int(entry.seq))
                )
            synced += 1
        return synced


def _holds(repository: Any, run_id: str) -> bool:
    from assay.errors import RunNotFoundError

    try:
        repository.resolve(run_id)
    except RunNotFoundError:
        return False
    return True
