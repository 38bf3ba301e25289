"""The next-step nudge in headless Chromium against a real uvicorn and the sample knowledge: on the
demo page, with the keyboard and a screen reader's live region, never while the user types,
recorded in the ledger, once a day, and off with data-nudges="off"."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.identity import identity_hash
from bot.ledger.db import make_engine
from bot.ledger.models import OnboardingEvent
from tests.browser.test_widget import REPO, screenshot, widget
from tests.web.knowledge import IDENTITY_SECRET, build_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path, live_server):
    return live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", knowledge_dir=REPO / "knowledge"))


def nudge_events(server, user: str) -> list[tuple[str, str]]:
    engine = make_engine(server.settings.database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(OnboardingEvent).where(OnboardingEvent.user_id == user, OnboardingEvent.name.startswith("jiso.nudge.")).order_by(OnboardingEvent.id)).all()
            return [(row.name, row.properties["step"]) for row in rows]
    finally:
        engine.dispose()


def host_page(page, server, user: str, *extra: str) -> None:
    """A customer's page (same origin) embedding the widget for a verified `user`."""
    attributes = f'data-locale="en" data-user-id="{user}" data-org-id="acme" data-user-hash="{identity_hash(IDENTITY_SECRET, user, "acme")}" {" ".join(extra)}'
    html = f'<!doctype html><html lang="en"><body><h1>Acme app</h1><input name="search" aria-label="Search"><script src="/static/widget.js" {attributes}></script></body></html>'
    page.route(f"{server.url}/app", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    page.goto(f"{server.url}/app")


def test_demo_page_nudges_the_next_step_keyboard_and_screen_reader_friendly(server, open_page, console_errors, tmp_path: Path) -> None:
    page = open_page(server.url + "/", viewport={"width": 1100, "height": 900})
    card = widget(page).get_by_role("complementary", name="Your next setup step")
    card.wait_for()
    # Inside a polite live region, so a screen reader reads it out without moving the focus.
    assert widget(page).get_by_role("status").locator(".nudge").count() == 1
    assert "Next step: Create your account" in card.inner_text() and "0 of 4 required" in card.inner_text()
    link = card.get_by_role("link", name="How do I create a Tasklane account?")
    assert link.get_attribute("href") == f"{server.url}/knowledge/en/faq/account-setup.md#L12" and link.get_attribute("target") == "_blank"
    assert page.evaluate("document.activeElement === document.body")  # the focus stayed where it was
    screenshot(page, tmp_path / "widget-nudge.png", "JISO_NUDGE_SCREENSHOT")

    # "Your setup" shows the required progress, and the open step links to its entry.
    widget(page).get_by_role("button", name="Ask a question").click()
    assert card.count() == 0  # the panel takes the nudge's place
    summary = widget(page).locator("details.setup summary")
    summary.wait_for()
    assert summary.inner_text() == "Your setup · 0 of 4 required steps done"
    summary.click()
    step_link = widget(page).locator("details.setup").get_by_role("link", name="Create your account")
    assert step_link.get_attribute("href") == f"{server.url}/knowledge/en/faq/account-setup.md#L12"

    # Shown once today, on every device: a fresh browser gets no second nudge.
    other = open_page(server.url + "/")
    with other.expect_response(lambda response: response.url.endswith("/api/v1/widget/nudge")) as reply:
        pass
    assert reply.value.json() == {"nudge": None}
    assert widget(other).locator(".nudge").count() == 0
    assert nudge_events(server, "demo-user") == [("jiso.nudge.shown", "create-account")]
    assert console_errors == []


def test_dismiss_with_escape_returns_the_focus_and_opening_is_recorded(server, open_page, console_errors) -> None:
    page = open_page("about:blank")
    host_page(page, server, "keyboard-user")
    card = widget(page).locator(".nudge")
    card.wait_for()
    widget(page).locator(".nudge-dismiss").focus()
    with page.expect_response(lambda response: response.url.endswith("/widget/nudge/dismissed")):
        page.keyboard.press("Escape")
    assert card.count() == 0
    assert widget(page).locator(".launcher").evaluate("node => node.getRootNode().activeElement === node")

    mouse = open_page("about:blank")
    host_page(mouse, server, "reading-user")
    widget(mouse).locator(".nudge").wait_for()
    with mouse.expect_response(lambda response: response.url.endswith("/widget/nudge/opened")), mouse.context.expect_page() as opened:
        widget(mouse).locator(".nudge-open").click()
    opened.value.wait_for_load_state()
    assert opened.value.url.startswith(f"{server.url}/knowledge/en/faq/account-setup.md")
    assert widget(mouse).locator(".nudge").count() == 0
    assert nudge_events(server, "keyboard-user") == [("jiso.nudge.shown", "create-account"), ("jiso.nudge.dismissed", "create-account")]
    assert nudge_events(server, "reading-user")[-1] == ("jiso.nudge.opened", "create-account")
    assert console_errors == []


def test_never_while_typing_and_off_when_the_page_says_so(server, open_page, console_errors) -> None:
    page = open_page("about:blank")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/api/v1/widget/nudge") else None)
    host_page(page, server, "typing-user")
    page.get_by_role("textbox", name="Search").click()
    for _ in range(12):  # six seconds of typing, a key every half second
        page.keyboard.type("a")
        page.wait_for_timeout(500)
    assert asked == [] and widget(page).locator(".nudge").count() == 0
    widget(page).locator(".nudge").wait_for()  # the user paused: now it comes
    assert len(asked) == 1

    quiet = open_page("about:blank")
    quiet_asked: list[str] = []
    quiet.on("request", lambda request: quiet_asked.append(request.url) if "/widget/nudge" in request.url else None)
    host_page(quiet, server, "no-nudges-user", 'data-nudges="off"')
    quiet.wait_for_timeout(5000)
    assert quiet_asked == [] and nudge_events(server, "no-nudges-user") == []
    assert console_errors == []
