"""A person's reply after a hand-over appears in the open widget without a reload, whichever
server instance it was posted to, and again in the restored conversation after a reload."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.browser.test_widget import ask, screenshot, widget
from tests.web.knowledge import UNKNOWN_QUESTION, build_settings

pytestmark = pytest.mark.browser
ADMIN_KEY = "admin-key-for-browser-tests"


def test_a_persons_reply_appears_live_and_after_a_reload(tmp_path: Path, live_server, open_page, console_errors) -> None:
    settings = build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", admin_api_key=ADMIN_KEY)
    first, second = live_server(settings), live_server(settings)  # two instances over one ledger
    page = open_page(first.url + "/")
    widget(page).get_by_role("button", name="Ask a question").click()
    ask(page, UNKNOWN_QUESTION).get_by_role("button", name="Talk to a person").click()
    widget(page).locator(".note.handover").wait_for()
    box = widget(page).get_by_role("textbox")
    box.fill("We are on the Team plan")
    box.press("Enter")
    widget(page).get_by_text("Added to your request").wait_for()

    conversation_id = page.evaluate("() => Object.entries(sessionStorage).find(([k]) => k.startsWith('jiso:conversation:'))[1]")
    reply = "Hi! Bread baking is not supported yet.\nWe have noted your interest."
    response = httpx.post(
        f"{second.url}/api/v1/conversations/{conversation_id}/replies",
        json={"text": reply, "author": {"name": "Alice"}},
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Idempotency-Key": "reply-1"},
    )
    assert response.status_code == 201

    shown = widget(page).locator("article.msg.person")
    shown.wait_for(timeout=15_000)  # the widget polls every few seconds
    assert shown.locator(".author").inner_text() == "Alice, from our team"
    assert shown.locator(".reply").inner_text() == reply  # as text, line break kept
    screenshot(page, tmp_path / "widget-reply.png", "JISO_WIDGET_REPLY_SCREENSHOT")

    page.reload()
    widget(page).get_by_role("button", name="Ask a question").click()
    restored = widget(page).locator("article.msg.person")
    restored.wait_for()
    assert restored.count() == 1 and restored.locator(".reply").inner_text() == reply
    # In time order: the question, the user's note for the person, then the reply.
    texts = widget(page).locator(".log > .msg.user, .log > .msg.person").all_inner_texts()
    assert texts[0] == UNKNOWN_QUESTION and texts[1] == "We are on the Team plan" and reply in texts[2]
    with page.expect_response(lambda answer: answer.url.endswith(f"/conversations/{conversation_id}/replies"), timeout=15_000):
        pass  # the next poll after the restore…
    assert widget(page).locator("article.msg.person").count() == 1  # …does not show the reply a second time
    assert console_errors == []
