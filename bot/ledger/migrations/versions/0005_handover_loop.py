"""The hand-over loop: people's replies, closing a hand-over (who, with a note), where the Slack
hand-over message is (its thread takes the replies), an anonymous visitor's e-mail, and FAQ
drafts proposed from people's answers.

Revision ID: 0005_handover_loop
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_handover_loop"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("slack_channel", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("slack_ts", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("close_note", sa.String(length=2000), nullable=True))
        batch_op.create_index("ix_escalations_slack_thread", ["slack_channel", "slack_ts"], unique=False)
    op.create_table(
        "person_replies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("escalation_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("author_name", sa.String(length=255), nullable=True),
        sa.Column("author_ref", sa.String(length=255), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("delivery_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("delivery_key", name="uq_person_reply_delivery_key"),
    )
    op.create_index("ix_person_replies_conversation_created", "person_replies", ["conversation_id", "created_at"], unique=False)
    op.create_index("ix_person_replies_escalation_id", "person_replies", ["escalation_id"], unique=False)
    op.create_table(
        "faq_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("escalation_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("alternatives", sa.JSON(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("onboarding_step", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=255), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("escalation_id", name="uq_faq_draft_escalation"),
    )
    op.create_index("ix_faq_drafts_status", "faq_drafts", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_faq_drafts_status", table_name="faq_drafts")
    op.drop_table("faq_drafts")
    op.drop_index("ix_person_replies_escalation_id", table_name="person_replies")
    op.drop_index("ix_person_replies_conversation_created", table_name="person_replies")
    op.drop_table("person_replies")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_escalations_slack_thread")
        batch_op.drop_column("close_note")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("slack_ts")
        batch_op.drop_column("slack_channel")
        batch_op.drop_column("contact_email")
