"""Evidence shared by replicas: content-addressed objects and attachment records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evidence_objects",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_evidence_objects")),
    )
    op.create_table(
        "evidence_attachments",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("run", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("synced_seq", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_attachments")),
        sa.UniqueConstraint("id", name=op.f("uq_evidence_attachments_id")),
    )
    op.create_index("ix_evidence_attachments_kind", "evidence_attachments", ["kind"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_evidence_attachments_kind", table_name="evidence_attachments")
    op.drop_table("evidence_attachments")
    op.drop_table("evidence_objects")
