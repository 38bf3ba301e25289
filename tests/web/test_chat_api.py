"""The web chat API over HTTP, on SQLite and on the real PostgreSQL: every route, outcomes,
idempotent retries, verified identity, limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.identity import identity_hash
from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, EndUser, Escalation, Feedback, Organization, Turn

from .knowledge import EN_QUESTION, IDENTITY_SECRET, JA_QUESTION, UNKNOWN_QUESTION

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"


def start(client, **body) -> str:
    response = client.post(API, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ask(client, conversation_id: str, text: str, **extra) -> dict:
    response = client.post(f"{API}/{conversation_id}/messages", json={"text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def count(database_url: str, model, **where) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            query = select(func.count()).select_from(model)
            for column, value in where.items():
                query = query.where(getattr(model, column) == value)
            return session.exec(query).one()
    finally:
        engine.dispose()


def test_a_confident_answer_carries_markdown_safe_html_and_linked_sources(client) -> None:
    conversation_id = start(client, locale="en", visitor_id="visitor-1")
    reply = ask(client, conversation_id, EN_QUESTION)
    answer = reply["answer"]
    assert reply["quiet"] is False and answer["confident"] is True
    assert answer["text"].startswith("Open **Settings › Members**")
    assert "<strong>Settings › Members</strong>" in answer["html"]
    # The relative link in the content points at our knowledge page, opened in a new tab.
    assert 'href="http://testserver/knowledge/en/manual/members.md#inviting" target="_blank" rel="noopener noreferrer"' in answer["html"]
    top = answer["sources"][0]
    assert {key: top[key] for key in ("id", "title", "path", "heading")} == {
        "id": "invite-member", "title": EN_QUESTION, "path": "en/faq/members.md", "heading": f"Members › {EN_QUESTION}",
    }  # fmt: skip
    assert top["url"] == f"http://testserver/knowledge/en/faq/members.md#L{top['line']}" and top["score"] > 0.5
    assert client.get(top["url"].removeprefix("http://testserver")).text.count(f'id="L{top["line"]}"') == 1


def test_japanese_question_gets_the_japanese_answer(client) -> None:
    answer = ask(client, start(client), JA_QUESTION)["answer"]
    assert answer["confident"] and answer["sources"][0]["id"] == "ja-invite-member"
    assert "メンバーを招待" in answer["text"]


def test_an_unconfident_answer_says_so_and_offers_a_person(client, database_url) -> None:
    conversation_id = start(client)
    answer = ask(client, conversation_id, UNKNOWN_QUESTION)["answer"]
    assert answer["confident"] is False
    assert "don't know" in answer["text"] and "talk to a person" in answer["text"]
    assert count(database_url, Turn, conversation_id=conversation_id, answered=False) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "the question is empty"), ("x" * 1001, "the question is too long: 1001 characters, at most 1000")],
)
def test_bad_questions_are_refused_with_a_clear_message(client, database_url, text: str, message: str) -> None:
    conversation_id = start(client)
    response = client.post(f"{API}/{conversation_id}/messages", json={"text": text})
    assert response.status_code == 422 and response.json()["detail"] == message
    assert count(database_url, Turn) == 0


@pytest.mark.parametrize("bad_id", ["0" * 32, "not-an-id", "x" * 300, "'; DROP TABLE turns; --"])
def test_unknown_or_malformed_ids_are_404(client, bad_id: str) -> None:
    assert client.get(f"{API}/{bad_id}").status_code == 404
    assert client.post(f"{API}/{bad_id}/messages", json={"text": "hi"}).status_code == 404
    assert client.post(f"{API}/{bad_id}/feedback", json={"turn_id": "0" * 32, "helpful": True}).status_code == 404
    assert client.post(f"{API}/{bad_id}/escalate", json={"reason": "help"}).status_code == 404


def test_feedback_on_a_turn_of_another_conversation_is_404(client) -> None:
    mine, other = start(client), start(client)
    their_turn = ask(client, other, EN_QUESTION)["turn_id"]
    assert client.post(f"{API}/{mine}/feedback", json={"turn_id": their_turn, "helpful": True}).status_code == 404
    assert client.post(f"{API}/{mine}/feedback", json={"turn_id": "nope", "helpful": True}).status_code == 404


def test_identity_right_hash_records_the_user_and_organization(client, database_url) -> None:
    user = {"id": "u-1", "org_id": "acme", "hash": identity_hash(IDENTITY_SECRET, "u-1", "acme")}
    conversation_id = start(client, user=user)
    assert count(database_url, Conversation, id=conversation_id, user_id="u-1", org_id="acme") == 1
    assert count(database_url, EndUser, id="u-1", org_id="acme") == 1 and count(database_url, Organization, id="acme") == 1


@pytest.mark.parametrize(
    "user",
    [
        {"id": "u-1", "org_id": "acme", "hash": identity_hash("another-secret", "u-1", "acme")},
        {"id": "u-1", "org_id": "other-org", "hash": identity_hash(IDENTITY_SECRET, "u-1", "acme")},
        {"id": "u-1", "org_id": "acme", "hash": "0" * 64},
    ],
)
def test_identity_wrong_hash_is_401_and_records_nothing(client, database_url, user: dict) -> None:
    response = client.post(API, json={"user": user})
    assert response.status_code == 401 and "hash does not match" in response.json()["detail"]
    assert count(database_url, Conversation) == 0 and count(database_url, EndUser) == 0


def test_identity_missing_hash_is_422_and_no_user_is_anonymous(client, database_url) -> None:
    assert client.post(API, json={"user": {"id": "u-1", "org_id": "acme"}}).status_code == 422
    conversation_id = start(client, visitor_id="anon-1")
    assert count(database_url, Conversation, id=conversation_id, visitor_id="anon-1", user_id=None, org_id=None) == 1
    assert count(database_url, EndUser) == 0


def test_identity_without_a_server_secret_is_401(make_client) -> None:
    client = make_client(identity_secret="")
    user = {"id": "u-1", "org_id": "acme", "hash": identity_hash("", "u-1", "acme")}
    response = client.post(API, json={"user": user})
    assert response.status_code == 401 and "JISO_IDENTITY_SECRET" in response.json()["detail"]


def test_outcome_via_the_api_quiet_window_and_reopen(make_client, database_url) -> None:
    within = make_client()  # 24 h quiet window
    after = make_client(assume_resolved_after=timedelta(0))  # the same ledger, read after the window

    def outcome(conversation_id: str, client) -> str:
        return client.get(f"{API}/{conversation_id}").json()["outcome"]

    answered = start(within)
    first = ask(within, answered, EN_QUESTION)["turn_id"]
    assert (outcome(answered, within), outcome(answered, after)) == ("open", "resolved_assumed")

    declined = start(within)
    ask(within, declined, UNKNOWN_QUESTION)
    assert (outcome(declined, within), outcome(declined, after)) == ("open", "unanswered")

    voted_down = start(within)
    turn = ask(within, voted_down, EN_QUESTION)["turn_id"]
    response = within.post(f"{API}/{voted_down}/feedback", json={"turn_id": turn, "helpful": False})
    assert response.json() == {"turn_id": turn, "helpful": False, "outcome": "open"}
    assert outcome(voted_down, after) == "unanswered"

    # Confirmed, then reopened by a new question: the confirmation no longer stands.
    response = within.post(f"{API}/{answered}/feedback", json={"turn_id": first, "helpful": True})
    assert response.json()["outcome"] == "resolved_confirmed" and outcome(answered, after) == "resolved_confirmed"
    ask(within, answered, UNKNOWN_QUESTION)
    assert (outcome(answered, within), outcome(answered, after)) == ("open", "unanswered")
    assert count(database_url, Conversation, id=answered, reopened_count=1) == 1


def test_hand_over_keeps_the_bot_quiet_until_a_new_question(client, database_url) -> None:
    conversation_id = start(client)
    ask(client, conversation_id, UNKNOWN_QUESTION)
    response = client.post(f"{API}/{conversation_id}/escalate", json={"reason": "wants a person"})
    assert response.status_code == 201
    assert response.json()["outcome"] == "escalated" and response.json()["destinations"] == []

    quiet = ask(client, conversation_id, "My workspace id is 1234, if that helps")
    assert quiet["quiet"] is True and quiet["answer"] is None
    again = ask(client, conversation_id, EN_QUESTION, new_question=True)
    assert again["quiet"] is False and again["answer"]["confident"] is True

    transcript = client.get(f"{API}/{conversation_id}").json()
    assert transcript["outcome"] == "escalated" and transcript["handed_over"] is False
    assert [turn["question"] for turn in transcript["turns"]] == [UNKNOWN_QUESTION, "My workspace id is 1234, if that helps", EN_QUESTION]
    assert [turn["answer"] is None for turn in transcript["turns"]] == [False, True, False]
    assert [e["reason"] for e in transcript["escalations"]] == ["wants a person"]
    assert count(database_url, Escalation, conversation_id=conversation_id) == 1


def test_transcript_shows_votes_and_answers(client) -> None:
    conversation_id = start(client, locale="en")
    turn = ask(client, conversation_id, EN_QUESTION)["turn_id"]
    client.post(f"{API}/{conversation_id}/feedback", json={"turn_id": turn, "helpful": True})
    body = client.get(f"{API}/{conversation_id}").json()
    assert body["id"] == conversation_id and body["channel"] == "web" and body["locale"] == "en"
    assert body["outcome"] == "resolved_confirmed"
    assert [(t["seq"], t["feedback"], t["answer"]["confident"]) for t in body["turns"]] == [(1, True, True)]


@pytest.mark.parametrize(
    ("path", "body", "model"),
    [
        ("", {"visitor_id": "v"}, Conversation),
        ("/messages", {"text": EN_QUESTION}, Turn),
        ("/feedback", {"helpful": True}, Feedback),
        ("/escalate", {"reason": "help"}, Escalation),
    ],
)
def test_a_request_retried_three_times_makes_one_record(client, database_url, path: str, body: dict, model) -> None:
    conversation_id = start(client) if path else None
    if path == "/feedback":
        body = {**body, "turn_id": ask(client, conversation_id, EN_QUESTION)["turn_id"]}
    url = f"{API}/{conversation_id}{path}" if path else API
    before = count(database_url, model)
    responses = [client.post(url, json=body, headers={"Idempotency-Key": "retry-1"}) for _ in range(3)]
    assert len({response.status_code for response in responses}) == 1 and responses[0].status_code in (200, 201)
    assert responses[1].json() == responses[2].json() == responses[0].json()
    assert [response.headers.get("Idempotent-Replayed") for response in responses] == [None, "true", "true"]
    assert count(database_url, model) == before + 1


def test_an_idempotency_key_reused_for_another_body_is_refused(client, database_url) -> None:
    conversation_id = start(client)
    url = f"{API}/{conversation_id}/messages"
    assert client.post(url, json={"text": EN_QUESTION}, headers={"Idempotency-Key": "k"}).status_code == 200
    response = client.post(url, json={"text": JA_QUESTION}, headers={"Idempotency-Key": "k"})
    assert response.status_code == 422 and "already used for a different request body" in response.json()["detail"]
    assert count(database_url, Turn) == 1


def test_a_failed_keyed_request_can_be_retried(client, database_url) -> None:
    conversation_id = start(client)
    url = f"{API}/{conversation_id}/feedback"
    missing = client.post(url, json={"turn_id": "0" * 32, "helpful": True}, headers={"Idempotency-Key": "k"})
    assert missing.status_code == 404
    assert client.post(url, json={"turn_id": "0" * 32, "helpful": True}, headers={"Idempotency-Key": "k"}).status_code == 404


def test_body_size_limit_is_413(client) -> None:
    conversation_id = start(client)
    big = {"text": "x" * 20_000}
    assert client.post(f"{API}/{conversation_id}/messages", json=big).status_code == 413

    def chunked():  # no Content-Length: the limit still holds
        yield b'{"text": "'
        yield b"x" * 20_000
        yield b'"}'

    response = client.post(f"{API}/{conversation_id}/messages", content=chunked(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "at most 16384 bytes" in response.json()["detail"]


def test_rate_limits_per_visitor_and_per_ip_answer_429_with_retry_after(make_client) -> None:
    client = make_client(rate_limit_per_visitor="3/minute", rate_limit_per_ip="50/minute")
    conversation_id = start(client, visitor_id="chatty")  # starting a conversation counts too
    statuses = [client.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION}).status_code for _ in range(3)]
    limited = client.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION})
    assert statuses == [200, 200, 429] and limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60 and "too many messages" in limited.json()["detail"]
    assert ask(client, start(client, visitor_id="someone-else"), EN_QUESTION)["answer"]["confident"]

    strict = make_client(rate_limit_per_ip="2/minute")
    assert [strict.post(API, json={}).status_code for _ in range(3)] == [201, 201, 429]
    assert "Retry-After" in strict.post(API, json={}).headers


def test_cors_allows_only_the_configured_origins(make_client) -> None:
    client = make_client(allowed_origins=["https://app.tasklane.example"])
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,idempotency-key"}
    allowed = client.options(API, headers={"Origin": "https://app.tasklane.example", **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.tasklane.example"
    refused = client.options(API, headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers


def test_openapi_documents_every_chat_route(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/conversations", "/api/v1/conversations/{conversation_id}", "/api/v1/conversations/{conversation_id}/messages",
            "/api/v1/conversations/{conversation_id}/feedback", "/api/v1/conversations/{conversation_id}/escalate"} <= set(paths)  # fmt: skip
    message = paths["/api/v1/conversations/{conversation_id}/messages"]["post"]
    assert "Idempotency-Key" in {parameter["name"] for parameter in message["parameters"]}


def test_the_stateless_ask_route_has_the_widgets_limits(make_client) -> None:
    # Public and running the models on every call: the same per-address limit and question length.
    client = make_client(rate_limit_per_ip="3/minute", max_question_chars=40)
    too_long = client.post("/api/v1/ask", json={"question": "x" * 41})
    assert too_long.status_code == 422 and too_long.json()["detail"] == "the question is too long: 41 characters, at most 40"
    statuses = [client.post("/api/v1/ask", json={"question": "How do I invite a teammate?"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
