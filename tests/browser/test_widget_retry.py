"""An instance dying behind the load balancer: the question was recorded, but the widget got a 502
instead of the answer. It retries with the same Idempotency-Key and shows the answer the server
kept for that key: one question in the ledger, not two."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_widget import ask, conversations, widget
from tests.web.knowledge import EN_QUESTION, build_settings

pytestmark = pytest.mark.browser


def test_a_502_after_the_question_was_recorded_is_retried_and_answered_once(tmp_path: Path, live_server, open_page, console_errors) -> None:
    server = live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}"))
    page = open_page(server.url + "/")
    lost: list[str] = []

    def die_after_writing(route) -> None:
        if route.request.method == "POST" and not lost:
            route.fetch()  # the instance did the work…
            lost.append(route.request.headers["idempotency-key"])
            route.fulfill(status=502, body="Bad Gateway")  # …and died before answering
        else:
            route.continue_()

    page.route("**/api/v1/conversations/*/messages", die_after_writing)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.headers.get("idempotency-key", "")) if request.url.endswith("/messages") else None)
    widget(page).get_by_role("button", name="Ask a question").click()
    answer = ask(page, EN_QUESTION)
    assert "Invite members" in answer.locator(".answer").inner_text()
    assert len(sent) == 2 and sent[0] == sent[1] == lost[0]  # the retry carried the same key
    assert [[t.question for t in turns] for _, turns in conversations(server)] == [[EN_QUESTION]]
    assert widget(page).locator(".note.error").count() == 0
    assert [e for e in console_errors if "502" not in e] == []  # Chromium logs the failed response itself
