"""Turns: an explicit `quiet` state, and the declined message stored for Slack turns.

Before this revision a quiet turn (a message for the team after a hand-over) was told apart only
by its empty answer text, and Slack stored no text for a declined question either. Backfill:
- a web turn without answer text was quiet (the web stored the declined message);
- a Slack turn without answer text was declined (Slack never recorded quiet turns): it gets the
  "I don't know" message it showed, in its locale (the words are copied here, as they were, so
  that this revision does not change when the bot's wording does).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DECLINED_TEXT = {
    "en": "I don't know the answer to that yet. Would you like to talk to a person? They can pick it up from here.",
    "ja": "申し訳ありません、その質問にはまだお答えできません。担当者におつなぎしましょうか？",
}


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet", sa.Boolean(), nullable=False, server_default=sa.false()))

    turns = sa.table('turns', sa.column('conversation_id', sa.String), sa.column('answer_text', sa.String), sa.column('answered', sa.Boolean),
                     sa.column('quiet', sa.Boolean), sa.column('locale', sa.String))  # fmt: skip
    conversations = sa.table("conversations", sa.column("id", sa.String), sa.column("channel", sa.String))
    slack = sa.select(conversations.c.id).where(conversations.c.channel == "slack")
    unshown = turns.c.answer_text.is_(None)
    op.execute(turns.update().where(unshown, turns.c.conversation_id.not_in(slack)).values(quiet=True, answered=False))
    declined_in_slack = [unshown, turns.c.conversation_id.in_(slack)]
    op.execute(turns.update().where(*declined_in_slack, turns.c.locale == "ja").values(answer_text=DECLINED_TEXT["ja"], answered=False))
    op.execute(turns.update().where(*declined_in_slack).values(answer_text=DECLINED_TEXT["en"], answered=False))  # English otherwise, as the bot said


def downgrade() -> None:
    turns = sa.table("turns", sa.column("answer_text", sa.String), sa.column("quiet", sa.Boolean))
    op.execute(turns.update().where(turns.c.quiet).values(answer_text=None))
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_column("quiet")
