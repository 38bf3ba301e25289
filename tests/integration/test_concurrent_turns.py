"""Several questions at once in one conversation (a double-click, two tabs, a busy Slack thread):
each is recorded once, with its own sequence number, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session

from bot.ledger import writes
from bot.ledger.models import Conversation, Escalation

pytestmark = pytest.mark.integration
CONCURRENT = 20


def test_concurrent_questions_in_one_conversation_are_each_recorded_once(db_engine) -> None:
    with Session(db_engine) as session:
        conversation_id = writes.open_conversation(session=session, channel="slack", external_key="T1:C1:1.0").id

    def ask(number: int) -> str:
        with Session(db_engine) as session:
            conversation = writes.get_conversation(session=session, conversation_id=conversation_id)
            turn, created = writes.record_turn(session=session, conversation=conversation, question=f"question {number}", answer_text="a", answered=True)
            assert created
            return turn.question

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        asked = list(pool.map(ask, range(CONCURRENT)))

    with Session(db_engine) as session:
        turns = writes.turns_of(session=session, conversation_id=conversation_id)
        conversation = session.get(Conversation, conversation_id)
        assert sorted(asked) == sorted(turn.question for turn in turns)
        assert [turn.seq for turn in turns] == list(range(1, CONCURRENT + 1))
        assert conversation.turn_count == CONCURRENT


def test_concurrent_redeliveries_of_one_event_record_one_turn(db_engine) -> None:
    with Session(db_engine) as session:
        conversation_id = writes.open_conversation(session=session, channel="slack", external_key="T1:C1:2.0").id

    def deliver(_: int) -> tuple[str, bool]:
        with Session(db_engine) as session:
            conversation = writes.get_conversation(session=session, conversation_id=conversation_id)
            turn, created = writes.record_turn(session=session, conversation=conversation, question="q", answer_text="a", answered=True, delivery_key="slack:event:Ev1")
            return turn.id, created

    with ThreadPoolExecutor(max_workers=8) as pool:
        deliveries = list(pool.map(deliver, range(8)))
    assert len({turn_id for turn_id, _ in deliveries}) == 1
    assert [created for _, created in deliveries].count(True) == 1


def test_destinations_recording_their_delivery_at_once_keep_each_others_status(db_engine) -> None:
    """Each destination of a hand-over reports from its own worker; none may overwrite another's."""
    destinations = [f"destination-{n}" for n in range(8)]
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="web")
        escalation_id = writes.record_escalation(session=session, conversation=conversation, reason="wants a person", destinations=destinations).id

    def deliver(destination: str) -> None:
        with Session(db_engine) as session:
            writes.record_delivery(session=session, escalation_id=escalation_id, destination=destination, status="delivered")

    with ThreadPoolExecutor(max_workers=len(destinations)) as pool:
        list(pool.map(deliver, destinations))
    with Session(db_engine) as session:
        assert session.get(Escalation, escalation_id).delivery == dict.fromkeys(destinations, "delivered")
