"""Only real questions are gaps: not what the user writes to a person after a hand-over, and not a
question the knowledge indexed now answers with confidence (an entry was written since)."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bot.ledger import writes
from tests.reports.conftest import ADMIN_KEY, bearer

pytestmark = pytest.mark.integration
UNKNOWN = "Can the quantum flux capacitor bake bread on Tuesdays?"


def test_messages_to_a_person_and_questions_answered_now_are_not_gaps(client) -> None:
    conversation_id = client.post("/api/v1/conversations", json={"locale": "en"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"})
    for note in ("We are on the Team plan and use the desktop app", "Thanks! That was quick"):
        assert client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": note}).json()["quiet"] is True
    # Asked before the entry was written: declined then, answered with confidence by the index now.
    with Session(client.app.state.db) as session:
        earlier = writes.open_conversation(session=session, channel="web", locale="en")
        writes.record_turn(session=session, conversation=earlier, question="How do I create a project?", answer_text="I don't know", answered=False, locale="en")

    gaps = client.get("/api/v1/reports/gaps", headers=bearer(ADMIN_KEY)).json()
    assert [cluster["examples"] for cluster in gaps["clusters"]] == [[UNKNOWN]]
    assert (gaps["questions"], gaps["covered"]) == (2, 1)
