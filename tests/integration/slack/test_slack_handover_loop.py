"""The hand-over loop in Slack: a person replies in the hand-over message's thread, the user gets
the reply in their own thread (or in the web widget), the user's next messages reach that thread,
and "Mark resolved" closes the hand-over."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from api.settings import Settings
from bot.apikeys import create_key
from bot.ledger.models import Escalation, PersonReply
from tests.support import webhook_receiver

from .conftest import EN_QUESTION, ESCALATION_CHANNEL, UNKNOWN_QUESTION, Slack, action_ids, all_text
from .fake_slack import BOT_ID, BOT_USER_ID, TEAM_ID, Call, FakeSlack

pytestmark = pytest.mark.integration
DM_TS = "1700000200.000100"


def replies(slack: Slack) -> list[PersonReply]:
    with Session(slack.database) as session:
        return list(session.exec(select(PersonReply).order_by(PersonReply.created_at)))


def escalation(slack: Slack) -> Escalation:
    with Session(slack.database) as session:
        [found] = session.exec(select(Escalation))
        return found


def handed_over_in_a_dm(slack: Slack) -> Call:
    """A DM question, handed over; the hand-over message posted in the escalation channel."""
    fake = slack.fake
    slack.dm(EN_QUESTION, ts=DM_TS)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack.click(post, "jiso_handover")
    [handover] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == ESCALATION_CHANNEL])
    slack.hand_overs_delivered()
    return handover


def agent_key(slack: Slack) -> str:
    with Session(slack.database) as session:
        return create_key(session=session, role="agent")[1]


def thread_reply(slack: Slack, handover: Call, text: str, *, user: str = "U2", ts: str = "1700000500.000100", event_id: str | None = None, **extra) -> None:
    event = {
        "type": "message", "channel_type": "channel", "channel": ESCALATION_CHANNEL, "user": user, "text": text, "ts": ts,
        "thread_ts": handover.response["ts"], "event_ts": ts, "team": TEAM_ID, **extra,
    }  # fmt: skip
    assert slack.event(event, event_id=event_id).status_code == 200


def test_a_reply_in_the_hand_over_thread_reaches_the_asker_once(slack_app: Slack) -> None:
    fake = slack_app.fake
    handover = handed_over_in_a_dm(slack_app)
    assert "Mark resolved" in all_text(handover.body) and "jiso_resolve" in action_ids(handover.body)

    profile = {"display_name": "Alice", "real_name": "Alice Example"}
    thread_reply(slack_app, handover, "Hi! Open *Settings* &amp; check <@U1>'s role.", event_id="EvReply1", user_profile=profile)
    thread_reply(slack_app, handover, "Hi! Open *Settings* &amp; check <@U1>'s role.", event_id="EvReply1", user_profile=profile)  # Slack's retry
    [relayed] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == "D1" and "from our team" in (call.body.get("text") or "")])
    assert relayed.body["thread_ts"] == DM_TS and "*Alice*" in relayed.body["text"] and "check @U1's role" in relayed.body["text"]

    slack_app.finish()
    [reply] = replies(slack_app)
    assert (reply.text, reply.author_name, reply.author_ref, reply.via) == ("Hi! Open *Settings* & check @U1's role.", "Alice", "slack:T1:U2", "slack")
    assert reply.escalation_id == escalation(slack_app).id
    assert len([call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == "D1"]) == 2  # the answer and one reply
    assert not [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == ESCALATION_CHANNEL and call.body.get("thread_ts")]  # not echoed into the thread


def test_the_bots_own_posts_and_other_threads_are_not_replies(slack_app: Slack) -> None:
    handover = handed_over_in_a_dm(slack_app)
    thread_reply(slack_app, handover, "The user wrote: thanks", user=BOT_USER_ID, ts="1700000501.000100")
    thread_reply(slack_app, handover, "a bot's note", user="U9", ts="1700000502.000100", bot_id=BOT_ID)
    thread_reply(slack_app, handover, "an edit", ts="1700000503.000100", subtype="message_changed")
    other = {"type": "message", "channel_type": "channel", "channel": ESCALATION_CHANNEL, "user": "U2", "text": "lunch?", "ts": "1700000504.000100", "thread_ts": "1700000000.999999", "team": TEAM_ID}
    slack_app.event(other)
    slack_app.finish()
    assert replies(slack_app) == []
    assert len(slack_app.turns()) == 1  # none of it was taken for a question


def test_the_users_messages_after_a_hand_over_reach_the_hand_over_thread(slack_app: Slack) -> None:
    fake = slack_app.fake
    handover = handed_over_in_a_dm(slack_app)
    slack_app.dm("We are on the Team plan", ts="1700000300.000100", thread_ts=DM_TS)
    [follow_up] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body.get("thread_ts") == handover.response["ts"]])
    assert follow_up.body["channel"] == ESCALATION_CHANNEL and "The user wrote:* We are on the Team plan" in follow_up.body["text"]
    slack_app.finish()
    quiet = [turn for turn in slack_app.turns() if turn.quiet]
    assert [turn.question for turn in quiet] == ["We are on the Team plan"]


def test_mark_resolved_closes_the_hand_over_once(slack_app: Slack) -> None:
    fake = slack_app.fake
    handover = handed_over_in_a_dm(slack_app)
    slack_app.click(handover, "jiso_resolve", user="U2")
    [update] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.update") if call.body["channel"] == ESCALATION_CHANNEL])
    assert update.body["ts"] == handover.response["ts"]
    assert "Resolved by <@U2>" in all_text(update.body) and "jiso_resolve" not in action_ids(update.body)
    assert "Hand-over" in all_text(update.body)  # the hand-over itself stays readable
    closed = escalation(slack_app)
    assert closed.closed_at is not None and closed.closed_by == "slack:T1:U2"

    slack_app.click(handover, "jiso_resolve", user="U3")  # a second click (e.g. a stale client)
    fake.wait_for(lambda: len([call for call in fake.calls_to("chat.update") if call.body["channel"] == ESCALATION_CHANNEL]) == 2)
    again = escalation(slack_app)
    assert (again.closed_at, again.closed_by) == (closed.closed_at, "slack:T1:U2")


def test_a_web_conversations_hand_over_gets_its_reply_from_slack(slack_app: Slack) -> None:
    client = slack_app.client
    conversation_id = client.post("/api/v1/conversations", json={"locale": "en"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN_QUESTION})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person", "email": "ann@example.com"})
    fake = slack_app.fake
    [handover] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == ESCALATION_CHANNEL])
    assert "*Contact:* ann@example.com" in all_text(handover.body)  # an anonymous visitor's address travels with the hand-over
    slack_app.hand_overs_delivered()
    thread_reply(slack_app, handover, "Sorry, bread baking is not supported.")
    turns = fake.wait_for(lambda: [turn for turn in client.get(f"/api/v1/conversations/{conversation_id}").json()["turns"] if turn["role"] == "person"])
    assert [turn["text"] for turn in turns] == ["Sorry, bread baking is not supported."]


def test_a_helpdesk_reply_reaches_the_slack_asker_and_the_hand_over_thread(slack_app: Slack) -> None:
    fake = slack_app.fake
    handover = handed_over_in_a_dm(slack_app)
    [conversation] = slack_app.conversations()
    headers = {"Authorization": f"Bearer {agent_key(slack_app)}"}
    response = slack_app.client.post(f"/api/v1/conversations/{conversation.id}/replies", json={"text": "Fixed <now> & done", "author": {"name": "Bo"}}, headers=headers)
    assert response.status_code == 201
    [to_asker] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == "D1" and "from our team" in (call.body.get("text") or "")])
    assert to_asker.body["thread_ts"] == DM_TS and "*Bo* from our team replied: Fixed &lt;now&gt; &amp; done" in to_asker.body["text"]
    [in_thread] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body.get("thread_ts") == handover.response["ts"]])
    assert in_thread.body["channel"] == ESCALATION_CHANNEL and "*Bo* replied through the API: Fixed &lt;now&gt; &amp; done" in in_thread.body["text"]

    assert slack_app.client.post(f"/api/v1/conversations/{conversation.id}/close", json={"note": "fixed in 2.4"}, headers=headers).status_code == 200
    fake.wait_for(
        lambda: [call for call in fake.calls_to("chat.postMessage") if call.body.get("thread_ts") == handover.response["ts"] and "Resolved through the API: fixed in 2.4" in call.body["text"]]
    )


def test_a_helpdesk_hears_of_slack_replies_and_closes_through_the_webhook(slack_settings: Settings, fake_slack: FakeSlack, database_url: str) -> None:
    with webhook_receiver([]) as receiver:
        receiver.release.set()
        settings = slack_settings.model_copy(update={"escalation_webhook_url": receiver.url, "escalation_webhook_secret": "webhook-secret"})
        with TestClient(create_app(settings)) as client:
            slack = Slack(client, fake_slack, database_url, lambda: None)
            handover = handed_over_in_a_dm(slack)
            thread_reply(slack, handover, "On it", event_id="EvR1")
            fake_slack.wait_for(lambda: [call for call in fake_slack.calls_to("chat.postMessage") if call.body["channel"] == "D1" and "On it" in (call.body.get("text") or "")])
            slack.click(handover, "jiso_resolve", user="U2")
            fake_slack.wait_for(lambda: len(receiver.received) >= 3)
            client.app.state.dispatcher.drain()
            slack.database.dispose()
    events = [json.loads(body) for _, body in receiver.received]
    assert [event["type"] for event in events] == ["jiso.handover", "jiso.handover.reply", "jiso.handover.closed"]
    assert (events[1]["text"], events[1]["via"]) == ("On it", "slack")
    assert (events[2]["author"], events[2]["via"], events[2]["escalation_id"]) == ("slack:T1:U2", "slack", events[0]["escalation_id"])
