"""Text every ledger database can store: no NUL (PostgreSQL refuses it in text and JSON) and no
lone UTF-16 surrogate (not Unicode, so no driver can encode it)."""

from __future__ import annotations

import re

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """`text` with each unstorable character replaced by U+FFFD, the same on every database."""
    return UNSTORABLE.sub(REPLACEMENT, text)
