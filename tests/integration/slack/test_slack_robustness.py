"""What Slack does to an app: forged or stale requests, redeliveries, bot messages, rate limits."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Connection, text
from sqlmodel import Session, select

from api.app import create_app
from api.settings import Settings
from bot.engine import Answer
from bot.ledger import writes
from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, Escalation, Turn

from .conftest import EN_QUESTION, ESCALATION_CHANNEL, SIGNING_SECRET, Slack, action_ids, all_text, event_body
from .fake_slack import TEAM_ID, FakeSlack

pytestmark = pytest.mark.integration


def mention_body(event_id: str = "EvBad") -> str:
    event = {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {EN_QUESTION}", "ts": "1700000100.000100", "channel": "C1", "team": "T1"}
    return json.dumps(event_body(event, event_id))


@pytest.mark.parametrize(
    "request_kind",
    ["forged signature", "stale timestamp", "missing headers", "signed with another secret"],
)
def test_unverified_requests_are_refused_and_change_nothing(slack_app: Slack, request_kind: str) -> None:
    body = mention_body()
    if request_kind == "forged signature":
        response = slack_app.post(body, "application/json", headers={"X-Slack-Signature": "v0=" + "0" * 64})
    elif request_kind == "stale timestamp":
        response = slack_app.post(body, "application/json", timestamp=int(time.time()) - 6 * 60)
    elif request_kind == "missing headers":
        response = slack_app.post(body, "application/json", signed=False)
    else:
        now = str(int(time.time()))
        signature = SignatureVerifier("not-" + SIGNING_SECRET).generate_signature(timestamp=now, body=body)
        response = slack_app.post(body, "application/json", signed=False, headers={"X-Slack-Request-Timestamp": now, "X-Slack-Signature": signature})
    assert response.status_code == 401
    slack_app.finish()
    assert slack_app.fake.calls == []  # not even auth.test
    assert slack_app.conversations() == [] and slack_app.turns() == []


class HeldEngine:
    """The real engine, except that its first answer waits until the test releases it, so that a
    redelivery can arrive while the first delivery is still being answered."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine = engine
        self.first_started = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._calls = 0

    def answer(self, question: str, locale: str | None = None) -> Answer:
        with self._lock:
            self._calls += 1
            first = self._calls == 1
        if first:
            self.first_started.set()
            assert self.release.wait(timeout=15), "the test never released the first answer"
        return self.engine.answer(question, locale)


def test_redeliveries_give_one_reply_and_one_conversation(slack_app: Slack) -> None:
    fake = slack_app.fake
    held = HeldEngine(slack_app.client.app.state.engine)
    slack_app.client.app.state.engine = held

    assert slack_app.mention(EN_QUESTION, event_id="EvDup").status_code == 200
    assert held.first_started.wait(timeout=15)
    # Slack did not see the ack in time and delivers again while the first is still answering:
    # the event is queued once, so nothing else starts.
    for retry in (1, 2):
        assert slack_app.mention(EN_QUESTION, event_id="EvDup", retry=retry).status_code == 200
    held.release.set()
    fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    assert slack_app.mention(EN_QUESTION, event_id="EvDup", retry=3).status_code == 200
    slack_app.finish()

    assert len(fake.calls_to("chat.postMessage")) == 1
    assert len(slack_app.conversations()) == 1
    [turn] = slack_app.turns()
    assert turn.delivery_key == "slack:event:EvDup"


def test_messages_from_our_bot_and_other_bots_are_ignored(slack_app: Slack) -> None:
    slack_app.dm("I am the bot's own answer", user="UBOT", bot_id="BBOT")
    slack_app.dm("A reminder from another bot", user="UOTHER", bot_id="BOTHER")
    slack_app.dm("someone edited", subtype="message_changed")
    slack_app.finish()
    assert slack_app.fake.calls_to("chat.postMessage") == []
    assert slack_app.conversations() == []


def test_a_rate_limited_post_is_delivered_once_after_retry_after(slack_app: Slack) -> None:
    fake = slack_app.fake
    fake.rate_limited_once.add("chat.postMessage")
    slack_app.mention(EN_QUESTION)
    fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.finish()
    attempts = fake.calls_to("chat.postMessage", ok_only=False)
    assert [call.status for call in attempts] == [429, 200]
    assert all_text(attempts[1].body) == all_text(attempts[0].body)
    assert len(slack_app.turns()) == 1


def test_a_failed_post_is_logged_and_the_question_stays_recorded(slack_app: Slack, caplog: pytest.LogCaptureFixture) -> None:
    slack_app.fake.errors["chat.postMessage"] = "channel_not_found"
    with caplog.at_level(logging.ERROR, logger="bot.channels.slack"):
        slack_app.mention(EN_QUESTION, event_id="EvLost")
        slack_app.finish()
    [turn] = slack_app.turns()
    assert turn.question == EN_QUESTION and turn.answered
    [record] = [r for r in caplog.records if "chat.postMessage failed" in r.getMessage()]
    assert "team=T1 channel=C1 event=EvLost" in record.getMessage() and "channel_not_found" in record.exc_text


def test_a_hand_over_post_that_keeps_failing_is_retried_then_recorded_as_failed(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    fake.errors["chat.postMessage"] = "not_in_channel"
    slack_app.click(post, "jiso_handover")
    fake.wait_for(lambda: fake.calls_to("chat.update"))
    slack_app.hand_overs_delivered()
    attempts = [c for c in fake.calls_to("chat.postMessage", ok_only=False) if c.body["channel"] == ESCALATION_CHANNEL]
    assert len(attempts) == 3  # JISO_ESCALATION_RETRY_ATTEMPTS in these tests
    with Session(slack_app.database) as session:
        [escalation] = session.exec(select(Escalation)).all()
    assert escalation.delivery["slack"].startswith("failed:") and "not_in_channel" in escalation.delivery["slack"]


def test_without_an_index_questions_are_recorded_and_offered_a_person(slack_settings: Settings, fake_slack: FakeSlack, database_url: str, tmp_path: Path) -> None:
    settings = slack_settings.model_copy(update={"index_dir": tmp_path / "no-index"})
    with TestClient(create_app(settings)) as client:
        slack = Slack(client, fake_slack, database_url, lambda: None)
        slack.mention("チームメンバーを招待するには？")
        [post] = fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"))
    assert "担当者におつなぎしましょうか" in all_text(post.body) and action_ids(post.body) == ["jiso_handover"]
    [turn] = slack.turns()
    assert (turn.answered, turn.locale) == (False, "ja")
    slack.database.dispose()


def test_a_forged_request_body_is_not_logged(slack_settings: Settings, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # even with the root logger at DEBUG when the app is built
    with TestClient(create_app(slack_settings)) as client:
        slack = Slack(client, fake_slack, slack_settings.database_url, lambda: None)
        body = mention_body("EvForged").replace(EN_QUESTION, "secret-marker-4e1f")
        response = slack.post(body, "application/json", headers={"X-Slack-Signature": "v0=" + "0" * 64})
        slack.database.dispose()
    assert response.status_code == 401
    assert "secret-marker-4e1f" not in caplog.text and "EvForged" not in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a row lock held across processes
@pytest.mark.parametrize("dies", ["before recording the question", "after recording it, before posting the answer"])
def test_an_event_acked_by_an_instance_killed_at_once_is_answered_by_another(slack_settings: Settings, fake_slack: FakeSlack, database_url: str, dies: str) -> None:
    """Instance one acks a mention and is SIGKILLed while recording it (the test holds the
    conversation's row until then) or while posting the answer (Slack does not answer it): the
    ack meant the event was in the shared queue, so instance two answers it, once."""
    ts = "1700000100.000100"
    database = make_engine(database_url)
    with Session(database) as session:
        conversation_id = writes.open_conversation(session=session, channel="slack", external_key=f"{TEAM_ID}:C1:{ts}").id
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    names = ("model_en", "model_ja", "companion_model_en", "lexical_ja", "calibration_dir", "knowledge_dir", "index_dir", "link_secret_file", "database_url", "slack_api_url", "knowledge_url")
    env = {**os.environ, **{f"JISO_{name.upper()}": str(getattr(slack_settings, name)) for name in names}}
    env |= {"SLACK_BOT_TOKEN": slack_settings.slack_bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "JISO_JOB_LEASE_SECONDS": "1", "JISO_JOB_POLL_SECONDS": "0.1"}
    one = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        fake_slack.wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=120)
        recording = dies.startswith("before")
        if not recording:
            fake_slack.held_methods.add("chat.postMessage")
        with database.connect() as locker:
            if recording:
                locker.execute(select(Conversation).where(Conversation.id == conversation_id).with_for_update())
            body = mention_body("EvKilled").encode()
            stamp = str(int(time.time()))
            signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
            acked = httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers={"Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})
            assert acked.status_code == 200
            fake_slack.wait_for(lambda: _waiting_on_a_lock(locker) if recording else fake_slack.held_calls)  # instance one is at it
            one.kill()
            one.wait()
            locker.rollback()
    finally:
        one.kill()
        fake_slack.held_methods.clear()
        fake_slack.release_held.set()
    with TestClient(create_app(slack_settings)):  # instance two
        fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"))
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    with Session(database) as session:
        assert session.exec(select(Turn.delivery_key)).all() == ["slack:event:EvKilled"]
    database.dispose()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def _waiting_on_a_lock(connection: Connection) -> bool:
    return bool(connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")).scalar())
