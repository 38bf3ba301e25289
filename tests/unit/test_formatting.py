"""Answer markdown → sanitized HTML: formatting kept, raw HTML and unsafe links never markup."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bot.formatting import TAGS, knowledge_url, render_markdown

pytestmark = pytest.mark.unit


class Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def test_markdown_formatting_survives() -> None:
    html = render_markdown("1. Open **Settings › Members**\n2. Click `Invite`\n\n| a | b |\n|--:|---|\n| 1 | 2 |\n")
    assert "<ol>\n<li>Open <strong>Settings › Members</strong></li>" in html and "<code>Invite</code>" in html
    assert '<th class="align-right">a</th>' in html and "style=" not in html


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "inline <script>alert(1)</script> text",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD4=)",
        '<a href="javascript:alert(1)">x</a>',
        "![x](javascript:alert(1))",
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{display:none}</style>",
        '<div onclick="alert(1)">x</div>',
    ],
)
def test_raw_html_and_unsafe_links_never_become_markup(markdown: str) -> None:
    html = render_markdown(markdown)
    for tag, attributes in Elements(html).found:
        assert tag in TAGS - {"img"}
        assert not any(name.startswith("on") for name in attributes)
        for url in (attributes.get("href"), attributes.get("src")):
            assert url is None or url.startswith(("https://", "http://", "mailto:"))
    assert "&lt;" in html or "](" in html  # shown as text, not silently lost


def test_comments_are_dropped_and_other_html_is_shown_as_text() -> None:
    html = render_markdown("<!--\nid: secret-metadata\n-->\n\nPress <kbd>Enter</kbd>.\n")
    assert "secret-metadata" not in html
    assert "Press &lt;kbd&gt;Enter&lt;/kbd&gt;." in html


def test_links_open_safely_in_a_new_tab() -> None:
    html = render_markdown("[docs](https://developers.tasklane.example) and [mail](mailto:help@tasklane.example)")
    assert '<a href="https://developers.tasklane.example" target="_blank" rel="noopener noreferrer">docs</a>' in html
    assert 'href="mailto:help@tasklane.example"' in html


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("../manual/sso.md", "https://jiso.example/knowledge/en/manual/sso.md"),
        ("billing.md#seats", "https://jiso.example/knowledge/en/faq/billing.md#seats"),
        ("../../assets/flow.svg", "https://jiso.example/knowledge/assets/flow.svg"),
        ("#L3", "https://jiso.example/knowledge/en/faq/members.md#L3"),
        ("../../../etc/passwd", None),
        ("https://example.com/x", "https://example.com/x"),
    ],
)
def test_relative_links_point_at_our_knowledge_pages(target: str, expected: str | None) -> None:
    assert knowledge_url(target, source_path="en/faq/members.md", link_base="https://jiso.example") == expected


def test_a_link_leaving_the_knowledge_loses_its_target() -> None:
    html = render_markdown("[out](../../../etc/passwd)", source_path="en/faq/members.md")
    assert "passwd" not in html and ">out</a>" in html


def test_knowledge_pages_get_line_anchors() -> None:
    html = render_markdown("---\ntitle: T\n---\n\n## Question?\n\nAnswer.\n", source_path="en/faq/x.md", anchors=True, new_tab=False)
    assert '<h2 id="L5">Question?</h2>' in html and '<p id="L7">Answer.</p>' in html and "title: T" not in html
