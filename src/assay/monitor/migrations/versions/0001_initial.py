"""The monitor's tables as of schema version 1 (assay.monitor.store.schema).

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _seq() -> sa.types.TypeEngine[int]:
    """A 64-bit auto-incrementing key; SQLite's rowid alias must be spelled INTEGER."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _pk(column: str, table: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred, _, _ = target.partition(".")
    name = op.f(f"fk_{table}_{column}_{referred}")
    return sa.ForeignKeyConstraint([column], [target], name=name)


def upgrade() -> None:
    # -- traffic (pruned by retention; AUTOINCREMENT so SQLite never reuses a pruned seq)
    op.create_table(
        "events",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("received", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=True),
        sa.Column("key_id", sa.String(200), nullable=True),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("prediction", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("output_text", sa.Text(), nullable=True),
        _pk("seq", "events"),
        sa.UniqueConstraint("id", name=op.f("uq_events_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_session", "events", ["session_id"])

    op.create_table(
        "labels",
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("label", sa.Float(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        _pk("event_id", "labels"),
    )

    op.create_table(
        "kpis",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        _pk("seq", "kpis"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_kpis_name_ts", "kpis", ["name", "ts"])

    # -- incidents and actions
    op.create_table(
        "incidents",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("signal", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("runbook", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("deadline", sa.Float(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("last_metrics", sa.Text(), nullable=True),
        sa.Column("acked_by", sa.String(200), nullable=True),
        sa.Column("acked_at", sa.Float(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        _pk("id", "incidents"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_rule_subject", "incidents", ["rule", "subject"])

    op.create_table(
        "incident_timeline",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("incident_id", _seq(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _fk("incident_timeline", "incident_id", "incidents.id"),
        _pk("seq", "incident_timeline"),
    )
    op.create_index("ix_timeline_incident", "incident_timeline", ["incident_id"])

    op.create_table(
        "actions",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        sa.Column("rule", sa.String(200), nullable=True),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("finished", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _fk("actions", "incident_id", "incidents.id"),
        _pk("seq", "actions"),
        sa.UniqueConstraint("key", name=op.f("uq_actions_key")),
    )
    op.create_index("ix_actions_started", "actions", ["started"])

    op.create_table(
        "jobs",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        _fk("jobs", "incident_id", "incidents.id"),
        _pk("id", "jobs"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("action_seq", _seq(), nullable=True),
        sa.Column("incident_id", _seq(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.Float(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Float(), nullable=True),
        _fk("outbox", "action_seq", "actions.seq"),
        _fk("outbox", "incident_id", "incidents.id"),
        _pk("id", "outbox"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt"])

    # -- the service's state
    op.create_table(
        "flags",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        _pk("name", "flags"),
    )

    op.create_table(
        "quarantine",
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("released_at", sa.Float(), nullable=True),
        _fk("quarantine", "incident_id", "incidents.id"),
        _pk("session_id", "quarantine"),
    )

    op.create_table(
        "review_queue",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _pk("seq", "review_queue"),
    )

    op.create_table(
        "revoked_keys",
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        _fk("revoked_keys", "incident_id", "incidents.id"),
        _pk("key_id", "revoked_keys"),
    )

    op.create_table(
        "forensic",
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        _fk("forensic", "incident_id", "incidents.id"),
        _pk("key_id", "forensic"),
    )

    op.create_table(
        "forensic_log",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(200), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        _pk("seq", "forensic_log"),
        sqlite_autoincrement=True,
    )

    # -- security
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("hash", sa.String(200), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("revoked_at", sa.Float(), nullable=True),
        sa.Column("replaced_by", sa.String(40), nullable=True),
        sa.Column("rate_per_second", sa.Float(), nullable=True),
        _pk("id", "api_keys"),
    )

    op.create_table(
        "access_log",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("role", sa.String(20), nullable=True),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        _pk("seq", "access_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_access_ts", "access_log", ["ts"])

    # -- drills and locking
    op.create_table(
        "drills",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("scenario", sa.String(50), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("finished", sa.Float(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("evidence", sa.String(100), nullable=True),
        _pk("id", "drills"),
    )

    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        _pk("name", "leases"),
    )

    op.create_table(
        "snapshots",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("incident_id", _seq(), nullable=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.String(100), nullable=False),
        _fk("snapshots", "incident_id", "incidents.id"),
        _pk("id", "snapshots"),
    )


def downgrade() -> None:
    for table in (
        "snapshots",
        "leases",
        "drills",
        "access_log",
        "api_keys",
        "forensic_log",
        "forensic",
        "revoked_keys",
        "review_queue",
        "quarantine",
        "flags",
        "outbox",
        "jobs",
        "actions",
        "incident_timeline",
        "incidents",
        "kpis",
        "labels",
        "events",
    ):
        op.drop_table(table)  # drops the table's indexes with it
