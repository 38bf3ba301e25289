"""The hand-over loop over HTTP: a helpdesk (an `agent` key) replies and closes; the user reads the
reply in the transcript; what the user writes after the hand-over reaches the webhook, signed."""

from __future__ import annotations

import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.apikeys import create_key
from bot.ledger.models import PersonReply
from tests.support import webhook_receiver

from .knowledge import EN_QUESTION, UNKNOWN_QUESTION

pytestmark = pytest.mark.integration
SECRET = "webhook-secret"


def key(client: TestClient, role: str, org: str | None = None) -> dict[str, str]:
    with Session(client.app.state.db) as session:
        _, secret = create_key(session=session, role=role, org_id=org)
    return {"Authorization": f"Bearer {secret}"}


def handed_over(client: TestClient) -> str:
    conversation_id = client.post("/api/v1/conversations", json={"locale": "en"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN_QUESTION})
    assert client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"}).status_code == 201
    return conversation_id


def test_a_persons_reply_is_listed_among_the_turns_in_time_order(client: TestClient) -> None:
    conversation_id = handed_over(client)
    agent = key(client, "agent")
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "We are on the Team plan"})
    response = client.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "Hi! Guests cannot see private projects.", "author": {"name": "Alice"}}, headers=agent)
    assert response.status_code == 201
    assert response.json()["role"] == "person" and response.json()["author"] == "Alice"
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Thanks!"})

    turns = client.get(f"/api/v1/conversations/{conversation_id}").json()["turns"]
    assert [(turn["role"], turn.get("question") or turn.get("text")) for turn in turns] == [
        ("user", UNKNOWN_QUESTION),
        ("user", "We are on the Team plan"),
        ("person", "Hi! Guests cannot see private projects."),
        ("user", "Thanks!"),
    ]
    assert turns[0]["answer"]["decision"] == "decline"  # the bot's turns keep their shape
    replies = client.get(f"/api/v1/conversations/{conversation_id}/replies").json()["replies"]
    assert [(reply["text"], reply["author"]) for reply in replies] == [("Hi! Guests cannot see private projects.", "Alice")]


def test_replies_need_an_agent_key(client: TestClient) -> None:
    conversation_id = handed_over(client)
    path = f"/api/v1/conversations/{conversation_id}/replies"
    assert client.post(path, json={"text": "hi"}).status_code == 401
    for role in ("manager", "ingest"):
        response = client.post(path, json={"text": "hi"}, headers=key(client, role))
        assert response.status_code == 403 and "needs a 'agent' key" in response.json()["detail"]
    other_org = key(client, "agent", org="other")
    assert client.post(path, json={"text": "hi"}, headers=other_org).status_code == 404  # another organization's conversation


def test_replies_to_unknown_or_not_handed_over_conversations_are_refused(client: TestClient) -> None:
    agent = key(client, "agent")
    assert client.post(f"/api/v1/conversations/{'0' * 32}/replies", json={"text": "hi"}, headers=agent).status_code == 404
    assert client.post("/api/v1/conversations/nope/replies", json={"text": "hi"}, headers=agent).status_code == 404
    conversation_id = client.post("/api/v1/conversations", json={}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": EN_QUESTION})
    response = client.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "hi"}, headers=agent)
    assert response.status_code == 409 and "was not handed over" in response.json()["detail"]
    response = client.post(f"/api/v1/conversations/{conversation_id}/close", headers=agent)
    assert response.status_code == 409 and "nothing to close" in response.json()["detail"]


def test_oversized_or_empty_replies_are_refused(client: TestClient) -> None:
    conversation_id = handed_over(client)
    agent = key(client, "agent")
    path = f"/api/v1/conversations/{conversation_id}/replies"
    assert client.post(path, json={"text": "x" * 4001}, headers=agent).status_code == 422
    assert client.post(path, json={"text": "   "}, headers=agent).status_code == 422
    assert client.post(path, json={"text": "x" * 20_000}, headers=agent).status_code == 413  # JISO_MAX_BODY_BYTES
    assert client.post(path, json={"text": "a\u0000b"}, headers=agent).status_code == 422
    assert client.get(f"/api/v1/conversations/{conversation_id}/replies").json()["replies"] == []


def test_a_retried_reply_is_recorded_once(client: TestClient) -> None:
    conversation_id = handed_over(client)
    headers = {**key(client, "agent"), "Idempotency-Key": "reply-1"}
    path = f"/api/v1/conversations/{conversation_id}/replies"

    def send(_: int):
        return client.post(path, json={"text": "On it"}, headers=headers)

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(send, range(4)))
    assert {r.status_code for r in responses} <= {201, 409}  # 409: the first was still being handled
    assert send(0).status_code == 201 and send(0).headers["Idempotent-Replayed"] == "true"
    with Session(client.app.state.db) as session:
        assert len(list(session.exec(select(PersonReply)))) == 1


def test_closing_twice_is_idempotent_and_keeps_the_first_close(client: TestClient) -> None:
    conversation_id = handed_over(client)
    agent = key(client, "agent")
    first = client.post(f"/api/v1/conversations/{conversation_id}/close", json={"note": "answered by e-mail"}, headers=agent)
    assert first.status_code == 200 and first.json()["closed_now"] is True and first.json()["note"] == "answered by e-mail"
    second = client.post(f"/api/v1/conversations/{conversation_id}/close", headers=agent)
    assert second.status_code == 200 and second.json()["closed_now"] is False
    assert second.json()["closed_at"] == first.json()["closed_at"] and second.json()["note"] == "answered by e-mail"
    conversation = client.get(f"/api/v1/conversations/{conversation_id}").json()
    assert conversation["outcome"] == "escalated"  # a person's resolution is not a deflection
    assert client.post(f"/api/v1/conversations/{conversation_id}/close", headers=key(client, "manager")).status_code == 403


def test_what_the_user_writes_after_a_hand_over_reaches_the_webhook_signed(make_client) -> None:
    with webhook_receiver([]) as receiver:
        receiver.release.set()
        client = make_client(escalation_webhook_url=receiver.url, escalation_webhook_secret=SECRET, escalation_retry_backoff=0.01)
        conversation_id = handed_over(client)
        client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "We are on the Team plan"}, headers={"Idempotency-Key": "m1"})
        client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "We are on the Team plan"}, headers={"Idempotency-Key": "m1"})  # a retry
        client.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "Thanks, checking"}, headers=key(client, "agent"))
        client.app.state.dispatcher.drain()
        bodies = [json.loads(body) for _, body in receiver.received]
        assert [body["type"] for body in bodies] == ["jiso.handover", "jiso.handover.follow_up"]  # an API reply is not echoed back
        headers, raw = receiver.received[1]
        assert headers["X-Jiso-Signature"] == "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        follow_up = bodies[1]
        assert (follow_up["conversation_id"], follow_up["escalation_id"], follow_up["text"]) == (conversation_id, bodies[0]["escalation_id"], "We are on the Team plan")


def test_closing_moves_the_summary_from_open_to_resolved_by_a_person(make_client) -> None:
    client = make_client(admin_api_key="admin-key")
    manager = key(client, "manager")
    first, second = handed_over(client), handed_over(client)

    def numbers() -> tuple:
        talk = client.get("/api/v1/reports/summary", headers=manager).json()["conversations"]
        return talk["open_escalations"], talk["resolved_by_person"], talk["escalation_rate"], talk["deflection_rate"]

    before = numbers()
    assert before[:2] == (2, 0)
    agent = key(client, "agent")
    client.post(f"/api/v1/conversations/{first}/replies", json={"text": "Done."}, headers=agent)
    assert client.post(f"/api/v1/conversations/{first}/close", headers=agent).status_code == 200
    assert numbers() == (1, 1, before[2], before[3])
    assert client.post(f"/api/v1/conversations/{first}/close", headers=agent).status_code == 200  # twice: no change
    assert numbers() == (1, 1, before[2], before[3])
    assert second
    summary = client.get("/api/v1/reports/summary", headers=manager).json()
    assert summary["kpi_version"] == "kpis-v3" and summary["conversations"]["median_time_to_close_hours"] is not None


def test_an_anonymous_visitors_e_mail_travels_with_the_hand_over(make_client) -> None:
    with webhook_receiver([]) as receiver:
        receiver.release.set()
        client = make_client(escalation_webhook_url=receiver.url, escalation_webhook_secret=SECRET, escalation_retry_backoff=0.01)
        conversation_id = client.post("/api/v1/conversations", json={}).json()["id"]
        path = f"/api/v1/conversations/{conversation_id}/escalate"
        for wrong in ("ann", "ann@example", "ann @example.com", "<ann@example.com>"):
            response = client.post(path, json={"reason": "help", "email": wrong})
            assert response.status_code == 422 and "is not an e-mail address" in response.text, wrong
        assert client.get(f"/api/v1/conversations/{conversation_id}").json()["escalations"] == []  # nothing was handed over
        assert client.post(path, json={"reason": "help", "email": " ann@example.com "}).status_code == 201
        client.app.state.dispatcher.drain()
        [(_, body)] = receiver.received
        assert json.loads(body)["contact_email"] == "ann@example.com"


def test_concurrent_closes_close_once(client: TestClient) -> None:
    conversation_id = handed_over(client)
    agent = key(client, "agent")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: client.post(f"/api/v1/conversations/{conversation_id}/close", headers=agent), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["closed_now"] for r in responses) == [False, False, False, True]
    assert len({r.json()["closed_at"] for r in responses}) == 1


def test_the_transcript_page_shows_the_reply_the_contact_and_the_close(client: TestClient) -> None:
    conversation_id = client.post("/api/v1/conversations", json={}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN_QUESTION})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "help", "email": "ann@example.com"})
    agent = key(client, "agent")
    client.post(f"/api/v1/conversations/{conversation_id}/replies", json={"text": "<b>Not</b> yet", "author": {"name": "Alice"}}, headers=agent)
    client.post(f"/api/v1/conversations/{conversation_id}/close", json={"note": "told her"}, headers=agent)
    link = client.app.state.transcript_links.link(conversation_id)
    page = client.get(link.removeprefix(client.app.state.settings.public_url)).text
    assert "contact: ann@example.com" in page and "Alice replied via api" in page
    assert "&lt;b&gt;Not&lt;/b&gt; yet" in page and "<b>Not</b>" not in page  # text, never markup
    assert "Resolved " in page and ": told her" in page
