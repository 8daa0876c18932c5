"""Drop the index on events.session_id: random session ids scatter it, and it cost SQLite
ingest about a fifth of its rate; nothing on the ingest path reads by session (quarantine is
cached), and an investigation's GET /v1/events?session_id= scans instead.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_events_session", table_name="events")


def downgrade() -> None:
    op.create_index("ix_events_session", "events", ["session_id"], unique=False)
