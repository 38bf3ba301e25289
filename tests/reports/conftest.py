"""Shared helpers for the report tests: a small checklist and a ledger-building script."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session

from bot.ledger import handovers, writes
from bot.ledger.events import NewEvent, record_events
from bot.ledger.models import Conversation
from bot.onboarding import Checklist, parse_checklist

QUIET = timedelta(hours=24)

SMALL_CHECKLIST = """
version: 1
steps:
  - id: create-workspace
    title: {en: Create a workspace, ja: ワークスペースを作成する}
    events: [workspace.created]
    required: true
  - id: connect-slack
    title: {en: Connect Slack, ja: Slack と連携する}
    events: [integration.slack.connected]
    required: false
  - id: create-first-project
    title: {en: Start a project, ja: プロジェクトを始める}
    events: [project.created]
    active_minutes: {min: 3, within_days: 1}
    required: true
"""


def small_checklist() -> Checklist:
    checklist, problems = parse_checklist(SMALL_CHECKLIST)
    assert not problems and checklist is not None
    return checklist


@pytest.fixture
def checklist() -> Checklist:
    return small_checklist()


def event(session: Session, checklist: Checklist, event_id: str, user: str, org: str | None, name: str, at: datetime):
    return record_events(session=session, events=[NewEvent(event_id, user, org, name, at)], known_names=checklist.event_names)


def converse(session: Session, at: datetime, script: list[tuple], *, user: str | None = None, org: str | None = None, channel: str = "web", locale: str = "en") -> Conversation:
    """Play a conversation: ("ask", answered, minutes), ("ask_quiet", None, minutes), ("vote", helpful, minutes), ("escalate", None, minutes),
    and on the latest hand-over ("reply", None, minutes) (a person's reply) and ("close", None, minutes);
    minutes are after `at`. Returns the conversation."""
    conversation = writes.open_conversation(session=session, channel=channel, locale=locale, user_id=user, org_id=org, now=at)
    last = None
    for action, value, minutes in script:
        when = at + timedelta(minutes=minutes)
        if action == "ask":
            last, _ = writes.record_turn(
                session=session,
                conversation=conversation,
                question=value[1] if isinstance(value, tuple) else "q",
                answer_text="a",
                answered=value[0] if isinstance(value, tuple) else value,
                entry_id=value[2] if isinstance(value, tuple) and len(value) > 2 else None,
                locale=locale,
                now=when,
            )
        elif action == "ask_quiet":  # a message for the person after a hand-over
            writes.record_turn(session=session, conversation=conversation, question="thanks", answer_text=None, answered=False, locale=locale, quiet=True, now=when)
        elif action == "vote":
            writes.record_feedback(session=session, conversation=conversation, turn_id=last.id, helpful=value, now=when)
        elif action == "escalate":
            writes.record_escalation(session=session, conversation=conversation, reason="asked for a person", destinations=["webhook"], now=when)
        else:
            escalation = handovers.latest_escalation(session=session, conversation_id=conversation.id)
            if action == "reply":
                handovers.record_reply(session=session, escalation=escalation, text="a person's answer", via="api", now=when)
            else:
                handovers.close_escalation(session=session, escalation_id=escalation.id, closed_by="key:test", now=when)
    session.refresh(conversation)
    return conversation


ADMIN_KEY = "admin-bootstrap-key-for-tests"
IDENTITY_SECRET = "identity-secret-for-tests"
FAQ = """---
type: faq
locale: en
title: Projects
---

## How do I create a project?
<!--
id: create-project
onboarding_step: create-first-project
-->

Click **New project** on the home screen.
"""


def make_settings(tmp_path, database_url: str):
    from tests.support import indexed_settings

    files = {"en/faq/projects.md": FAQ, "onboarding.yml": SMALL_CHECKLIST}
    return indexed_settings(tmp_path, files, database_url=database_url, admin_api_key=ADMIN_KEY, identity_secret=IDENTITY_SECRET)


@pytest.fixture
def client(tmp_path, database_url):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(make_settings(tmp_path, database_url))) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
