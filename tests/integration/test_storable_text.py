"""Text from channels that cannot be answered 422 (Slack) is stored cleaned, the same on SQLite
and PostgreSQL: a NUL or a lone surrogate becomes U+FFFD."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.ledger import writes

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_unstorable_text_is_stored_cleaned_on_every_database(db_engine, bad: str) -> None:
    with Session(db_engine) as session:
        conversation = writes.open_conversation(session=session, channel="slack", external_key="T1:C1:3.0")
        turn, _ = writes.record_turn(session=session, conversation=conversation, question=f"q{bad}", answer_text=None, answered=False)
        escalation = writes.record_escalation(session=session, conversation=conversation, reason=f"r{bad}", destinations=[])
        assert (turn.question, escalation.reason) == ("q\ufffd", "r\ufffd")
