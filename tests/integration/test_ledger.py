"""The ledger's write rules and outcome derivation, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from bot.ledger import writes
from bot.ledger.models import Conversation, Feedback, Turn
from bot.ledger.outcomes import outcome_of, outcome_sql

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
QUIET = timedelta(hours=24)


def ask(session: Session, conversation: Conversation, answered: bool, at: datetime, **kwargs) -> Turn:
    turn, _ = writes.record_turn(session=session, conversation=conversation, question="q", answer_text="a" if answered else None, answered=answered, now=at, **kwargs)
    return turn


def both_outcomes(session: Session, conversation: Conversation, now: datetime) -> str:
    """The Python rule and the SQL rule must agree; return the outcome."""
    session.refresh(conversation)
    python = outcome_of(conversation, now, QUIET)
    sql = session.exec(select(outcome_sql(now, QUIET)).where(Conversation.id == conversation.id)).one()
    assert python == sql
    return python


@pytest.mark.parametrize(
    ("script", "hours_later", "expected"),
    [
        ([("ask", True)], 1, "open"),
        ([("ask", True)], 25, "resolved_assumed"),
        ([("ask", False)], 25, "unanswered"),
        ([("ask", True), ("vote", False)], 25, "unanswered"),
        ([("ask", True), ("vote", True)], 1, "resolved_confirmed"),
        ([("ask", True), ("vote", True), ("escalate", None)], 1, "escalated"),
        ([("ask", True), ("vote", True), ("ask", False)], 25, "unanswered"),  # reopened, then declined
        ([("ask", True), ("vote", True), ("ask", True)], 1, "open"),  # reopened, inside the window
        ([("ask", False), ("escalate", None), ("ask", True)], 25, "escalated"),
        ([], 25, "open"),
    ],
)
def test_outcome_derivation(db_engine, script, hours_later: int, expected: str) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web", now=T0)
        at = T0
        last = None
        for action, value in script:
            at += timedelta(minutes=5)
            if action == "ask":
                last = ask(session, conversation, value, at)
            elif action == "vote":
                writes.record_feedback(session=session, conversation=conversation, turn_id=last.id, helpful=value, now=at)
            else:
                writes.record_escalation(session=session, conversation=conversation, reason="wants a person", destinations=["webhook"], now=at)
        assert both_outcomes(session, conversation, at + timedelta(hours=hours_later)) == expected


def test_reopen_is_counted(db_engine) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web", now=T0)
        first = ask(session, conversation, True, T0)
        writes.record_feedback(session=session, conversation=conversation, turn_id=first.id, helpful=True, now=T0)
        ask(session, conversation, True, T0 + timedelta(days=2))
        session.refresh(conversation)
        assert conversation.reopened_count == 1 and conversation.confirmed_at is None


def test_redelivered_turn_and_repeated_vote_are_recorded_once(db_engine) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="slack", external_key="T1:C1:123.456", now=T0)
        again = writes.open_conversation(session=session, channel="slack", external_key="T1:C1:123.456", now=T0)
        assert again.id == conversation.id
        turns = [writes.record_turn(session=session, conversation=conversation, question="q", answer_text="a", answered=True, delivery_key="slack:event:Ev1", now=T0) for _ in range(3)]
        assert [created for _, created in turns] == [True, False, False]
        for helpful in (True, False, True):
            writes.record_feedback(session=session, conversation=conversation, turn_id=turns[0][0].id, helpful=helpful, now=T0)
        assert len(session.exec(select(Turn)).all()) == 1
        assert len(session.exec(select(Feedback)).all()) == 1
        assert session.exec(select(Feedback)).one().helpful is True


def test_timestamps_come_back_as_aware_utc(db_engine) -> None:
    with Session(db_engine) as session:
        tokyo = timezone(timedelta(hours=9))
        conversation = writes.open_conversation(session=session, channel="web", now=datetime(2026, 11, 2, 9, 0, tzinfo=tokyo))
        session.expire_all()
        stored = session.get(Conversation, conversation.id)
        assert stored.created_at == datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)
        assert stored.created_at.tzinfo is not None
