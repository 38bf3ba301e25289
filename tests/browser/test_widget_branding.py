"""The widget on someone else's site, in headless Chromium: branded by data-* attributes (colours
held to WCAG AA contrast, logo, position, launcher label, welcome, starter questions), and the
set-up mistakes a site makes — an origin missing from JISO_ALLOWED_ORIGINS, a wrong identity
hash — shown to the visitor in plain words and to the developer, precisely, in the console."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from api.branding import contrast
from tests.browser.test_widget import has_focus, screenshot, widget
from tests.web.knowledge import EN_QUESTION, build_settings

pytestmark = pytest.mark.browser
LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="24"><rect width="48" height="24" rx="4" fill="#1f2430"/></svg>'


class Site:
    """A customer's web site on its own origin (another port): one page (`html`) and its logo."""

    def __init__(self) -> None:
        self.html = ""
        site = self

        class Page(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                logo = self.path == "/logo.svg"
                body = (LOGO if logo else site.html).encode()
                self.send_response(200)
                self.send_header("Content-Type", "image/svg+xml" if logo else "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def site() -> Iterator[Site]:
    shop = Site()
    yield shop
    shop.server.shutdown()
    shop.server.server_close()


def open_site(open_page, site: Site, server, attributes: dict[str, str], console: list[tuple[str, str]] | None = None):
    """The site's page embedding the widget from the jiso `server` with these data-* attributes."""
    tag = " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items())
    site.html = f'<!doctype html><html lang="en"><body style="margin: 40px 40px 40px 480px; font: 18px sans-serif"><h1>Shop</h1><p>Everything for your team, delivered.</p><script src="{server.url}/static/widget.js" {tag}></script></body></html>'
    page = open_page("about:blank")
    if console is not None:
        page.on("console", lambda message: console.append((message.type, message.text)))
    page.goto(site.origin + "/")
    return page


def hex_of(rgb: str) -> str:
    return "#" + "".join(f"{int(part):02x}" for part in rgb[rgb.index("(") + 1 : -1].split(",")[:3])


def colours(locator) -> tuple[str, str]:
    return tuple(hex_of(value) for value in locator.evaluate("node => [getComputedStyle(node).color, getComputedStyle(node).backgroundColor]"))


def test_branding_by_data_attributes_with_contrast_enforced(tmp_path: Path, site: Site, live_server, open_page, console_errors) -> None:
    server = live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", allowed_origins=[site.origin]))
    console: list[tuple[str, str]] = []
    page = open_site(
        open_page,
        site,
        server,
        {
            "data-accent": "#ffcc00",  # a light yellow…
            "data-accent-text": "#ffffff",  # …with white text: 1.6:1, below AA, so the widget picks a dark text
            "data-position": "left",
            "data-logo": f"{site.origin}/logo.svg",
            "data-launcher-label": "Need help?",
            "data-welcome": "Welcome to Shop support!",
            "data-starter-questions": f"{EN_QUESTION}|What does it cost?",
        },
        console,
    )
    launcher = widget(page).get_by_role("button", name="Need help?")
    launcher.wait_for()
    text, background = colours(launcher)
    assert background == "#ffcc00" and contrast(text, background) >= 4.5
    assert ("warning", 'jiso: data-accent-text="#ffffff" on #ffcc00 is not a colour with WCAG AA contrast (4.5:1 for text): using #1f2430') in console
    assert launcher.bounding_box()["x"] < 100  # bottom left
    launcher.click()
    panel = widget(page).get_by_role("dialog")
    assert colours(panel.locator("header"))[1] == "#ffcc00" and panel.locator("header img.logo").get_attribute("alt") == ""
    assert panel.locator("header img.logo").evaluate("image => image.decode().then(() => image.naturalWidth)") == 48
    widget(page).get_by_text("Welcome to Shop support!").wait_for()
    starters = widget(page).get_by_role("group", name="Popular questions").get_by_role("button")
    assert starters.all_inner_texts() == [EN_QUESTION, "What does it cost?"]
    page.set_viewport_size({"width": 900, "height": 760})
    screenshot(page, tmp_path / "widget-branded.png", "JISO_BRANDED_SCREENSHOT")  # JISO_BRANDED_SCREENSHOT=docs/widget-branded.png refreshes the picture
    starters.first.click()  # one click asks it
    answer = widget(page).locator("article.msg.bot").first
    answer.wait_for()
    assert "Invite members" in answer.inner_text() and widget(page).get_by_role("group", name="Popular questions").count() == 0
    user_message = widget(page).locator("p.msg.user")
    assert user_message.inner_text() == EN_QUESTION and contrast(*colours(user_message)) >= 4.5
    link = answer.locator(".sources a").first
    assert contrast(colours(link)[0], "#f1f3f7") >= 4.5  # links: the accent darkened until it reads on the bubble
    assert console_errors == []


def test_an_origin_missing_from_allowed_origins_is_named_in_the_console(tmp_path: Path, site: Site, live_server, open_page, console_errors) -> None:
    server = live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}"))  # allows only its own origin
    page = open_site(open_page, site, server, {})
    widget(page).get_by_role("button", name="Ask a question").click()
    widget(page).get_by_text("The help chat cannot connect right now.").wait_for()  # before they type
    box = widget(page).get_by_role("textbox")
    box.fill(EN_QUESTION)
    box.press("Enter")
    widget(page).locator(".note.error").nth(1).wait_for()
    assert widget(page).locator(".note.error").all_inner_texts() == ["The help chat cannot connect right now. Please try again later."] * 2
    assert "Something went wrong" not in widget(page).locator(".log").inner_text()
    reason = f'jiso: {server.url} is up but does not allow requests from this page\'s origin {site.origin}: add "{site.origin}" to JISO_ALLOWED_ORIGINS (a JSON list) on the jiso server and restart it'
    for _ in range(100):  # the reason is logged once the no-cors probe of /health returns
        if reason in console_errors:
            break
        page.wait_for_timeout(50)
    assert console_errors.count(reason) == 1  # once, however many calls failed


def test_a_wrong_identity_hash_is_named_in_the_console(tmp_path: Path, site: Site, live_server, open_page, console_errors) -> None:
    server = live_server(build_settings(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", allowed_origins=[site.origin]))
    page = open_site(open_page, site, server, {"data-user-id": "u_123", "data-org-id": "org_42", "data-user-hash": "0" * 64})
    widget(page).get_by_role("button", name="Ask a question").click()
    answers = ask_without_answer(page, EN_QUESTION)
    assert answers == ["We could not confirm your sign-in, so the help chat cannot start. Please reload the page; if it keeps happening, contact support."]
    assert (
        "jiso: the server refused this page's signed-in user (the user's hash does not match: it must be the hex HMAC-SHA256 of 'id:org_id' with the server's identity secret)."
        ' data-user-hash must be the hex HMAC-SHA256 of "u_123:org_42" with the server\'s JISO_IDENTITY_SECRET, computed by your backend; check the secret, the user id and the organization id'
    ) in console_errors
    assert has_focus(widget(page).get_by_role("textbox"))


def ask_without_answer(page, question: str) -> list[str]:
    """Send a question that gets no answer, and return the error notes shown."""
    box = widget(page).get_by_role("textbox")
    box.fill(question)
    box.press("Enter")
    widget(page).locator(".note.error").first.wait_for()
    return widget(page).locator(".note.error").all_inner_texts()
