"""A person's reply after a hand-over appears in the open widget without a reload, whichever
server instance it was posted to, and again in the restored conversation after a reload."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.browser.test_widget import ask, screenshot, widget
from tests.support import webhook_receiver
from tests.web.knowledge import UNKNOWN_QUESTION, build_settings

pytestmark = pytest.mark.browser
ADMIN_KEY = "admin-key-for-browser-tests"


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as resources:
        yield resources


def test_a_persons_reply_appears_live_and_after_a_reload(tmp_path: Path, live_server, open_page, console_errors, stack: ExitStack) -> None:
    receiver = stack.enter_context(webhook_receiver([]))
    receiver.release.set()
    settings = build_settings(
        tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", admin_api_key=ADMIN_KEY, escalation_webhook_url=receiver.url, escalation_webhook_secret="s", identity_secret=""
    )  # an anonymous visitor
    first, second = live_server(settings), live_server(settings)  # two instances over one ledger
    page = open_page(first.url + "/")
    widget(page).get_by_role("button", name="Ask a question").click()
    ask(page, UNKNOWN_QUESTION).get_by_role("button", name="Talk to a person").click()
    # An anonymous visitor may leave an e-mail; a malformed one is refused and can be corrected.
    email = widget(page).get_by_role("textbox", name="Your e-mail (optional)")
    email.fill("ann@example")
    widget(page).get_by_role("button", name="Send to a person").click()
    widget(page).get_by_text("That e-mail address does not look right").wait_for()
    email.fill("ann@example.com")
    widget(page).get_by_role("button", name="Send to a person").click()
    widget(page).get_by_text("their reply will appear here, and they can write to you at ann@example.com").wait_for()
    assert widget(page).locator("form.contact").count() == 0
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
    handover = json.loads(receiver.received[0][1])
    assert handover["contact_email"] == "ann@example.com"  # the address travels with the hand-over
    assert console_errors == [m for m in console_errors if "422" in m]  # only the refused e-mail's request
