"""Hand-over to a real local webhook server that fails first: retried with back-off off the
request path, signed, one recorded delivery status."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest

from bot.identity import identity_hash
from tests.support import Receiver, webhook_receiver

from .knowledge import IDENTITY_SECRET, UNKNOWN_QUESTION

pytestmark = pytest.mark.integration
SECRET = "webhook-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver([500, 503]) as state:
        yield state


def test_hand_over_is_retried_in_the_background_and_recorded_once(make_client, receiver: Receiver) -> None:
    client = make_client(escalation_webhook_url=receiver.url, escalation_webhook_secret=SECRET, escalation_retry_backoff=0.01, escalation_retry_attempts=5)
    user = {"id": "u-7", "org_id": "acme", "hash": identity_hash(IDENTITY_SECRET, "u-7", "acme")}
    conversation_id = client.post("/api/v1/conversations", json={"user": user, "locale": "en"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN_QUESTION})

    # The first delivery attempt is held by the receiver, yet the user's request completes.
    response = client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"})
    assert response.status_code == 201 and response.json()["destinations"] == ["webhook"]
    assert client.get(f"/api/v1/conversations/{conversation_id}").json()["escalations"][0]["delivery"] == {"webhook": "pending"}

    receiver.release.set()
    client.app.state.dispatcher.drain()
    assert client.get(f"/api/v1/conversations/{conversation_id}").json()["escalations"][0]["delivery"] == {"webhook": "delivered"}

    assert len(receiver.received) == 3  # 500, 503, then 200
    bodies = {body for _, body in receiver.received}
    assert len(bodies) == 1  # every retry sends the same hand-over
    headers, body = receiver.received[-1]
    assert headers["X-Jiso-Signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Jiso-Timestamp"].isdigit()
    handover = json.loads(body)
    assert handover["type"] == "jiso.handover" and handover["escalation_id"] == response.json()["escalation_id"]
    assert (handover["conversation_id"], handover["org_id"], handover["user_id"], handover["reason"]) == (conversation_id, "acme", "u-7", "needs a person")
    assert [turn["question"] for turn in handover["transcript"]] == [UNKNOWN_QUESTION]
    assert handover["transcript"][0]["answered"] is False
    assert handover["link"].startswith(f"http://127.0.0.1:8000/conversations/{conversation_id}?expires=") and "&sig=" in handover["link"]


def test_a_destination_that_keeps_failing_is_recorded_as_failed(make_client, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    receiver.release.set()
    client = make_client(escalation_webhook_url=receiver.url, escalation_webhook_secret=SECRET, escalation_retry_backoff=0.01, escalation_retry_attempts=3)
    conversation_id = client.post("/api/v1/conversations", json={}).json()["id"]
    assert client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "help"}).status_code == 201
    client.app.state.dispatcher.drain()
    delivery = client.get(f"/api/v1/conversations/{conversation_id}").json()["escalations"][0]["delivery"]
    assert len(receiver.received) == 3
    assert list(delivery) == ["webhook"] and delivery["webhook"].startswith("failed: Server error '500")


def test_a_hand_over_left_in_back_off_by_a_stopped_server_is_sent_by_another_once(make_client, receiver: Receiver) -> None:
    receiver.statuses = [500]
    receiver.release.set()
    settings = {"escalation_webhook_url": receiver.url, "escalation_webhook_secret": SECRET, "escalation_retry_attempts": 5, "escalation_retry_backoff": 3}
    first = make_client(**settings)
    conversation_id = first.post("/api/v1/conversations", json={}).json()["id"]
    assert first.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "help"}).status_code == 201
    while not receiver.received:
        receiver.release.wait(0.01)
    first.__exit__(None, None, None)  # stopped during the back-off: the job waits in the queue
    assert len(receiver.received) == 1

    second = make_client(**settings)  # another instance (or the same, restarted) sends it when due
    assert second.get("/health").json()["jobs"] == {"pending": 1, "failed": 0}
    second.app.state.dispatcher.drain()
    assert second.get(f"/api/v1/conversations/{conversation_id}").json()["escalations"][0]["delivery"] == {"webhook": "delivered"}
    assert len(receiver.received) == 2  # the failed first attempt, then the retry
    assert json.loads(receiver.received[1][1])["conversation_id"] == conversation_id

    third = make_client(**settings)  # nothing pending any more: nothing is sent again
    third.app.state.dispatcher.drain()
    assert len(receiver.received) == 2
    assert third.get("/health").json()["jobs"] == {"pending": 0, "failed": 0}
