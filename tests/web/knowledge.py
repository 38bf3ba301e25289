"""The web channel's test knowledge (English, Japanese, and an entry full of markup that must stay
inert) and settings over it, indexed with the deterministic fake embedder."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from tests.support import indexed_settings

IDENTITY_SECRET = "test-identity-secret"
EN_QUESTION = "How do I invite a teammate?"
JA_QUESTION = "チームメンバーを招待するには？"
XSS_QUESTION = "Where is the dangerous sample entry?"
UNKNOWN_QUESTION = "Can the quantum flux capacitor bake bread on Tuesdays?"

KNOWLEDGE = {
    "en/faq/members.md": f"""---
type: faq
locale: en
title: Members
owner: cs@tasklane.example
reviewed: 2026-10-01
---

## {EN_QUESTION}
<!--
id: invite-member
also:
  - How can I add a colleague?
-->

Open **Settings › Members** and click **Invite members**. See [Members](../manual/members.md#inviting).

## {XSS_QUESTION}
<!--
id: xss-sample
-->

Inline <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2"> and
[a bad link](javascript:window.__pwned=3) and <a href="javascript:window.__pwned=4">raw link</a>.

<script>window.__pwned = 5</script>
""",
    "en/manual/members.md": """---
type: manual
locale: en
title: Members
owner: cs@tasklane.example
reviewed: 2026-10-01
---

# Members

People join a workspace by invitation.

## Inviting

Owners and Admins can invite up to 50 people at a time.
""",
    "ja/faq/members.md": f"""---
type: faq
locale: ja
title: メンバー
owner: cs@tasklane.example
reviewed: 2026-10-01
---

## {JA_QUESTION}
<!--
id: ja-invite-member
-->

**設定 › メンバー** を開き、**メンバーを招待** をクリックします。
""",
}


def build_settings(tmp_path: Path, database_url: str, *, knowledge_dir: Path | None = None, **overrides) -> Settings:
    """Settings over `knowledge_dir` (default: the test knowledge, written to tmp_path), indexed once."""
    files = KNOWLEDGE if knowledge_dir is None and not (tmp_path / "knowledge").exists() else None
    return indexed_settings(tmp_path, files, knowledge_dir=knowledge_dir, database_url=database_url, **{"identity_secret": IDENTITY_SECRET, "demo_user": True, **overrides})
