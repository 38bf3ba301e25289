"""Mentions, DMs and /jiso against the real app and ledger, with a fake Slack Web API."""

from __future__ import annotations

import pytest

from bot.messages import dont_know

from .conftest import EN_QUESTION, JA_QUESTION, KNOWLEDGE_URL, UNKNOWN_QUESTION, Slack, action_ids, all_text

pytestmark = pytest.mark.integration


def test_mention_is_answered_in_its_thread_and_recorded(slack_app: Slack) -> None:
    response = slack_app.mention(EN_QUESTION, ts="1700000100.000100", event_id="EvM1")
    assert response.status_code == 200

    [post] = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    assert post.body["channel"] == "C1" and post.body["thread_ts"] == "1700000100.000100"
    shown = all_text(post.body)
    assert "1. Open *Settings › Members* and click *Invite members*." in shown
    assert "email addresses &amp; choose a role" in shown  # Slack's control characters escaped
    assert "<https://help.example/invite|the guide>" in shown and "See Members and" in shown  # relative link: words only
    assert f"Sources: <{KNOWLEDGE_URL}/en/faq/members.md#L" in shown
    assert action_ids(post.body) == ["jiso_helpful", "jiso_not_helpful", "jiso_handover"]
    assert "This solved it" in shown and "Talk to a person" in shown

    [conversation] = slack_app.conversations()
    assert (conversation.channel, conversation.external_key) == ("slack", "T1:C1:1700000100.000100")
    assert (conversation.user_id, conversation.org_id, conversation.locale) == ("slack:T1:U1", "acme", "en")
    [turn] = slack_app.turns()
    assert (turn.question, turn.answered, turn.delivery_key) == (EN_QUESTION, True, "slack:event:EvM1")
    assert turn.sources and turn.sources[0]["path"] == "en/faq/members.md"


def test_a_second_mention_in_the_thread_is_a_second_turn_of_the_same_conversation(slack_app: Slack) -> None:
    slack_app.mention(EN_QUESTION, ts="1700000100.000100")
    slack_app.fake.wait_for(lambda: len(slack_app.fake.calls_to("chat.postMessage")) == 1)
    slack_app.mention("How do I download an invoice?", ts="1700000300.000100", thread_ts="1700000100.000100")
    second = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage")[1:])[0]
    assert second.body["thread_ts"] == "1700000100.000100"
    assert "Settings › Billing › Invoices" in all_text(second.body)
    [conversation] = slack_app.conversations()
    assert conversation.turn_count == 2


def test_direct_message_is_answered_in_the_dm(slack_app: Slack) -> None:
    slack_app.dm(EN_QUESTION, channel="D1")
    [post] = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    assert post.body["channel"] == "D1" and "thread_ts" not in post.body
    assert "Invite members" in all_text(post.body)
    [conversation] = slack_app.conversations()
    assert conversation.external_key == "T1:D1:1700000200.000100"


def test_japanese_question_gets_the_japanese_answer_and_buttons(slack_app: Slack) -> None:
    slack_app.mention(JA_QUESTION)
    [post] = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    shown = all_text(post.body)
    # Bold next to Japanese needs a zero-width space to be bold in Slack.
    assert "*設定 › メンバー*\u200bを開き、*メンバーを招待*\u200bをクリック" in shown
    assert "解決しました" in shown and "担当者と話す" in shown and "出典" in shown
    [turn] = slack_app.turns()
    assert (turn.locale, turn.answered) == ("ja", True)


def test_unconfident_answer_offers_the_hand_over_directly(slack_app: Slack) -> None:
    slack_app.mention(UNKNOWN_QUESTION)
    [post] = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    assert "I don't know the answer to that yet" in all_text(post.body)
    assert action_ids(post.body) == ["jiso_handover"]
    assert "Sources" not in all_text(post.body)
    [turn] = slack_app.turns()
    # Stored as the web stores it: declined, with the message the user was shown.
    assert (turn.kind, turn.answered, turn.quiet) == ("declined", False, False)
    assert turn.answer_text == dont_know("en")


def test_slash_command_answers_the_asker_only_and_can_be_shared(slack_app: Slack) -> None:
    response = slack_app.command(EN_QUESTION, trigger_id="trig42")
    assert response.status_code == 200 and response.text == ""

    [answer] = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("response:trig42"))
    assert answer.body["response_type"] == "ephemeral"
    assert "<@U1> asked: How do I invite a teammate?" in all_text(answer.body)
    assert action_ids(answer.body) == ["jiso_helpful", "jiso_not_helpful", "jiso_handover", "jiso_share"]
    [turn] = slack_app.turns()
    assert turn.delivery_key == "slack:command:trig42"

    slack_app.click(answer, "jiso_share", ephemeral=True, response_name="share")
    shared = slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("response:share")[1:])
    first, second = slack_app.fake.calls_to("response:share")
    assert first.body == {"delete_original": True}
    assert second.body["response_type"] == "in_channel"
    assert "Invite members" in all_text(second.body) and "jiso_share" not in action_ids(second.body)
    assert shared and not slack_app.fake.calls_to("chat.postMessage")  # nothing else posted


def test_slash_command_without_a_question_says_how_to_ask(slack_app: Slack) -> None:
    response = slack_app.command("   ")
    assert response.status_code == 200 and "/jiso how do I invite a teammate?" in response.text
    assert slack_app.turns() == []


def test_the_transcript_page_shows_an_unconfident_slack_turn_as_declined(slack_app: Slack) -> None:
    slack_app.mention(UNKNOWN_QUESTION)
    slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    [conversation] = slack_app.conversations()
    page = slack_app.transcript_page(conversation.id)
    assert page.status_code == 200
    assert "declined: offered a person" in page.text and "I don't know the answer to that yet" in page.text
    assert "stayed quiet" not in page.text


def test_a_slack_transcript_needs_the_signed_link_too(slack_app: Slack) -> None:
    slack_app.mention(EN_QUESTION)
    slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    [conversation] = slack_app.conversations()
    response = slack_app.client.get(f"/conversations/{conversation.id}")
    assert response.status_code == 403 and EN_QUESTION not in response.text
    assert (response.headers["cache-control"], response.headers["x-robots-tag"], response.headers["referrer-policy"]) == ("no-store", "noindex", "no-referrer")
