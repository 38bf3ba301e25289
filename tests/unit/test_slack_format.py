"""Markdown → Slack mrkdwn, Slack text → a plain question, and the answer's Block Kit message."""

from __future__ import annotations

import pytest

from bot.channels.slack_blocks import ButtonRef, answer_message
from bot.ledger.models import Turn
from bot.slack_format import SECTION_LIMIT, pack, plain_question, to_mrkdwn, to_mrkdwn_blocks

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold**, *em*, ~~gone~~ and `code`", "*bold*, _em_, ~gone~ and `code`"),
        ("# Title\n\nText", "*Title*\n\nText"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("[Guide](https://x.example/a?b=1&c=2)", "<https://x.example/a?b=1&c=2|Guide>"),
        ("[a|b](https://x.example/>)", "<https://x.example/%3E|a¦b>"),
        ("See [Members](../manual/members.md).", "See Members."),  # relative: Slack cannot open it
        ("![The dialog](../../assets/d.svg)", "The dialog"),
        ("![Shot](https://x.example/s.png)", "<https://x.example/s.png|Shot>"),
        ("line one\nline two", "line one line two"),
        ("1. one\n2. two\n   - nested", "1. one\n2. two\n    • nested"),
        ("> quoted **x**", "> quoted *x*"),
        ("```bash\ncurl <url> && x\n```", "```\ncurl &lt;url&gt; &amp;&amp; x\n```"),
        ("<b>raw</b> html", "&lt;b&gt;raw&lt;/b&gt; html"),
        ("**設定**を開く", "*設定*\u200bを開く"),  # Slack bolds only at word boundaries
        ("x**y**z", "x\u200b*y*\u200bz"),
        ("**bold** alone", "*bold* alone"),
    ],
)
def test_markdown_becomes_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_tables_become_aligned_monospace_even_with_japanese() -> None:
    table = "| Plan | 料金 |\n| --- | --- |\n| Team | $10 |\n| 無料 | $0 |"
    assert to_mrkdwn(table) == "```\nPlan | 料金\n-----+-----\nTeam | $10\n無料 | $0\n```"


def test_long_answers_are_packed_into_sections_under_slacks_limit() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 150 for i in range(12)]
    code = "```\n" + "\n".join(f"line {i} " + "x" * 60 for i in range(80)) + "\n```"
    sections = pack(to_mrkdwn_blocks("\n\n".join(paragraphs) + "\n\n" + code))
    assert all(len(section) <= SECTION_LIMIT for section in sections)
    joined = "\n\n".join(sections)
    assert all(f"Paragraph {i} " in joined for i in range(12)) and "line 79 " in joined
    assert all(section.count("```") % 2 == 0 for section in sections)  # code blocks closed in each section


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("<@UBOT> how do I invite?", "how do I invite?"),
        ("<@UBOT>   ", ""),
        ("ask <@U2|bob> in <#C1|general> about <https://a.example|this> &amp; &lt;that&gt; <!here>", "ask @bob in #general about this & <that>"),
        ("<@UBOT> チームメンバーを招待するには？", "チームメンバーを招待するには？"),
    ],
)
def test_slack_text_becomes_the_plain_question(text: str, question: str) -> None:
    assert plain_question(text, "UBOT") == question


def turn(**overrides) -> Turn:
    values = {
        "id": "t1",
        "conversation_id": "c1",
        "seq": 1,
        "question": "How <do> I?",
        "answer_text": "Click **Invite**.",
        "answered": True,
        "locale": "en",
        "sources": [{"path": "en/faq/a.md", "line": 3, "heading": "Members › Invite", "title": "Members"}],
    }
    return Turn(**{**values, **overrides})


def test_answer_message_carries_the_turn_in_its_buttons_and_escapes_the_question() -> None:
    message = answer_message(turn(), asker="U1", knowledge_url="https://docs.example/kb/", show_question=True, via_response_url=True, shareable=True)
    context, section, sources, actions = message["blocks"]
    assert context["elements"][0]["text"] == "<@U1> asked: How &lt;do&gt; I?"
    assert section["text"]["text"] == "Click *Invite*."
    assert sources["elements"][0]["text"] == "Sources: <https://docs.example/kb/en/faq/a.md#L3|Members › Invite>"
    refs = {ButtonRef.decode(button["value"]) for button in actions["elements"]}
    assert refs == {ButtonRef(c="c1", t="t1", u="U1", r=True)}
    assert message["text"] == "Click *Invite*."


def test_sources_are_named_when_no_knowledge_url_is_set_and_bad_button_values_are_refused() -> None:
    message = answer_message(turn(), asker="U1")
    assert "Sources: Members › Invite" in [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]
    assert ButtonRef.decode("not json") is None and ButtonRef.decode('{"c": "", "t": "x", "u": "U1"}') is None
