"""Tech-touch onboarding: the weekly digest's delivery claims (one row per channel and week, so
several server instances post it once). Nudges need no table: they are events of the user.

Revision ID: 0006_onboarding_nudges
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_onboarding_nudges"
down_revision = "0005_handover_loop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("week_start", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=500), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "week_start", name="uq_digest_channel_week"),
    )


def downgrade() -> None:
    op.drop_table("digest_deliveries")
