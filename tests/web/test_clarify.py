"""Ask when unsure: "Did you mean…" with the plausible entries, a pick recorded as the answer, and
"None of these" as a decline — on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, Turn

from .knowledge import EN_QUESTION
from .test_chat_api import API, ask, start

pytestmark = pytest.mark.integration
NEVER_SURE = {"en": 1.01, "ja": 1.01}  # the fake calibration never answers outright…
ALWAYS_ASK = {"en": 0.0, "ja": 0.0}  # …and always asks which entry is meant


@pytest.fixture
def unsure(make_client):
    return make_client(answer_at=NEVER_SURE, clarify_at=ALWAYS_ASK, admin_api_key="admin-key")


def turns(database_url: str) -> list[Turn]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(Turn).order_by(Turn.seq)))
    finally:
        engine.dispose()


def test_unsure_it_asks_which_entry_is_meant_and_the_pick_is_the_answer(unsure, database_url) -> None:
    conversation_id = start(unsure)
    reply = ask(unsure, conversation_id, EN_QUESTION)
    answer = reply["answer"]
    assert answer["decision"] == "clarify" and not answer["confident"]
    assert answer["text"].startswith("I found a few entries")
    choices = {choice["id"]: choice for choice in answer["choices"]}
    assert "invite-member" in choices and 2 <= len(choices) <= 3
    assert choices["invite-member"]["url"].endswith("/knowledge/en/faq/members.md#L9")

    picked = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": "invite-member"})
    assert picked.status_code == 200, picked.text
    shown = picked.json()["answer"]
    assert shown["decision"] == "answer" and shown["confident"] and "Invite members" in shown["text"]
    again = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": "invite-member"})
    assert again.json()["turn_id"] == picked.json()["turn_id"]  # a double click picks once

    asked, pick = turns(database_url)
    assert (asked.kind, pick.kind, pick.picked_from, pick.entry_id, pick.question) == ("clarify", "answered", asked.id, "invite-member", EN_QUESTION)
    conversation = unsure.get(f"{API}/{conversation_id}").json()
    assert conversation["outcome"] == "open" and conversation["turns"][1]["answer"]["decision"] == "answer"
    assert conversation["turns"][0]["answer"]["choices"]  # the restored conversation shows the choices again…
    assert conversation["turns"][0]["answer"]["picked"] == "invite-member"  # …and which one was picked


def test_none_of_these_declines_and_offers_a_person(unsure, database_url) -> None:
    conversation_id = start(unsure)
    reply = ask(unsure, conversation_id, EN_QUESTION)
    none = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": None})
    assert none.status_code == 200, none.text
    assert none.json()["answer"]["decision"] == "decline" and none.json()["answer"]["text"].startswith("I don't know")
    assert [turn.kind for turn in turns(database_url)] == ["clarify", "declined"]
    engine = make_engine(database_url)
    with Session(engine) as session:
        assert not session.exec(select(Conversation)).one().last_turn_answered  # the outcome rules see a decline
    engine.dispose()


def test_a_pick_that_was_not_offered_or_of_an_answer_is_refused(unsure, client) -> None:
    conversation_id = start(unsure)
    reply = ask(unsure, conversation_id, EN_QUESTION)
    wrong = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": "billing"})
    assert wrong.status_code == 422 and "was not one of the choices" in wrong.json()["detail"]
    missing = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": "f" * 32, "entry_id": None})
    assert missing.status_code == 404

    sure_conversation = start(client)
    answered = ask(client, sure_conversation, EN_QUESTION)
    assert answered["answer"]["decision"] == "answer"
    not_asked = client.post(f"{API}/{sure_conversation}/choose", json={"turn_id": answered["turn_id"], "entry_id": "invite-member"})
    assert not_asked.status_code == 409 and "did not ask which entry is meant" in not_asked.json()["detail"]


def test_a_short_unsure_follow_up_is_read_with_the_previous_question(client, database_url) -> None:
    conversation_id = start(client)
    assert ask(client, conversation_id, EN_QUESTION)["answer"]["decision"] == "answer"
    follow_up = ask(client, conversation_id, "and for owners?")
    assert follow_up["answer"]["decision"] == "answer" and follow_up["answer"]["sources"][0]["id"] == "invite-member"
    alone = ask(client, start(client), "and for owners?")
    assert alone["answer"]["decision"] == "decline"  # without a previous question it stays unsure
    assert [turn.question for turn in turns(database_url)][:2] == [EN_QUESTION, "and for owners?"]  # recorded as typed


def test_a_pick_after_the_hand_over_is_refused_and_the_hand_over_stands(unsure, database_url) -> None:
    conversation_id = start(unsure)
    reply = ask(unsure, conversation_id, EN_QUESTION)
    assert unsure.post(f"{API}/{conversation_id}/escalate", json={"reason": "wants a person"}).status_code == 201
    late = unsure.post(f"{API}/{conversation_id}/choose", json={"turn_id": reply["turn_id"], "entry_id": "invite-member"})
    assert late.status_code == 409 and "handed over" in late.json()["detail"]
    assert unsure.get(f"{API}/{conversation_id}").json()["handed_over"]


def test_a_short_message_with_no_word_the_knowledge_knows_is_no_follow_up(client) -> None:
    conversation_id = start(client)
    assert ask(client, conversation_id, EN_QUESTION)["answer"]["decision"] == "answer"
    thanks = ask(client, conversation_id, "thanks!")
    assert thanks["answer"]["decision"] == "decline"  # not the previous answer again


def test_a_question_answered_by_a_pick_is_no_content_gap(unsure) -> None:
    answered, left = start(unsure), start(unsure)
    reply = ask(unsure, answered, "bring a colleague aboard")
    assert unsure.post(f"{API}/{answered}/choose", json={"turn_id": reply["turn_id"], "entry_id": "invite-member"}).status_code == 200
    ask(unsure, left, "what about the quantum capacitor")  # asked, never picked: a gap
    gaps = unsure.get("/api/v1/reports/gaps", headers={"Authorization": "Bearer admin-key"})
    assert gaps.status_code == 200, gaps.text
    examples = [example for cluster in gaps.json()["clusters"] for example in cluster["examples"]]
    assert "what about the quantum capacitor" in examples and "bring a colleague aboard" not in examples
