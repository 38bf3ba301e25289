"""Our pages: the demo with the widget, knowledge pages (safe, anchored, no path traversal), CSP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_demo_page_embeds_the_widget_under_a_strict_csp(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert '<script src="/static/widget.js" data-locale="en"' in response.text
    assert 'data-user-hash="' in response.text  # a verified demo user when the server has a secret
    assert client.get("/?lang=ja").text.startswith('<!doctype html>\n<html lang="ja">')
    assert client.get("/static/widget.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_knowledge_page_is_rendered_safely_with_line_anchors(client) -> None:
    response = client.get("/knowledge/en/faq/members.md")
    assert response.status_code == 200 and "content-security-policy" in response.headers
    html = response.text
    assert '<h2 id="L9">How do I invite a teammate?</h2>' in html
    assert "<script>" not in html.split("</head>")[1] and "onerror=" not in html.replace('onerror="window', "")
    assert "&lt;script&gt;window.__pwned = 5&lt;/script&gt;" in html
    assert "javascript:" not in html.replace("(javascript:window.__pwned=3)", "").replace('"javascript:window.__pwned=4"', "")
    assert "id: invite-member" not in html  # the writers' metadata comment is not shown
    assert 'href="/knowledge/en/manual/members.md#inviting"' in html


@pytest.mark.parametrize(
    "path",
    ["../pyproject.toml", "..%2f..%2fpyproject.toml", "%2e%2e/%2e%2e/etc/passwd", "en/faq/missing.md", "en/faq", "en/faq/members.txt", ".hidden/x.md"],
)
def test_knowledge_paths_outside_or_not_markdown_are_404(client, path: str) -> None:
    assert client.get(f"/knowledge/{path}").status_code == 404
