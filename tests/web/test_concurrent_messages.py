"""Twenty questions posted at once to one web conversation: every one answered and recorded once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, select

from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, Turn

from .knowledge import EN_QUESTION

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"
CONCURRENT = 20


def test_concurrent_messages_are_each_answered_and_recorded_once(make_client, database_url) -> None:
    client = make_client(rate_limit_per_visitor="100/minute", rate_limit_per_ip="100/minute")
    conversation_id = client.post(API, json={}).json()["id"]

    def post(number: int):
        return client.post(f"{API}/{conversation_id}/messages", json={"text": f"{EN_QUESTION} ({number})"})

    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        responses = list(pool.map(post, range(CONCURRENT)))

    assert [response.status_code for response in responses] == [200] * CONCURRENT, [r.text for r in responses if r.status_code != 200]
    turn_ids = {response.json()["turn_id"] for response in responses}
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            turns = session.exec(select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.seq)).all()
            assert {turn.id for turn in turns} == turn_ids
            assert [turn.seq for turn in turns] == list(range(1, CONCURRENT + 1))
            assert session.get(Conversation, conversation_id).turn_count == CONCURRENT
    finally:
        engine.dispose()
