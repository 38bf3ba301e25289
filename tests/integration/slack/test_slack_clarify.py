"""Ask when unsure, in Slack: "Did you mean…" buttons, and the pick answered in the thread."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

from .conftest import EN_QUESTION, Slack, all_text, button
from .fake_slack import FakeSlack

pytestmark = pytest.mark.integration


@pytest.fixture
def unsure_slack(slack_settings: Settings, fake_slack: FakeSlack, database_url: str, tmp_path):
    from tests.support import write_calibrations

    calibrations = write_calibrations(tmp_path / "unsure-calibrations", "fake-hashing", {"en": 1.01, "ja": 1.01}, {"en": 0.0, "ja": 0.0})
    settings = slack_settings.model_copy(update={"calibration_dir": calibrations})
    with TestClient(create_app(settings)) as client:
        harness = Slack(client, fake_slack, database_url, lambda: None)
        yield harness
        harness.database.dispose()


def test_unsure_in_slack_it_offers_choices_and_answers_the_pick_in_the_thread(unsure_slack: Slack) -> None:
    fake = unsure_slack.fake
    unsure_slack.mention(EN_QUESTION, ts="1700000100.000100")
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    assert "I found a few entries" in all_text(post.body)
    assert button(post.body, "jiso_choose", EN_QUESTION) and button(post.body, "jiso_choose", "None of these") and button(post.body, "jiso_handover")
    [choices] = [block for block in post.body["blocks"] if block.get("block_id") == "jiso_choices"]
    ids = [element["action_id"] for element in choices["elements"]]
    assert len(ids) == len(set(ids))  # Slack refuses a block whose buttons share an action id

    unsure_slack.click(post, "jiso_choose", label=EN_QUESTION)
    [update] = fake.wait_for(lambda: fake.calls_to("chat.update"))
    assert f"Chosen: {EN_QUESTION}" in all_text(update.body)
    answers = fake.wait_for(lambda: fake.calls_to("chat.postMessage")[1:])
    assert answers[0].body["thread_ts"] == "1700000100.000100" and "Invite members" in all_text(answers[0].body)
    assert button(answers[0].body, "jiso_helpful")  # the pick is an answer like any other

    unsure_slack.click(post, "jiso_choose", label=EN_QUESTION)  # a second click picks nothing new
    fake.wait_for(lambda: len(fake.calls_to("chat.update")) == 2)
    asked, picked = unsure_slack.turns()
    assert (asked.kind, picked.kind, picked.picked_from) == ("clarify", "answered", asked.id)
    assert len(fake.calls_to("chat.postMessage")) == 2


def test_only_the_asker_can_pick(unsure_slack: Slack) -> None:
    fake = unsure_slack.fake
    unsure_slack.mention(EN_QUESTION)
    [post] = fake.wait_for(lambda: fake.calls_to("chat.postMessage"))
    unsure_slack.click(post, "jiso_choose", label="None of these", user="U2")
    fake.wait_for(lambda: fake.calls_to("chat.postEphemeral"))
    assert [turn.kind for turn in unsure_slack.turns()] == ["clarify"]
