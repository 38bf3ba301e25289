"""One conversation use case for every channel, and a turn's stored state (answered, declined,
quiet) that the reports read instead of guessing from an empty answer text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import conversations
from bot.ledger import writes
from bot.ledger.db import alembic_config, make_engine
from bot.ledger.models import Turn
from bot.messages import dont_know
from bot.reports.queries import Window, gap_questions

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("channel", ["web", "slack"])
def test_a_declined_question_is_stored_alike_on_every_channel(db_engine: Engine, channel: str) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel=channel, external_key=f"{channel}-1", locale="ja")
        asked = conversations.ask(session=session, engine=None, conversation=conversation, text="請求書はどこ？", locale="ja", delivery_key=f"{channel}:1")
        assert asked.created and asked.answer is not None and not asked.answer.confident
        assert (asked.turn.kind, asked.turn.answer_text) == ("declined", dont_know("ja"))

        again = conversations.ask(session=session, engine=None, conversation=conversation, text="請求書はどこ？", locale="ja", delivery_key=f"{channel}:1")
        assert (again.created, again.answer, again.turn.id) == (False, None, asked.turn.id)  # a redelivery: nothing new to show


def test_after_a_hand_over_a_message_is_stored_as_quiet_and_is_no_gap(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web", locale="en", now=T0)
        declined = conversations.ask(session=session, engine=None, conversation=conversation, text="Can I pay in yen?").turn
        writes.record_escalation(session=session, conversation=conversation, reason="asked for a person", destinations=[])
        quiet = conversations.ask(session=session, engine=None, conversation=conversation, text="My workspace is acme-7")
        assert quiet.created and quiet.answer is None
        assert (quiet.turn.kind, quiet.turn.quiet, quiet.turn.answered, quiet.turn.answer_text) == ("quiet", True, False, None)

        # A second hand-over is about the last question the bot declined, not the note for the team.
        escalation = writes.record_escalation(session=session, conversation=conversation, reason="still waiting", destinations=[])
        assert escalation.turn_id == declined.id

        window = Window(start=T0 - timedelta(days=1), end=T0 + timedelta(days=1), now=T0 + timedelta(days=2), quiet=timedelta(hours=24))
        gaps = gap_questions(session, window, limit=10)
        assert [row["question"] for row in gaps] == ["Can I pay in yen?"]
        assert gaps[0]["unanswered"] and gaps[0]["escalated"]


def test_a_quiet_turn_cannot_carry_an_answer(db_engine: Engine) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web")
        with pytest.raises(ValueError, match="quiet turn"):
            writes.record_turn(session=session, conversation=conversation, question="q", answer_text="a", answered=False, quiet=True)


def test_the_migration_backfills_quiet_web_turns_and_declined_slack_turns(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), "0001")
    database = make_engine(database_url)
    rows = [  # conversation, channel, turn, answer text, answered, locale
        ("cweb", "web", "t-web-answered", "Open Settings.", True, "en"),
        ("cweb", "web", "t-web-quiet", None, False, "en"),
        ("cslack", "slack", "t-slack-declined-en", None, False, "en"),
        ("cslack", "slack", "t-slack-declined-ja", None, False, "ja"),
        ("cslack", "slack", "t-slack-answered", "Open Billing.", True, "en"),
    ]
    with database.begin() as connection:
        for conversation_id, channel in {(row[0], row[1]) for row in rows}:
            connection.execute(
                text("INSERT INTO conversations (id, channel, created_at, last_activity_at, turn_count, last_turn_answered, last_turn_not_helpful, handed_over, reopened_count) "
                     "VALUES (:id, :channel, :at, :at, 0, false, false, false, 0)"),
                {"id": conversation_id, "channel": channel, "at": T0.replace(tzinfo=None)},
            )  # fmt: skip
        for seq, (conversation_id, _, turn_id, answer_text, answered, locale) in enumerate(rows, start=1):
            connection.execute(
                text("INSERT INTO turns (id, conversation_id, seq, question, answer_text, answered, confidence, sources, locale, created_at) "
                     "VALUES (:id, :conversation, :seq, 'q', :answer, :answered, 0.0, '[]', :locale, :at)"),
                {"id": turn_id, "conversation": conversation_id, "seq": seq, "answer": answer_text, "answered": answered, "locale": locale, "at": T0.replace(tzinfo=None)},
            )  # fmt: skip
    command.upgrade(alembic_config(database_url), "head")
    with Session(database) as session:
        turns = {turn_id: session.get(Turn, turn_id) for _, _, turn_id, *_ in rows}
        found = {turn_id: (turn.kind, turn.answer_text) for turn_id, turn in turns.items()}
    database.dispose()
    assert found == {
        "t-web-answered": ("answered", "Open Settings."),
        "t-web-quiet": ("quiet", None),
        "t-slack-declined-en": ("declined", dont_know("en")),
        "t-slack-declined-ja": ("declined", dont_know("ja")),
        "t-slack-answered": ("answered", "Open Billing."),
    }
