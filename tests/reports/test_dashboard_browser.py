"""The dashboard in headless Chromium against a real uvicorn and a seeded ledger."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from bot import closing
from bot.escalation import Dispatcher
from bot.ledger import handovers, writes
from bot.ledger.db import make_engine, upgrade
from bot.ledger.models import utcnow
from bot.onboarding import load_checklist
from tests.reports.conftest import ADMIN_KEY, make_settings
from tests.reports.demo import seed_demo

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DRAFT_QUESTION = "Can I pay by bank transfer?"


def hand_over_answered_by_a_person(session: Session) -> None:
    """A closed hand-over with a person's reply: it becomes a FAQ draft, listed under the gaps."""
    conversation = writes.open_conversation(session=session, channel="web", locale="en", user_id="user0", org_id="acme")
    writes.record_turn(session=session, conversation=conversation, question=DRAFT_QUESTION, answer_text="I don't know", answered=False, locale="en")
    escalation = writes.record_escalation(session=session, conversation=conversation, reason="asked for a person", destinations=[])
    handovers.record_reply(session=session, escalation=escalation, text="Yes: choose Invoice at checkout.", via="api")
    dispatcher = Dispatcher(session.get_bind(), [])  # no destination: the close goes nowhere
    closing.close_handover(session=session, escalation_id=escalation.id, closed_by="key:test", via="api", dispatcher=dispatcher, engine=None)
    dispatcher.close()


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from api.app import create_app

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    settings = make_settings(tmp_path, url)
    shutil.copy(REPO / "knowledge" / "onboarding.yml", settings.knowledge_dir / "onboarding.yml")
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seed_demo(session, load_checklist(settings.knowledge_dir), utcnow())
        hand_over_answered_by_a_person(session)
    engine.dispose()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def signed_in_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1200, "height": 1500}, locale="en-US", timezone_id="Asia/Tokyo", accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    # Refused requests (a 401 before signing in, a 422 for a mistyped zone) are shown on the page; anything else is a problem.
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    page.fill("input[name=key]", ADMIN_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]")
    return context, page, problems


def test_a_wrong_key_says_what_is_wrong(server, browser) -> None:
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{server}/dashboard")
        page.fill("input[name=key]", "jiso_00000000_" + "x" * 43)
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("#login-error:not([hidden])")
        assert page.inner_text("#login-error").startswith("Sign-in failed: unknown or revoked API key: check that it was copied whole")
        assert page.is_visible("#key-form") and page.is_hidden("#board")
    finally:
        context.close()


def test_dashboard_shows_reports_in_english_and_japanese(server, browser, tmp_path) -> None:
    context, page, problems = signed_in_page(browser, f"{server}/dashboard")
    try:
        assert page.input_value("input[name=tz]") == "Asia/Tokyo"  # the browser's zone
        stated = page.inner_text("#period")
        first, last = page.input_value("input[name=from]"), page.input_value("input[name=to]")
        assert first and last and f"{first} – {last} (Asia/Tokyo)" in stated  # the period is stated
        assert page.locator(".tile").count() == 16
        # What people did with the hand-overs sits beside the outcomes, with the API's numbers.
        shown = page.request.get(f"{server}/api/v1/reports/summary?from={first}&to={last}&tz=Asia/Tokyo").json()["conversations"]
        assert shown["resolved_by_person"] >= 1  # the seeded hand-over a person answered and closed
        for name, key in (("Open hand-overs", "open_escalations"), ("Resolved by a person", "resolved_by_person")):
            assert page.inner_text(f".tile[data-kpi='{name}'] .v") == str(shown[key])
        assert page.inner_text(".tile[data-kpi='Median time to close'] .v").strip() not in ("", "–")
        assert {page.locator(f".tile[data-kpi={name}]").count() for name in ("Decided", "Open")} == {1}
        assert all(text.strip() for text in page.locator(".tile .d").all_inner_texts())  # every KPI says what it means
        assert "÷ decided" in page.inner_text(".tile[data-kpi='Escalation rate']")
        assert page.locator("#orgs tbody tr").count() == 4
        assert page.locator("#funnel rect[data-step]").count() == 11
        assert page.locator("#trend polyline[data-series=deflection_rate]").count() == 1
        assert "Excel" in page.inner_text("#gaps")
        assert page.locator("#conversations tbody tr").count() == 15 and "shown of" in page.inner_text("#list-count")
        assert DRAFT_QUESTION in page.inner_text("#drafts") and "choose Invoice at checkout" in page.inner_text("#drafts")
        if os.environ.get("JISO_UPDATE_SCREENSHOT"):
            page.screenshot(path=str(REPO / "docs" / "dashboard.png"), full_page=True)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert "jiso_session" not in page.evaluate("document.cookie")  # HttpOnly: no script reads the session
        assert page.evaluate("Object.keys(localStorage).filter((k) => k.includes('key'))") == []

        # Filters go into the address (shareable), the time zone is remembered.
        page.fill("input[name=org_id]", "acme")
        page.fill("input[name=tz]", "Europe/Berlin")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("body[data-loaded=true]")
        assert "org_id=acme" in page.url and "tz=Europe%2FBerlin" in page.url and "from=" not in page.url  # the default period stays rolling
        assert page.locator("#orgs tbody tr").count() == 1

        # From a KPI to the conversations behind it, and on to a transcript.
        page.click(".tile[data-kpi='Escalation rate'] a.see")
        page.wait_for_function("location.search.includes('outcome=escalated')")
        page.wait_for_selector("body[data-loaded=true]")
        assert set(page.locator("#conversations tbody tr").evaluate_all("rows => rows.map((r) => r.dataset.outcome)")) == {"escalated"}
        with context.expect_page() as opened:
            page.click("#conversations tbody tr >> nth=0 >> a")
        transcript = opened.value
        transcript.wait_for_load_state()
        assert "Handed over to a person" in transcript.content() and "acme" in transcript.content()
        transcript.close()
        page.fill("#list-filters input[name=q]", "Excel")
        page.click("#list-filters button[type=submit]")
        page.wait_for_function("location.search.includes('q=Excel')")
        page.wait_for_selector("body[data-loaded=true]")
        assert all("Excel" in text for text in page.locator("#conversations tbody tr td:nth-child(6)").all_inner_texts())

        page.reload()  # signed in by the cookie; the view comes back from the address
        page.wait_for_selector("body[data-loaded=true]")
        assert page.input_value("input[name=org_id]") == "acme" and page.input_value("select[name=outcome]") == "escalated"

        page.select_option("select[name=lang]", "ja")
        page.click("#filters button[type=submit]")
        page.wait_for_function("document.querySelector('h1').textContent.includes('ダッシュボード')")
        page.wait_for_selector("body[data-loaded=true]")
        page.wait_for_selector("text=ワークスペースを作成する")
        assert "組織別" in page.inner_text("main") and "÷ 結果確定" in page.inner_text(".tile >> nth=4")
        with page.expect_download() as download:
            page.click("a.csv[data-report=summary]")
        data = Path(download.value.path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") and "ワークスペースを作成する" in data.decode("utf-8-sig")  # Excel-friendly CSV

        page.fill("input[name=tz]", "Mars/Base")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("body[data-loaded=true]")
        assert "unknown timezone 'Mars/Base': use an IANA name" in page.inner_text("#error")

        page.goto(f"{server}/dashboard")  # a fresh visit: the zone that worked and the language are remembered
        page.wait_for_selector("body[data-loaded=true]")
        assert page.input_value("input[name=tz]") == "Europe/Berlin" and page.input_value("select[name=lang]") == "ja"
        page.click("#sign-out")
        page.wait_for_selector("#key-form", state="visible")
        page.reload()
        page.wait_for_selector("#key-form", state="visible")
        assert not [c for c in context.cookies() if c["name"] == "jiso_session"]
    finally:
        context.close()
    assert problems == []  # no CSP violation, no script error


def test_a_trend_of_one_bucket_is_drawn(server, browser) -> None:
    day = (utcnow() - timedelta(days=3)).date().isoformat()
    context, page, problems = signed_in_page(browser, f"{server}/dashboard?from={day}&to={day}&tz=UTC")
    try:
        assert page.input_value("input[name=from]") == day and f"{day} – {day} (UTC)" in page.inner_text("#period")
        assert page.locator("#trend svg rect").count() == 1
        assert page.locator("#trend circle[data-series=deflection_rate]").count() == 1
        assert page.locator("#trend circle[data-series=escalation_rate]").count() == 1
    finally:
        context.close()
    assert problems == []
