"""The monitor's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are float seconds since the Unix epoch on the service's clock
(:mod:`assay.monitor.clock`), so a drill's compressed time and a test's manual clock are
stored like real time. JSON payloads are ``Text`` holding JSON written by the service
(``pydantic_core.to_json``): one encoding on both databases, and no re-serialisation on the
ingest path. Alembic migrations (``assay/monitor/migrations``) create and evolve these tables;
the first migration is this module's ``metadata`` as of schema version 1; the second adds the
evidence tables replicas share.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: Constraint names Alembic can refer to on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

#: An auto-incrementing 64-bit key (SQLite's rowid alias must be spelled INTEGER).
SEQ = BigInteger().with_variant(Integer(), "sqlite")

# Tables that retention prunes say ``sqlite_autoincrement=True``: without it SQLite hands out
# the largest remaining rowid + 1, so once every row is pruned ``seq`` starts again at 1 and a
# reader that remembers the last ``seq`` it saw would miss new rows. PostgreSQL's sequences
# never go back.

# -------------------------------------------------------------------------------- traffic

events = Table(
    "events",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("received", Float, nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("session_id", String(200)),
    Column("key_id", String(200)),
    Column("features", Text, nullable=False),  # JSON object
    Column("prediction", Float),
    Column("score", Float),
    Column("latency_ms", Float),
    Column("output_text", Text),
    UniqueConstraint("id"),
    sqlite_autoincrement=True,
)
Index("ix_events_ts", events.c.ts)


labels = Table(
    "labels",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("label", Float, nullable=False),
    Column("ts", Float, nullable=False),
)

kpis = Table(
    "kpis",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("value", Float, nullable=False),
    sqlite_autoincrement=True,
)
Index("ix_kpis_name_ts", kpis.c.name, kpis.c.ts)

# ------------------------------------------------------------------ incidents and actions

incidents = Table(
    "incidents",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("signal", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("runbook", Text),
    Column("status", String(20), nullable=False),  # open | acknowledged | resolved
    Column("opened_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("deadline", Float),  # when the next escalation is due while unacknowledged
    Column("level", Integer, nullable=False, default=0),  # escalation levels paged so far
    Column("fired", Integer, nullable=False, default=1),  # how many windows fired the rule
    Column("last_metrics", Text),  # JSON
    Column("acked_by", String(200)),
    Column("acked_at", Float),
    Column("resolved_by", String(200)),
    Column("resolved_at", Float),
)
Index("ix_incidents_status", incidents.c.status)
Index("ix_incidents_rule_subject", incidents.c.rule, incidents.c.subject)

timeline = Table(
    "incident_timeline",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("incident_id", SEQ, ForeignKey("incidents.id"), nullable=False),
    Column("ts", Float, nullable=False),
    Column("kind", String(20), nullable=False),  # signal | action | escalation | ack | resolve
    Column("actor", String(200)),  # a key name for human steps; "monitor" otherwise
    Column("detail", Text, nullable=False),  # JSON
)
Index("ix_timeline_incident", timeline.c.incident_id)

actions = Table(
    "actions",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # idempotency key: incident, action, target
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
    Column("rule", String(200)),
    Column("action", String(50), nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("outcome", String(20), nullable=False),  # running | ok | failed | retrying
    Column("attempts", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False),  # JSON
    UniqueConstraint("key"),
)
Index("ix_actions_started", actions.c.started)

jobs = Table(
    "jobs",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("kind", String(50), nullable=False),  # retrain
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
    Column("created", Float, nullable=False),
    Column("status", String(20), nullable=False),  # queued | claimed | done | failed
    Column("payload", Text, nullable=False),  # JSON
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("kind", String(50), nullable=False),  # alert | retrain | engineering | escalation …
    Column("url", Text, nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("action_seq", SEQ, ForeignKey("actions.seq")),
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
    Column("created", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False),
    Column("status", String(20), nullable=False),  # pending | delivered | failed
    Column("last_error", Text),
    Column("delivered_at", Float),
)
Index("ix_outbox_due", outbox.c.status, outbox.c.next_attempt)

# ------------------------------------------------------------------- the service's state

flags = Table(
    "flags",
    metadata,
    Column("name", String(100), primary_key=True),  # route | degraded_mode | …
    Column("value", Text, nullable=False),  # JSON
    Column("updated", Float, nullable=False),
    Column("by", String(200)),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("session_id", String(200), primary_key=True),
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
    Column("since", Float, nullable=False),
    Column("released_at", Float),
)

review_queue = Table(
    "review_queue",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("output", Text, nullable=False),  # JSON: prediction, score, output text
    Column("status", String(20), nullable=False),  # held | released | rejected
)

revoked_keys = Table(
    "revoked_keys",
    metadata,
    Column("key_id", String(200), primary_key=True),
    Column("revoked_at", Float, nullable=False),
    Column("reason", Text, nullable=False),
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
)

forensic = Table(
    "forensic",
    metadata,
    Column("key_id", String(200), primary_key=True),
    Column("until", Float, nullable=False),
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
)

forensic_log = Table(
    "forensic_log",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("key_id", String(200), nullable=False),
    Column("ts", Float, nullable=False),
    Column("request", Text, nullable=False),  # JSON: method, path, headers (no secrets), body
    sqlite_autoincrement=True,
)

# ------------------------------------------------------------------------------ security

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),  # public key id, e.g. "k_3f9a…"
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # ingest | read | admin
    Column("hash", String(200), nullable=False),  # sha256$<hex> of the secret (keys.py)
    Column("created", Float, nullable=False),
    Column("revoked_at", Float),
    Column("replaced_by", String(40)),
    Column("rate_per_second", Float),
)

access_log = Table(
    "access_log",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("key_id", String(40)),
    Column("role", String(20)),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("client", String(100)),
    sqlite_autoincrement=True,
)
Index("ix_access_ts", access_log.c.ts)

# ------------------------------------------------------------------- drills and locking

drills = Table(
    "drills",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("scenario", String(50), nullable=False),
    Column("started", Float, nullable=False),
    Column("finished", Float),
    Column("passed", Boolean),
    Column("record", Text, nullable=False),  # JSON
    Column("evidence", String(100)),  # sha256 of the stored drill record
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires", Float, nullable=False),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", SEQ, primary_key=True, autoincrement=True),
    Column("incident_id", SEQ, ForeignKey("incidents.id")),
    Column("ts", Float, nullable=False),
    Column("events", Integer, nullable=False),
    Column("evidence", String(100), nullable=False),  # sha256 of the stored snapshot file
)

# ------------------------------------------------- evidence shared by replicas (revision 0002)

evidence_objects = Table(
    "evidence_objects",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("created", Float, nullable=False),
)

evidence_attachments = Table(
    "evidence_attachments",
    metadata,
    Column("seq", SEQ, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False),  # sha256 of the assay.attachment/1 record
    Column("run", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("synced_seq", Integer),  # its ledger entry in the folder repository, once synced
    UniqueConstraint("id"),
)
Index("ix_evidence_attachments_kind", evidence_attachments.c.kind)

SCHEMA_VERSION = 2
