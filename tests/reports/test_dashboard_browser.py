"""The dashboard in headless Chromium against a real uvicorn and a seeded ledger."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
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


def test_dashboard_shows_reports_in_english_and_japanese(server, browser, tmp_path) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 1500}, locale="en-US", timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(f"{server}/dashboard")
        page.fill("input[name=key]", ADMIN_KEY)
        page.click("#key-form button[type=submit]")
        page.wait_for_selector("body[data-loaded=true]")
        assert page.input_value("input[name=tz]") == "Asia/Tokyo"
        assert page.locator(".tile").count() == 10
        assert page.locator("#orgs tbody tr").count() == 4
        assert page.locator("#funnel rect[data-step]").count() == 11
        assert page.locator("#trend polyline[data-series=deflection_rate]").count() == 1
        assert "Excel" in page.inner_text("#gaps")
        assert DRAFT_QUESTION in page.inner_text("#drafts") and "choose Invoice at checkout" in page.inner_text("#drafts")
        if os.environ.get("JISO_UPDATE_SCREENSHOT"):
            page.screenshot(path=str(REPO / "docs" / "dashboard.png"), full_page=True)
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

        page.select_option("select[name=lang]", "ja")
        page.click("#filters button[type=submit]")
        page.wait_for_function("document.querySelector('h1').textContent.includes('ダッシュボード')")
        page.wait_for_selector("text=ワークスペースを作成する")
        assert "組織別" in page.inner_text("main")

        page.reload()  # the key was entered once and is remembered
        page.wait_for_selector("body[data-loaded=true]")
        page.click("#forget")
        assert page.is_visible("#key-form")
    finally:
        context.close()
    assert problems == []  # no CSP violation, no script error
