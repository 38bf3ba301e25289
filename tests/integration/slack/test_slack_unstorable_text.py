"""A Slack question with a NUL in it is answered and recorded the same on SQLite and PostgreSQL:
Slack cannot be sent a 422, so the ledger stores the text cleaned (U+FFFD for the NUL)."""

from __future__ import annotations

import pytest

from .conftest import EN_QUESTION, Slack

pytestmark = pytest.mark.integration


def test_a_question_with_a_nul_is_answered_and_recorded_clean(slack_app: Slack) -> None:
    assert slack_app.mention(f"{EN_QUESTION}\x00", event_id="EvNul").status_code == 200
    slack_app.fake.wait_for(lambda: slack_app.fake.calls_to("chat.postMessage"))
    slack_app.finish()
    [turn] = slack_app.turns()
    assert turn.question == f"{EN_QUESTION}\ufffd" and turn.answered
