"""A server killed between reserving an Idempotency-Key and finishing: after the lease, a retry
gets the answer the dead request already wrote, or has the work done once; never 409 forever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from bot.ledger import idempotency
from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, Escalation, IdempotentResponse, Job, Turn, utcnow

from .knowledge import EN_QUESTION

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"
KEY = {"Idempotency-Key": "crash-1"}


def crash_after_writing(database_url: str) -> None:
    """What a server killed after its write but before recording the response leaves behind."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            expired = utcnow() - timedelta(seconds=31)
            session.execute(update(IdempotentResponse).values(status_code=0, body={}, created_at=expired))
            session.commit()
    finally:
        engine.dispose()


def count(database_url: str, model) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(model)).one()
    finally:
        engine.dispose()


@pytest.mark.parametrize(("path", "body", "model"), [("", {"visitor_id": "v"}, Conversation), ("/messages", {"text": EN_QUESTION}, Turn), ("/escalate", {"reason": "help"}, Escalation)])
def test_a_retry_after_the_lease_gets_what_the_dead_request_wrote(client, database_url, path: str, body: dict, model) -> None:
    url = f"{API}/{client.post(API, json={}).json()['id']}{path}" if path else API
    first = client.post(url, json=body, headers=KEY)
    assert first.status_code in (200, 201)
    before = count(database_url, model)
    crash_after_writing(database_url)
    retried = client.post(url, json=body, headers=KEY)
    assert retried.status_code == first.status_code, retried.text
    assert retried.json() == first.json()
    assert count(database_url, model) == before
    assert client.post(url, json=body, headers=KEY).headers.get("Idempotent-Replayed") == "true"


def test_a_reservation_inside_its_lease_is_409_and_after_it_the_work_is_done_once(make_client, database_url) -> None:
    client = make_client(idempotency_lease_seconds=30)
    url = f"{API}/{client.post(API, json={}).json()['id']}/messages"
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:  # a server died right after reserving the key
            scope = f"POST {url}"
            digest = idempotency.request_hash({"text": EN_QUESTION, "new_question": False, "locale": None})
            idempotency.reserve(session=session, scope=scope, key="crash-1", payload_hash=digest, lease=timedelta(seconds=30))
            busy = client.post(url, json={"text": EN_QUESTION}, headers=KEY)
            assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
            session.execute(update(IdempotentResponse).values(created_at=utcnow() - timedelta(seconds=31)))
            session.commit()
    finally:
        engine.dispose()
    retried = client.post(url, json={"text": EN_QUESTION}, headers=KEY)
    assert retried.status_code == 200, retried.text
    assert count(database_url, Turn) == 1


def test_a_retry_after_the_lease_queues_the_follow_up_the_dead_request_did_not(make_client, database_url) -> None:
    """Killed after recording a message written after a hand-over but before queueing it for the
    people: the retry finds the turn, and queues the follow-up (once)."""
    client = make_client(escalation_webhook_url="http://127.0.0.1:9/unreachable", escalation_webhook_secret="s", escalation_retry_backoff=60)
    conversation = f"{API}/{client.post(API, json={}).json()['id']}"
    assert client.post(f"{conversation}/escalate", json={"reason": "help"}).status_code == 201
    assert client.post(f"{conversation}/messages", json={"text": "We are on the Team plan"}, headers=KEY).json()["quiet"] is True
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            session.execute(delete(Job).where(Job.kind == "handover_event"))
            session.commit()
        crash_after_writing(database_url)
        assert client.post(f"{conversation}/messages", json={"text": "We are on the Team plan"}, headers=KEY).status_code == 200
        with Session(engine) as session:
            [turn] = session.exec(select(Turn).where(Turn.quiet)).all()
            assert session.exec(select(Job.key).where(Job.kind == "handover_event")).all() == [f"follow_up:{turn.id}:webhook"]
    finally:
        engine.dispose()
