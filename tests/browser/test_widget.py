"""The widget on the demo page, in headless Chromium against a real uvicorn: questions in English
and Japanese, sources, feedback read back from the ledger, inert markup, keyboard, phone width."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot.ledger.db import make_engine
from bot.ledger.models import Conversation, OnboardingEvent, Turn, utcnow
from bot.ledger.outcomes import outcome_of
from tests.web.knowledge import EN_QUESTION, JA_QUESTION, UNKNOWN_QUESTION, XSS_QUESTION, build_settings

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path, live_server):
    return live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}"))


def conversations(server) -> list[tuple[Conversation, list[Turn]]]:
    engine = make_engine(server.settings.database_url)
    try:
        with Session(engine) as session:
            found = session.exec(select(Conversation)).all()
            return [(c, list(session.exec(select(Turn).where(Turn.conversation_id == c.id).order_by(Turn.seq)))) for c in found]
    finally:
        engine.dispose()


def widget(page):
    return page.locator("[data-jiso=widget]")


def ask(page, question: str):
    """Type a question, send it with Enter, and return the answer that appears for it."""
    answers = widget(page).locator("article.msg.bot")
    before = answers.count()
    box = widget(page).get_by_role("textbox")
    box.fill(question)
    box.press("Enter")
    answers.nth(before).wait_for()
    return answers.nth(before)


def test_english_and_japanese_questions_answered_with_sources_and_solved_read_back(server, open_page, console_errors) -> None:
    page = open_page(server.url + "/")
    widget(page).get_by_role("button", name="Ask a question").click()
    answer = ask(page, EN_QUESTION)
    assert "Invite members" in answer.locator(".answer").inner_text()
    source = answer.get_by_role("link", name=f"Members › {EN_QUESTION}")
    assert source.get_attribute("href") == f"{server.url}/knowledge/en/faq/members.md#L9"
    assert source.get_attribute("target") == "_blank" and source.get_attribute("rel") == "noopener noreferrer"
    answer.get_by_role("button", name="This solved it").click()
    widget(page).get_by_text("glad that solved it").wait_for()
    assert answer.get_by_role("button", name="This solved it").get_attribute("aria-pressed") == "true"

    ja_page = open_page(server.url + "/?lang=ja")
    widget(ja_page).get_by_role("button", name="質問する").click()
    ja_answer = ask(ja_page, JA_QUESTION)
    assert "メンバーを招待" in ja_answer.locator(".answer").inner_text()
    assert ja_answer.get_by_role("link").first.get_attribute("href") == f"{server.url}/knowledge/ja/faq/members.md#L9"
    ja_answer.get_by_role("button", name="解決した").click()
    widget(ja_page).get_by_text("解決してよかったです").wait_for()

    recorded = conversations(server)
    assert sorted((c.locale, [t.question for t in turns]) for c, turns in recorded) == [("en", [EN_QUESTION]), ("ja", [JA_QUESTION])]
    assert {outcome_of(c, utcnow(), server.settings.assume_resolved_after) for c, _ in recorded} == {"resolved_confirmed"}
    assert all(c.user_id == "demo-user" and c.org_id == "tasklane-demo" for c, _ in recorded)  # the demo's verified user
    assert console_errors == []  # no onboarding routes on this server: the widget did not call them


def test_markup_in_content_renders_inert(server, open_page, console_errors) -> None:
    page = open_page(server.url + "/")
    widget(page).get_by_role("button", name="Ask a question").click()
    answer = ask(page, XSS_QUESTION)
    text = answer.locator(".answer").inner_text()
    assert "<script>window.__pwned = 5</script>" in text and '<img src=x onerror="window.__pwned = 2">' in text
    dangerous = "script, iframe, [onerror], [onclick], a[href^='javascript:'], img"
    assert answer.locator(".answer").locator(dangerous).count() == 0
    assert page.evaluate("window.__pwned") is None

    knowledge = open_page(f"{server.url}/knowledge/en/faq/members.md#L18")
    assert "<script>window.__pwned = 5</script>" in knowledge.locator("main").inner_text()
    assert knowledge.locator("main").locator(dangerous).count() == 0 and knowledge.evaluate("window.__pwned") is None
    assert console_errors == []


def test_keyboard_only_and_hand_over(server, open_page, console_errors) -> None:
    page = open_page(server.url + "/")
    launcher = widget(page).get_by_role("button", name="Ask a question")
    for _ in range(5):  # Tab from the top of the page until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("node => node.getRootNode().activeElement === node"):
            break
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert widget(page).get_by_role("textbox").evaluate("node => node.getRootNode().activeElement === node")
    page.keyboard.type(UNKNOWN_QUESTION)
    page.keyboard.press("Enter")
    answer = widget(page).locator("article.msg.bot").first
    answer.wait_for()
    assert "talk to a person" in answer.inner_text()
    assert answer.get_by_role("button", name="This solved it").count() == 0  # nothing was answered
    answer.get_by_role("button", name="Talk to a person").focus()
    page.keyboard.press("Enter")
    widget(page).get_by_text("A person from our team will get back to you").wait_for()

    # After the hand-over the bot is quiet; "Ask a new question" makes it answer again.
    page.keyboard.type("My workspace is called Acme")
    page.keyboard.press("Enter")
    widget(page).get_by_text("Added to your request").wait_for()
    widget(page).get_by_role("button", name="Ask a new question").click()
    assert "Invite members" in ask(page, EN_QUESTION).inner_text()

    page.keyboard.press("Escape")
    assert widget(page).get_by_role("dialog").is_hidden() and launcher.evaluate("node => node.getRootNode().activeElement === node")
    [(conversation, turns)] = conversations(server)
    assert conversation.escalated_at is not None
    assert [(t.question, t.answered, t.answer_text is None) for t in turns] == [
        (UNKNOWN_QUESTION, False, False), ("My workspace is called Acme", False, True), (EN_QUESTION, True, False),
    ]  # fmt: skip
    assert console_errors == []


def test_phone_width(server, open_page, console_errors) -> None:
    page = open_page(server.url + "/", viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    widget(page).get_by_role("button", name="Ask a question").tap()
    answer = ask(page, EN_QUESTION)
    for part in (widget(page).get_by_role("dialog"), answer, widget(page).get_by_role("button", name="Send")):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["y"] >= 0 and box["y"] + box["height"] <= 640
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert console_errors == []


def test_screenshot_of_an_answer_on_the_sample_knowledge(tmp_path: Path, live_server, open_page, console_errors) -> None:
    """The Tasklane sample knowledge behind the demo page; set JISO_SCREENSHOT=docs/widget.png to refresh the README's picture."""
    settings = build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", knowledge_dir=REPO / "knowledge", identity_secret="")
    server = live_server(settings)
    page = open_page(server.url + "/", viewport={"width": 1100, "height": 900})
    widget(page).get_by_role("button", name="Ask a question").click()
    answer = ask(page, "How do I invite a teammate?")
    assert answer.get_by_role("link", name="Members and invitations › How do I invite a teammate?").count() == 1
    answer.get_by_role("button", name="This solved it").scroll_into_view_if_needed()
    page.locator("h1").click()  # focus away from the text box, for a calm picture
    shot = tmp_path / "widget.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if target := os.environ.get("JISO_SCREENSHOT"):
        shutil.copyfile(shot, REPO / target)
    assert console_errors == []


def test_signed_in_user_sees_their_checklist_and_track_records_events(tmp_path: Path, live_server, open_page, console_errors) -> None:
    """The real onboarding routes: the user's own progress, and jiso.track() landing in the ledger."""
    settings = build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}")
    shutil.copyfile(REPO / "knowledge" / "onboarding.yml", settings.knowledge_dir / "onboarding.yml")
    server = live_server(settings)
    page = open_page(server.url + "/")
    assert page.evaluate("window.jiso.track('member.invited')") is True
    assert page.evaluate("window.jiso.track('member.invited')") is True  # a second invitation: still one step
    widget(page).get_by_role("button", name="Ask a question").click()
    setup = widget(page).locator("details.setup")
    setup.locator("summary").wait_for()
    assert setup.locator("summary").inner_text() == "Your setup 1/11"
    setup.locator("summary").click()
    assert setup.locator("li.done").inner_text().split() == ["✓", "Invite", "your", "teammates", "(done)"]
    assert "Connect Slack" in setup.locator("li.todo").all_inner_texts()
    database = make_engine(settings.database_url)
    with Session(database) as session:
        events = session.exec(select(OnboardingEvent)).all()
    database.dispose()
    assert [(event.name, event.user_id, event.org_id) for event in events] == [("member.invited", "demo-user", "tasklane-demo")] * 2
    assert console_errors == []


def test_track_and_checklist_stay_silent_without_a_signed_in_user(tmp_path: Path, live_server, open_page, console_errors) -> None:
    settings = build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", identity_secret="")
    shutil.copyfile(REPO / "knowledge" / "onboarding.yml", settings.knowledge_dir / "onboarding.yml")
    server = live_server(settings)
    page = open_page(server.url + "/")
    assert page.evaluate("window.jiso.track('member.invited')") is False
    widget(page).get_by_role("button", name="Ask a question").click()
    widget(page).get_by_text("Ask me anything").wait_for()
    assert widget(page).locator("details.setup").is_hidden()
    assert console_errors == []
