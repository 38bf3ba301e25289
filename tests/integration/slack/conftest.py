"""Fixtures for the Slack channel: a fake Slack Web API and the real app, spoken to as Slack does
(correctly signed HTTP requests to /slack/events)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from sqlmodel import Session, select

from api.app import create_app
from api.settings import Settings
from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, Escalation, Turn
from tests.support import indexed_settings

from .fake_slack import BOT_USER_ID, TEAM_ID, Call, FakeSlack

SIGNING_SECRET = "test-signing-secret"
ESCALATION_CHANNEL = "CESC"
KNOWLEDGE_URL = "https://docs.example/kb"
EN_QUESTION = "How do I invite a teammate?"
JA_QUESTION = "チームメンバーを招待するには？"
UNKNOWN_QUESTION = "zxqv wombat telescope marmalade"

KNOWLEDGE = {
    "en/faq/members.md": (
        "---\nlocale: en\ntitle: Members\n---\n# Members\n\n"
        f"## {EN_QUESTION}\n\n"
        "1. Open **Settings › Members** and click **Invite members**.\n"
        "2. Enter their email addresses & choose a role.\n\n"
        "See [Members](../manual/members.md) and [the guide](https://help.example/invite).\n\n"
        "## How do I download an invoice?\n\nOpen **Settings › Billing › Invoices** and click **Download**.\n"
    ),
    "en/manual/members.md": "---\nlocale: en\ntitle: Members manual\n---\n# Members\n\n## Roles\n\nEvery member has one role: Owner, Admin, Member or Guest.\n",
    "ja/faq/members.md": (f"---\nlocale: ja\ntitle: メンバー\n---\n# メンバー\n\n## {JA_QUESTION}\n\n**設定 › メンバー**を開き、**メンバーを招待**をクリックします。\n"),
}


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(tmp_path: Path, database_url: str, fake_slack: FakeSlack) -> Settings:
    return indexed_settings(
        tmp_path,
        KNOWLEDGE,
        database_url=database_url,
        slack_bot_token="xoxb-test",
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.api_url,
        slack_escalation_channel=ESCALATION_CHANNEL,
        escalation_retry_attempts=3,
        escalation_retry_backoff=0.01,
        slack_workspace_orgs={TEAM_ID: "acme"},
        knowledge_url=KNOWLEDGE_URL,
    )


class Slack:
    """Sends what Slack sends: signed event, command and interaction requests."""

    def __init__(self, client: TestClient, fake: FakeSlack, database_url: str, stop: Callable[[], None]) -> None:
        self.client = client
        self.finish = stop  # stops the app, after the answers still in progress are done
        self.fake = fake
        self.database = make_engine(database_url)
        self._ids = 0

    def _id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids}"

    def post(self, body: str, content_type: str, *, headers: dict[str, str] | None = None, signed: bool = True, timestamp: int | None = None) -> httpx.Response:
        timestamp = int(time.time()) if timestamp is None else timestamp
        sent = {"Content-Type": content_type}
        if signed:
            sent["X-Slack-Request-Timestamp"] = str(timestamp)
            sent["X-Slack-Signature"] = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=str(timestamp), body=body)
        sent.update(headers or {})
        return self.client.post("/slack/events", content=body.encode(), headers=sent)

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None) -> httpx.Response:
        body = json.dumps(event_body(event, event_id or self._id("Ev")))
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return self.post(body, "application/json", headers=headers)

    def mention(
        self, text: str, *, ts: str = "1700000100.000100", thread_ts: str | None = None, user: str = "U1", channel: str = "C1", event_id: str | None = None, retry: int | None = None
    ) -> httpx.Response:
        event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}", "ts": ts, "channel": channel, "event_ts": ts, "team": TEAM_ID}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event, event_id=event_id, retry=retry)

    def dm(self, text: str, *, ts: str = "1700000200.000100", thread_ts: str | None = None, user: str = "U1", channel: str = "D1", **extra: Any) -> httpx.Response:
        event = {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts, "team": TEAM_ID, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.event(event)

    def command(self, text: str, *, trigger_id: str = "trig1", user: str = "U1", channel: str = "C1") -> httpx.Response:
        form = {
            "token": "x",
            "team_id": TEAM_ID,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "user",
            "command": "/jiso",
            "text": text,
            "api_app_id": "A1",
            "response_url": self.fake.response_url(trigger_id),
            "trigger_id": trigger_id,
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def click(self, message: Call, action_id: str, *, user: str = "U1", ephemeral: bool = False, response_name: str = "click", label: str | None = None) -> httpx.Response:
        """Click a button of a message we saw the bot send (`message` is that recorded call); of
        several with the same action, the one showing `label`."""
        clicked = button(message.body, action_id, label)
        value, action_id = clicked["value"], clicked["action_id"]
        channel = message.body.get("channel", "C1")
        ts = (message.response or {}).get("ts") or "1700000999.000001"  # ephemeral messages have none
        payload = {
            "type": "block_actions",
            "api_app_id": "A1",
            "token": "x",
            "trigger_id": self._id("trig"),
            "user": {"id": user, "username": "user", "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "test"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
            "channel": {"id": channel, "name": "general"},
            "message": {"type": "message", "ts": ts, "thread_ts": message.body.get("thread_ts"), "bot_id": "BBOT", "blocks": message.body.get("blocks")},
            "response_url": self.fake.response_url(response_name),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "jiso_feedback", "value": value, "action_ts": "1700001000.000001"}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def hand_overs_delivered(self) -> None:
        """Wait until every recorded hand-over is delivered or given up (they run in the background,
        and a click's hand-over may be recorded only after its message was updated)."""

        def settled() -> bool:
            with Session(self.database) as session:
                found = list(session.exec(select(Escalation)))
            return bool(found) and all(status != "pending" for escalation in found for status in escalation.delivery.values())

        self.fake.wait_for(settled, timeout=30)
        self.client.app.state.dispatcher.drain(timeout=15)

    def transcript_page(self, conversation_id: str) -> httpx.Response:
        """The transcript page, opened with the signed link a hand-over carries."""
        link = self.client.app.state.transcript_links.link(conversation_id)
        return self.client.get(link.removeprefix(self.client.app.state.settings.public_url))

    def conversations(self) -> list[Conversation]:
        with Session(self.database) as session:
            return list(session.exec(select(Conversation)))

    def turns(self) -> list[Turn]:
        with Session(self.database) as session:
            return list(session.exec(select(Turn).order_by(Turn.created_at)))


def event_body(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "token": "x",
        "team_id": TEAM_ID,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000100,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        "event": event,
    }


def button(message: dict[str, Any], action_id: str, label: str | None = None) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            same = element.get("action_id") == action_id or str(element.get("action_id", "")).startswith(f"{action_id}_")  # jiso_choose_0, _1, …
            if same and label in (None, (element.get("text") or {}).get("text")):
                return element
    raise AssertionError(f"no {action_id} button in {json.dumps(message.get('blocks'), ensure_ascii=False)}")


def action_ids(message: dict[str, Any]) -> list[str]:
    return [element["action_id"] for block in message.get("blocks") or [] if block["type"] == "actions" for element in block["elements"]]


def all_text(message: dict[str, Any]) -> str:
    """Every piece of mrkdwn in a message's blocks, joined (what a person would read)."""
    texts = []
    for block in message.get("blocks") or []:
        if "text" in block:
            texts.append(block["text"]["text"])
        for element in block.get("elements") or []:
            texts.append(element["text"] if isinstance(element.get("text"), str) else element.get("text", {}).get("text", ""))
    return "\n".join(texts)


@pytest.fixture
def slack_app(slack_settings: Settings, fake_slack: FakeSlack, database_url: str) -> Iterator[Slack]:
    """The real app. `finish()` stops it early: the lifespan waits for background answers, so
    after it a test can assert that something did *not* happen, without sleeping."""
    with ExitStack() as stack:
        client = stack.enter_context(TestClient(create_app(slack_settings)))
        harness = Slack(client, fake_slack, database_url, stack.close)
        yield harness
    harness.database.dispose()
