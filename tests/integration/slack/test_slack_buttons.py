"""Button clicks: the message is updated in place and the vote or hand-over lands in the ledger."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from api.settings import Settings
from bot.ledger.models import Escalation, Feedback
from tests.support import webhook_receiver

from .conftest import EN_QUESTION, ESCALATION_CHANNEL, UNKNOWN_QUESTION, Slack, action_ids, all_text
from .fake_slack import FakeSlack

pytestmark = pytest.mark.integration


def feedback(slack: Slack) -> list[Feedback]:
    with Session(slack.database) as session:
        return list(session.exec(select(Feedback)))


def escalations(slack: Slack) -> list[Escalation]:
    with Session(slack.database) as session:
        return list(session.exec(select(Escalation)))


def test_votes_update_the_message_and_are_recorded_once(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))

    slack_app.click(post, "jiso_helpful")
    [update] = fake.wait_for(lambda: fake.calls_to("chat.update"))
    assert (update.body["channel"], update.body["ts"]) == ("C1", post.response["ts"])
    assert "Glad it helped" in all_text(update.body) and action_ids(update.body) == []
    assert "Invite members" in all_text(update.body)  # the answer stays
    [vote] = feedback(slack_app)
    assert vote.helpful is True
    [conversation] = slack_app.conversations()
    assert conversation.confirmed_at is not None

    slack_app.click(post, "jiso_not_helpful")
    second = fake.wait_for(lambda: fake.calls_to("chat.update")[1:])[0]
    assert "Would you like to talk to a person?" in all_text(second.body)
    assert action_ids(second.body) == ["jiso_handover"]
    [vote] = feedback(slack_app)  # changed, not added
    assert vote.helpful is False
    [conversation] = slack_app.conversations()
    assert conversation.confirmed_at is None and conversation.last_turn_not_helpful
    assert len(fake.calls_to("chat.postMessage")) == 1  # no duplicate posts


def test_talk_to_a_person_hands_over_to_the_escalation_channel(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION, ts="1700000100.000100")
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))

    slack_app.click(post, "jiso_handover")
    [update] = fake.wait_for(lambda: fake.calls_to("chat.update"))
    assert "someone will follow up" in all_text(update.body) and action_ids(update.body) == []

    [handover] = fake.wait_for(lambda: [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == ESCALATION_CHANNEL])
    shown = all_text(handover.body)
    assert "<@U1>" in shown and "acme" in shown
    assert f"*Question:* {EN_QUESTION}" in shown and "Invite members" in shown
    [permalink] = fake.calls_to("chat.getPermalink")
    assert (permalink.body["channel"], permalink.body["message_ts"]) == ("C1", "1700000100.000100")
    assert "<https://jiso-test.slack.com/archives/C1/p1700000100000100|Open the conversation>" in shown

    slack_app.hand_overs_delivered()
    [escalation] = escalations(slack_app)
    assert escalation.destinations == ["slack"] and escalation.delivery == {"slack": "delivered"}
    [turn] = slack_app.turns()
    assert escalation.turn_id == turn.id
    [conversation] = slack_app.conversations()
    assert conversation.handed_over and conversation.escalated_at is not None


def test_a_hand_over_asked_for_in_slack_also_reaches_the_webhook_retried_after_a_failure(slack_settings: Settings, fake_slack: FakeSlack, database_url: str) -> None:
    with webhook_receiver([500]) as receiver:
        receiver.release.set()
        settings = slack_settings.model_copy(update={"escalation_webhook_url": receiver.url, "escalation_webhook_secret": "webhook-secret"})
        with TestClient(create_app(settings)) as client:
            slack = Slack(client, fake_slack, database_url, lambda: None)
            slack.mention(EN_QUESTION, ts="1700000100.000100")
            [post] = fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postMessage"))
            slack.click(post, "jiso_handover")
            fake_slack.wait_for(lambda: fake_slack.calls_to("chat.update"))
            slack.hand_overs_delivered()
            [escalation] = escalations(slack)
            slack.database.dispose()
    assert escalation.destinations == ["webhook", "slack"] and escalation.delivery == {"webhook": "delivered", "slack": "delivered"}
    assert len(receiver.received) == 2  # a 500, then the retry
    handover = json.loads(receiver.received[-1][1])
    assert (handover["escalation_id"], handover["channel"], handover["user_id"]) == (escalation.id, "slack", "slack:T1:U1")
    assert handover["link"] == "https://jiso-test.slack.com/archives/C1/p1700000100000100"
    assert [turn["question"] for turn in handover["transcript"]] == [EN_QUESTION]
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.body["channel"] == ESCALATION_CHANNEL]) == 1


def test_unconfident_answer_hands_over_with_what_was_asked(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(UNKNOWN_QUESTION)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.click(post, "jiso_handover")
    handover = fake.wait_for(lambda: [c for c in fake.calls_to("chat.postMessage") if c.body["channel"] == ESCALATION_CHANNEL])[0]
    assert UNKNOWN_QUESTION in all_text(handover.body) and "the bot was not confident" in all_text(handover.body)
    [escalation] = escalations(slack_app)
    assert escalation.reason == "asked for a person after the bot could not answer"


def test_after_a_hand_over_the_bot_stays_quiet_in_the_dm_thread_until_asked_again(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.dm(EN_QUESTION, ts="1700000200.000100")
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.click(post, "jiso_handover")
    fake.wait_for(lambda: fake.calls_to("chat.update"))
    slack_app.hand_overs_delivered()

    def in_the_dm() -> list:
        return [call for call in fake.calls_to("chat.postMessage") if call.body["channel"] == "D1"]

    # The user talks to the person in the thread: not a question for the bot (a message for the person).
    slack_app.dm("Thanks, I'll wait for Alice", ts="1700000300.000100", thread_ts="1700000200.000100")
    # Recorded before the next message arrives, as a person typing it would (events run in parallel).
    fake.wait_for(lambda: len(slack_app.turns()) == 2)
    # Then asks the bot again, by mentioning it: answered in the thread.
    slack_app.dm("<@UBOT> How do I download an invoice?", ts="1700000400.000100", thread_ts="1700000200.000100")
    answer = fake.wait_for(lambda: in_the_dm()[1:])[0]
    assert answer.body["thread_ts"] == "1700000200.000100" and "Invoices" in all_text(answer.body)
    slack_app.finish()
    assert len(in_the_dm()) == 2  # the bot said nothing to the message for the person
    turns = slack_app.turns()
    assert [(turn.question, turn.quiet) for turn in turns] == [(EN_QUESTION, False), ("Thanks, I'll wait for Alice", True), ("How do I download an invoice?", False)]
    [conversation] = slack_app.conversations()
    assert not conversation.handed_over and conversation.escalated_at is not None


def test_a_new_mention_in_a_handed_over_thread_is_answered(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION, ts="1700000100.000100")
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.click(post, "jiso_handover")
    fake.wait_for(lambda: fake.calls_to("chat.update"))
    slack_app.mention("How do I download an invoice?", ts="1700000500.000100", thread_ts="1700000100.000100")
    fake.wait_for(lambda: [c for c in fake.calls_to("chat.postMessage") if "Invoices" in all_text(c.body)])
    [conversation] = slack_app.conversations()
    assert conversation.turn_count == 2 and not conversation.handed_over


def test_only_the_asker_can_use_the_buttons(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.click(post, "jiso_helpful", user="U2")
    [told] = fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    assert told.body["user"] == "U2" and "<@U1>" in told.body["text"]
    assert feedback(slack_app) == [] and fake.calls_to("chat.update") == []


def test_buttons_on_an_ephemeral_slash_answer_replace_it_through_the_response_url(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.command(EN_QUESTION, trigger_id="trig7")
    [answer] = fake.wait_for(lambda: fake.calls_to("response:trig7"))
    slack_app.click(answer, "jiso_handover", ephemeral=True, response_name="ephemeral-click")
    [replaced] = fake.wait_for(lambda: fake.calls_to("response:ephemeral-click"))
    assert replaced.body["replace_original"] is True and "someone will follow up" in all_text(replaced.body)
    slack_app.hand_overs_delivered()
    handover = [c for c in fake.calls_to("chat.postMessage") if c.body["channel"] == ESCALATION_CHANNEL]
    assert len(handover) == 1 and "No link" in all_text(handover[0].body)  # an ephemeral answer has no permalink
    assert fake.calls_to("chat.update") == [] and fake.calls_to("chat.getPermalink") == []
    [escalation] = escalations(slack_app)
    assert escalation.delivery == {"slack": "delivered"}


def test_in_a_shared_thread_each_asker_rates_their_own_answer(slack_app: Slack) -> None:
    fake = slack_app.fake
    slack_app.mention(EN_QUESTION, ts="1700000100.000100", user="U1")
    fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    slack_app.mention("How do I download an invoice?", ts="1700000600.000100", thread_ts="1700000100.000100", user="U2")
    second = fake.wait_for(lambda: fake.calls_to("chat.postMessage")[1:])[0]

    slack_app.click(second, "jiso_helpful", user="U1")
    fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    slack_app.click(second, "jiso_helpful", user="U2")
    fake.wait_for(lambda: fake.calls_to("chat.update"))
    [vote] = feedback(slack_app)
    [_, turn] = slack_app.turns()
    assert vote.turn_id == turn.id and vote.helpful
    assert len(slack_app.conversations()) == 1
