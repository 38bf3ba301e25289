"""Our pages: the demo with the widget, knowledge pages (safe, anchored, no path traversal), CSP."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def transcript_page(client, conversation_id: str):
    """The transcript page, opened with the signed link a hand-over carries."""
    link = client.app.state.transcript_links.link(conversation_id)
    return client.get(link.removeprefix(client.app.state.settings.public_url))


def test_demo_page_embeds_the_widget_under_a_strict_csp(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert '<script src="/static/widget.js" data-locale="en"' in response.text
    assert 'data-user-hash="' in response.text  # a verified demo user when the server has a secret
    assert client.get("/?lang=ja").text.startswith('<!doctype html>\n<html lang="ja">')
    assert client.get("/static/widget.js").headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_a_server_with_a_real_secret_signs_nobody_in_on_the_demo_page(make_client) -> None:
    # Production sets JISO_IDENTITY_SECRET for its own users; the demo user needs JISO_DEMO_USER too.
    response = make_client(demo_user=False).get("/")
    assert response.status_code == 200 and '<script src="/static/widget.js"' in response.text
    assert "data-user-hash" not in response.text and "demo-user" not in response.text


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


def test_knowledge_pages_are_headed_by_their_title_not_their_path(client) -> None:
    faq = client.get("/knowledge/en/faq/members.md").text  # the title only in the front matter
    main = faq.split("<main>")[1]
    assert main.lstrip().startswith("<h1>Members</h1>") and main.index("<h1>") < main.index("<h2") and faq.count("<h1") == 1
    assert '<p class="path">en/faq/members.md</p>\n</main>' in faq  # the file, for writers, below
    manual = client.get("/knowledge/en/manual/members.md").text  # its own `# Members`, not a second one
    assert manual.count("<h1") == 1 and '<h1 id="L9">Members</h1>' in manual


@pytest.mark.parametrize(
    "path",
    ["../pyproject.toml", "..%2f..%2fpyproject.toml", "%2e%2e/%2e%2e/etc/passwd", "en/faq/missing.md", "en/faq", "en/faq/members.txt", ".hidden/x.md"],
)
def test_knowledge_paths_outside_or_not_markdown_are_404(client, path: str) -> None:
    assert client.get(f"/knowledge/{path}").status_code == 404


def test_the_transcript_page_a_hand_over_links_to(client) -> None:
    from tests.web.knowledge import EN_QUESTION, XSS_QUESTION

    conversation_id = client.post("/api/v1/conversations", json={"locale": "en", "visitor_id": "v-1"}).json()["id"]
    first = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": EN_QUESTION}).json()
    client.post(f"/api/v1/conversations/{conversation_id}/feedback", json={"turn_id": first["turn_id"], "helpful": False})
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "<script>alert(1)</script> " + XSS_QUESTION})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "wants <b>a person</b>"})

    response = transcript_page(client, conversation_id)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert f'<p class="question">{EN_QUESTION}</p>' in page
    assert "The user said: not helpful" in page
    assert 'href="/knowledge/en/faq/members.md#L9"' in page  # the answer's source, at its line
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "Handed over to a person: wants &lt;b&gt;a person&lt;/b&gt;" in page
    assert "<tr><th>Outcome</th><td>escalated</td></tr>" in page
    assert "<tr><th>User</th><td>v-1</td></tr>" in page


@pytest.mark.parametrize("conversation_id", ["0" * 32, "not-an-id", "x" * 40, "..%2f..%2fetc"])
def test_unknown_transcripts_are_404(client, conversation_id: str) -> None:
    assert transcript_page(client, conversation_id).status_code == 404


def test_the_transcript_page_tells_declined_from_quiet_turns(client) -> None:
    from tests.web.knowledge import UNKNOWN_QUESTION

    conversation_id = client.post("/api/v1/conversations", json={"locale": "en", "visitor_id": "v-2"}).json()["id"]
    client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": UNKNOWN_QUESTION})
    client.post(f"/api/v1/conversations/{conversation_id}/escalate", json={"reason": "needs a person"})
    reply = client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": "My workspace is acme-7"}).json()
    assert reply["quiet"] is True and reply["answer"] is None

    page = transcript_page(client, conversation_id).text
    declined, quiet = page.split('<section class="turn">')[1:3]
    assert "declined: offered a person" in declined and "stayed quiet" not in declined
    assert "My workspace is acme-7" in quiet and "The bot stayed quiet" in quiet
