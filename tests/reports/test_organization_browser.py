"""One organization's dashboard page in headless Chromium against a real uvicorn and a seeded
ledger: members, funnel, benchmark and retention chart; a champion's key sees only their own."""

from __future__ import annotations

import os

import pytest
from sqlmodel import Session

from bot.apikeys import create_key
from bot.ledger.db import make_engine
from tests.reports.conftest import ADMIN_KEY
from tests.reports.test_dashboard_browser import REPO, server  # noqa: F401 (the seeded server fixture)

pytestmark = pytest.mark.browser


def champion_key(tmp_path) -> str:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    with Session(engine) as session:
        key = create_key(session=session, role="manager", org_id="acme")[1]
    engine.dispose()
    return key


def sign_in(page, url: str, key: str) -> None:
    page.goto(url)
    page.fill("input[name=key]", key)
    page.click("#key-form button[type=submit]")


def test_organization_page_for_a_manager_and_the_champion(server, browser, tmp_path) -> None:  # noqa: F811
    import httpx

    context = browser.new_context(viewport={"width": 1200, "height": 1700}, locale="en-US", timezone_id="UTC")
    problems: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        sign_in(page, f"{server}/dashboard/organization?org_id=acme", ADMIN_KEY)
        page.wait_for_selector("body[data-loaded=true]")
        members = httpx.get(f"{server}/api/v1/reports/organizations/acme/members", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()["members"]
        assert members and page.locator("#members tbody tr").count() == len(members)
        assert page.locator("#members tbody tr.stuck").count() == sum(1 for m in members if m["stuck_step"])
        assert page.locator("#funnel rect[data-step]").count() == 11
        assert page.locator("#retention rect[data-group]").count() >= 1
        benchmark = page.locator(".tile").nth(4)
        assert benchmark.locator(".k").inner_text() == "All organizations' median" and benchmark.locator(".v").inner_text().endswith(" h")
        if target := os.environ.get("JISO_ORG_SCREENSHOT"):
            page.screenshot(path=str(REPO / target), full_page=True)
        page.screenshot(path=str(tmp_path / "organization.png"), full_page=True)
        page.check("input[name=stuck]")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("body[data-loaded=true]")
        stuck = sum(1 for m in members if m["stuck_step"])
        assert page.locator("#members tbody tr").count() == stuck == page.locator("#members tbody tr.stuck").count()
    finally:
        context.close()

    # The champion of acme: their page works, another organization's is refused.
    champion = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = champion.new_page()
        sign_in(page, f"{server}/dashboard/organization?org_id=acme", champion_key(tmp_path))
        page.wait_for_selector("body[data-loaded=true]")
        assert page.locator("#members tbody tr").count() == len(members)
        page.fill("input[name=org_id]", "globex")
        page.click("#filters button[type=submit]")
        page.wait_for_selector("#error:not([hidden])")
        assert "another organization" in page.inner_text("#error")
    finally:
        champion.close()
    assert problems == []
