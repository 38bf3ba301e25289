"""Markdown (the writers' answers) → Slack mrkdwn, and Slack message text → a plain question.

mrkdwn is not markdown: bold is `*x*`, links are `<url|label>`, there are no headings or tables,
and `&`, `<`, `>` must always be escaped. We walk markdown-it-py's tokens (the same parser the
indexer uses) so nesting, code and tables come out right instead of regex-guessed.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from markdown_it import MarkdownIt
from markdown_it.token import Token

SECTION_LIMIT = 3000  # Slack's maximum for one section block's text
# Stand beside a formatting marker (outside it) until we know whether it needs a zero-width space.
_OPEN, _CLOSE = "\x01", "\x02"
_ZWSP = "\u200b"
_parser = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def escape(text: str) -> str:
    """Slack's three control characters, as Slack asks for them to be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """`<url|label>`; characters that would end the link early are percent-encoded."""
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"<{safe_url}|{escape(label).replace('|', '¦')}>"


def to_mrkdwn(markdown: str) -> str:
    return "\n\n".join(to_mrkdwn_blocks(markdown))


def to_mrkdwn_blocks(markdown: str) -> list[str]:
    """One mrkdwn string per top-level block (paragraph, list, code, table…), in order."""
    tokens = _parser.parse(markdown)
    blocks, _ = _blocks(tokens, 0, len(tokens))
    return [block for block in blocks if block.strip()]


def pack(blocks: list[str], limit: int = SECTION_LIMIT) -> list[str]:
    """Join blocks into as few section texts as fit under `limit`; an oversized block is cut
    at line ends (a code block is closed and reopened around the cut)."""
    sections: list[str] = []
    current = ""
    for block in (piece for original in blocks for piece in _cut(original, limit)):
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
        else:
            sections.append(current)
            current = block
    if current:
        sections.append(current)
    return sections


def _cut(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    fenced = block.startswith("```") and block.endswith("```")
    body = block[3:-3].strip("\n") if fenced else block
    room = limit - 8 if fenced else limit
    pieces: list[str] = []
    current = ""
    for line in body.split("\n"):
        while len(line) > room:  # a single overlong line: hard cut
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:room])
            line = line[room:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            pieces.append(current)
            current = line
        else:
            current = candidate
    if current:
        pieces.append(current)
    return [f"```\n{piece}\n```" if fenced else piece for piece in pieces]


def _blocks(tokens: list[Token], start: int, end: int, depth: int = 0) -> tuple[list[str], int]:
    """Render tokens[start:end] (block level) to a list of mrkdwn blocks."""
    out: list[str] = []
    i = start
    while i < end:
        token = tokens[i]
        kind = token.type
        if kind == "heading_open":
            out.append(f"*{escape(_plain(tokens[i + 1]))}*")  # a line of its own: plain text, in bold
            i += 3
        elif kind == "paragraph_open":
            out.append(_inline(tokens[i + 1]))
            i += 3
        elif kind in ("fence", "code_block"):
            out.append(f"```\n{escape(token.content.rstrip(chr(10)))}\n```")
            i += 1
        elif kind in ("bullet_list_open", "ordered_list_open"):
            close = _closing(tokens, i)
            out.append(_list(tokens, i, close, depth))
            i = close + 1
        elif kind == "blockquote_open":
            close = _closing(tokens, i)
            inner, _ = _blocks(tokens, i + 1, close, depth)
            out.append("\n".join(f"> {line}" if line else ">" for line in "\n\n".join(inner).split("\n")))
            i = close + 1
        elif kind == "table_open":
            close = _closing(tokens, i)
            out.append(_table(tokens, i, close))
            i = close + 1
        elif kind == "hr":
            out.append("──────────")
            i += 1
        elif kind == "html_block":
            out.append(escape(token.content.strip()))
            i += 1
        else:
            i += 1
    return out, i


def _closing(tokens: list[Token], open_index: int) -> int:
    """Index of the token closing tokens[open_index] (same nesting level)."""
    opened = tokens[open_index]
    closing_type = opened.type.replace("_open", "_close")
    for j in range(open_index + 1, len(tokens)):
        if tokens[j].type == closing_type and tokens[j].level == opened.level:
            return j
    return len(tokens) - 1


def _list(tokens: list[Token], open_index: int, close: int, depth: int) -> str:
    ordered = tokens[open_index].type == "ordered_list_open"
    number = int(tokens[open_index].attrGet("start") or 1)
    indent = "    " * depth
    lines: list[str] = []
    i = open_index + 1
    while i < close:
        if tokens[i].type != "list_item_open":
            i += 1
            continue
        item_close = _closing(tokens, i)
        parts, _ = _blocks(tokens, i + 1, item_close, depth + 1)
        bullet = f"{number}." if ordered else "•"
        number += 1
        first, *rest = parts or [""]
        lines.append(f"{indent}{bullet} {first}")
        for part in rest:  # nested lists are already indented; paragraphs get the item's indent
            lines.append(part if part.startswith(indent + "    ") else f"{indent}    {part}")
        i = item_close + 1
    return "\n".join(lines)


def _table(tokens: list[Token], open_index: int, close: int) -> str:
    """Slack has no tables: a monospaced block with columns aligned by display width."""
    rows: list[list[str]] = []
    for i in range(open_index, close):
        if tokens[i].type == "tr_open":
            rows.append([])
        elif tokens[i].type == "inline" and rows:
            rows[-1].append(_plain(tokens[i]))
    columns = max((len(row) for row in rows), default=0)
    widths = [max((_width(row[c]) for row in rows if c < len(row)), default=0) for c in range(columns)]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell + " " * (widths[c] - _width(cell)) for c, cell in enumerate(row)]
        lines.append(" | ".join(cells).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "```\n" + escape("\n".join(lines)) + "\n```"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _plain(inline: Token) -> str:
    """The text of an inline token without any formatting (table cells, link labels)."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _absolute(url: str) -> bool:
    return url.startswith(("http://", "https://", "mailto:"))


def _inline(inline: Token) -> str:
    markers = {"strong": "*", "em": "_", "s": "~"}
    out: list[str] = []
    children = inline.children or []
    i = 0
    while i < len(children):
        child = children[i]
        kind = child.type
        if kind == "text":
            out.append(escape(child.content))
        elif kind == "code_inline":
            out.append(f"{_OPEN}`{escape(child.content)}`{_CLOSE}")
        elif kind in ("softbreak",):
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind.endswith("_open") and kind[: -len("_open")] in markers:
            out.append(f"{_OPEN}{markers[kind[: -len('_open')]]}")
        elif kind.endswith("_close") and kind[: -len("_close")] in markers:
            out.append(f"{markers[kind[: -len('_close')]]}{_CLOSE}")
        elif kind == "link_open":
            close = next(j for j in range(i, len(children)) if children[j].type == "link_close")
            label = "".join(c.content for c in children[i + 1 : close] if c.type in ("text", "code_inline", "image"))
            href = str(child.attrGet("href") or "")
            # Relative links point into the knowledge folder, which Slack cannot open: keep the words.
            out.append(link(href, label or href) if _absolute(href) else escape(label))
            i = close
        elif kind == "image":
            src = str(child.attrGet("src") or "")
            out.append(link(src, child.content or src) if _absolute(src) else escape(child.content))
        elif kind == "html_inline":
            out.append(escape(child.content))
        i += 1
    return _settle_marks("".join(out))


def _settle_marks(text: str) -> str:
    """Slack applies `*bold*` only at word boundaries, which Japanese text has none of
    (`**招待**する`). A zero-width space beside the marker makes one, where a letter touches it."""
    result = []
    for index, ch in enumerate(text):
        if ch not in (_OPEN, _CLOSE):
            result.append(ch)
            continue
        outside = text[index - 1 : index] if ch == _OPEN else text[index + 1 : index + 2]
        if outside.isalnum():
            result.append(_ZWSP)
    return "".join(result)


_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """What the user typed, without our mention and with Slack's markup undone, on one line."""
    return " ".join(plain_text(text, bot_user_id).split())


def plain_text(text: str, bot_user_id: str | None = None) -> str:
    """A message's text with Slack's markup undone and our mention dropped; its lines kept."""

    def replace(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "" if target[1:] == bot_user_id else f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return label or ""
        return label or target

    plain = _SLACK_LINK.sub(replace, text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return "\n".join(" ".join(line.split()) for line in plain.strip().splitlines())


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and f"<@{user_id}" in text
