"""Clarifications and suggested phrasings: a turn's choices, the clarification a turn answers, the
turn a short follow-up was read with, and writers' decisions on suggested alternative phrasings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("choices", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("picked_from", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("read_with", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_turns_picked_from", ["picked_from"], unique=False)
    op.create_table(
        "phrasing_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("entry_id", sa.String(length=255), nullable=False),
        sa.Column("phrasing_key", sa.String(length=1000), nullable=False),
        sa.Column("phrasing", sa.String(length=1000), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "phrasing_key", name="uq_phrasing_decision"),
    )


def downgrade() -> None:
    op.drop_table("phrasing_decisions")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index("ix_turns_picked_from")
        batch_op.drop_column("read_with")
        batch_op.drop_column("picked_from")
        batch_op.drop_column("choices")
