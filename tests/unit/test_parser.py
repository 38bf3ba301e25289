from __future__ import annotations

import pytest

from indexer.parser import parse_document

pytestmark = pytest.mark.unit

FAQ = """---
type: faq
locale: en
title: Members
tags: [members]
onboarding_step: invite-members
---
# Members

An introduction that is not an entry.

## How do I invite a teammate? 🎉
<!--
id: invite-member
also:
  - Add a colleague
  - Send an invitation
-->

Open **Settings › Members** and click [Invite](../manual/members.md).

1. Enter the address
   - one per line
     - nested deeper
2. Pick a role

```bash
## not a question, a shell comment
curl https://api.example/invite
```

### Good to know

| Plan | Seats |
|------|-------|
| Free | 5 |

## Can I remove a member?

Yes: **Settings › Members › Remove**.
"""


def test_faq_entries_split_at_second_level_headings_only() -> None:
    doc = parse_document("en/faq/members.md", FAQ)
    assert doc.problems == []
    assert [entry.title for entry in doc.entries] == ["How do I invite a teammate? 🎉", "Can I remove a member?"]
    first = doc.entries[0]
    assert first.id == "invite-member"
    assert first.alternatives == ("Add a colleague", "Send an invitation")
    assert first.breadcrumb == ("Members", "How do I invite a teammate? 🎉")
    assert (first.line_start, first.line_end) == (12, 36)
    assert "## not a question, a shell comment" in first.body  # the fence is part of the answer
    assert "nested deeper" in first.plain and "Free" in first.plain
    assert "<!--" not in first.body
    assert first.meta["onboarding_step"] == "invite-members"


def test_default_id_comes_from_path_and_question_and_survives_answer_edits() -> None:
    before = parse_document("en/faq/members.md", FAQ).entries[1]
    after = parse_document("en/faq/members.md", FAQ.replace("Yes: ", "Yes, any admin can: ")).entries[1]
    assert before.id == after.id == "en/faq/members#can-i-remove-a-member"
    assert before.content_hash != after.content_hash


def test_manual_sections_keep_heading_path_and_lines() -> None:
    text = "# Billing\n\nIntro.\n\n## Invoices\n\nMonthly invoices.\n\n### Download\n\nClick **Download PDF**.\n\n## Plans\n\nFree and Team.\n"
    doc = parse_document("en/manual/billing.md", text)
    assert [(e.heading, e.line_start, e.line_end) for e in doc.entries] == [
        ("Billing", 1, 3),
        ("Billing › Invoices", 5, 7),
        ("Billing › Invoices › Download", 9, 11),
        ("Billing › Plans", 13, 15),
    ]
    assert doc.kind == "manual" and doc.locale == "en"


def test_long_manual_sections_are_split_at_block_boundaries() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} " + "word " * 80 for i in range(12))
    doc = parse_document("en/manual/long.md", f"# Long\n\n## Part\n\n{paragraphs}\n")
    assert len(doc.entries) > 1
    assert all(entry.heading == "Long › Part" for entry in doc.entries)
    assert doc.entries[1].id == "en/manual/long#part~2"
    assert doc.entries[1].line_start > doc.entries[0].line_end


def test_japanese_without_declared_locale_is_detected() -> None:
    text = "# 請求\n\n## 請求書はどこでダウンロードできますか？\n\n「設定 › 請求」から PDF をダウンロードできます。\n"
    doc = parse_document("faq/billing.md", text)
    assert doc.locale == "ja"
    assert doc.entries[0].title == "請求書はどこでダウンロードできますか？"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ntitle: [unclosed\n---\n## Q\n\nA\n", 2, "broken front matter"),
        ("---\ntitle: x\n## Q\n\nA\n", 1, "front matter is not closed"),
        ("---\ntitle: B\ntags: [a, b\nowner: x\n---\n## Q\n\nA\n", 3, "broken front matter: the list opened on this line is not closed"),
        ('---\ntitle: "B\nowner: x\n---\n## Q\n\nA\n', 2, "broken front matter: the quote opened on this line is not closed"),
        ("---\ntitle: B\nreviewed: 2026-02-30\n---\n## Q\n\nA\n", 3, "'reviewed' must be a date written YYYY-MM-DD"),
        ("---\ntitle: B\ntags: members\n---\n## Q\n\nA\n", 3, "'tags' must be a list"),
        ("## Q?\n<!--\nid: q\nonboarding_step: [x\n-->\n\nA\n", 4, "broken entry metadata: the list opened on this line is not closed"),
        ("---\nlocale: fr\n---\n## Q\n\nA\n", 2, "unknown locale 'fr'"),
        ("---\nlocal: en\n---\n## Q\n\nA\n", 2, "unknown front matter key 'local'"),
        ("## Q?\n\n## R?\n\nA\n", 1, "empty answer for question 'Q?'"),
        ("## Q?\n<!--\nid: Bad Id\n-->\n\nA\n", 2, "entry id 'Bad Id' must be"),
        ("## Q?\n<!--\nid: [x\n-->\n\nA\n", 3, "broken entry metadata"),
    ],
)
def test_problems_name_the_line(text: str, line: int, message: str) -> None:
    problems = parse_document("en/faq/x.md", text).problems
    assert any(p.line == line and message in p.message for p in problems), problems
