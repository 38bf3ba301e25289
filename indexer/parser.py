"""Markdown → entries, with markdown-it-py tokens and their line maps (no regex over markdown).

FAQ files: one entry per `##` heading (the question); the body up to the next `##` is the answer.
Manual pages: one entry per heading section, cited by its heading path; long sections are split
at block boundaries. See knowledge/README.md for the writers' side of this contract.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from indexer.documents import Entry, Kind, Problem, StepReference
from indexer.language import SUPPORTED_LOCALES, detect_locale

FRONT_MATTER_KEYS = {"type", "locale", "title", "tags", "audience", "onboarding_step", "owner", "reviewed"}
ENTRY_META_KEYS = {"id", "also", "onboarding_step", "tags", "translation_of"}
AUDIENCES = ("admin", "member", "everyone")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_SECTION_CHARS = 1500
# YAML errors whose context is the bracket or quote that was never closed: that is the writer's line.
UNCLOSED_CONTEXTS = ("while parsing a flow sequence", "while parsing a flow mapping", "while scanning a quoted scalar")


class _TextDatesLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text: `reviewed: 2026-13-45` is then a problem on its line
    that we report, instead of an exception that stops the whole check."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"] for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def markdown_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").use(front_matter_plugin)


@dataclass
class Block:
    """A top-level markdown block: its 1-based line range and its text without markup."""

    line_start: int
    line_end: int
    plain: str


@dataclass
class Section:
    level: int
    title: str
    heading_line: int
    blocks: list[Block] = field(default_factory=list)
    meta_block: tuple[int, str] | None = None  # (first line, comment text) of the entry metadata


@dataclass
class ParsedDocument:
    path: str
    kind: Kind
    locale: str
    title: str
    meta: dict[str, Any]
    entries: list[Entry]
    problems: list[Problem]
    links: list[tuple[int, str]]  # (line, target) of every link and image, for the link check
    step_references: list[StepReference] = field(default_factory=list)  # checked against the checklist by lint


@dataclass
class YamlBlock:
    """Parsed YAML key: value lines, with the 0-based line (within the block) of each key."""

    data: Any
    key_lines: dict[str, int]


class YamlBroken(Exception):
    """YAML that does not parse: the line to fix and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line  # 0-based, within the block
        self.reason = reason


def load_yaml(text: str) -> YamlBlock:
    """Key: value lines as data (dates stay text), with the line of each top-level key."""
    loader = _TextDatesLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise _broken(error) from error
    finally:
        loader.dispose()
    key_lines = {str(key.value): key.start_mark.line for key, _ in node.value} if isinstance(node, yaml.MappingNode) else {}
    return YamlBlock(data, key_lines)


def _broken(error: yaml.YAMLError) -> YamlBroken:
    context = getattr(error, "context", None) or ""
    context_mark = getattr(error, "context_mark", None)
    problem_mark = getattr(error, "problem_mark", None)
    reason = getattr(error, "problem", None) or str(error)
    if context.startswith(UNCLOSED_CONTEXTS) and context_mark is not None:
        opened = "quote" if "quoted" in context else "list" if "sequence" in context else "mapping"
        return YamlBroken(context_mark.line, f"the {opened} opened on this line is not closed ({reason})")
    return YamlBroken(problem_mark.line if problem_mark else 0, reason)


def inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def slugify(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-")
    return slug or "section"


def default_kind(path: str) -> Kind:
    return "faq" if "faq" in path.split("/")[:-1] else "manual"


@dataclass
class FrontMatter:
    values: dict[str, Any]
    lines: dict[str, int]  # 1-based line of each key in the file

    def line(self, key: str) -> int:
        return self.lines.get(key, 1)


def _parse_front_matter(path: str, token: Token | None, source_lines: list[str], problems: list[Problem]) -> FrontMatter:
    if token is None:
        if source_lines and source_lines[0].strip() == "---":
            problems.append(Problem(path, 1, "front matter is not closed: add a line '---' after it"))
        return FrontMatter({}, {})
    try:
        block = load_yaml(token.content.rstrip()) if token.content.strip() else YamlBlock({}, {})
    except YamlBroken as broken:
        problems.append(Problem(path, 2 + broken.line, f"broken front matter: {broken.reason}"))
        return FrontMatter({}, {})
    if not isinstance(block.data, dict):
        problems.append(Problem(path, 1, "front matter must be a YAML mapping of key: value lines"))
        return FrontMatter({}, {})
    front = FrontMatter(dict(block.data), {key: 2 + line for key, line in block.key_lines.items()})
    for key in sorted(set(front.values) - FRONT_MATTER_KEYS):
        problems.append(Problem(path, front.line(key), f"unknown front matter key '{key}' (known: {', '.join(sorted(FRONT_MATTER_KEYS))})"))
    for key in sorted(set(front.values) & FRONT_MATTER_KEYS):
        reason = _invalid_value(key, front.values[key])
        if reason:
            problems.append(Problem(path, front.line(key), reason))
            del front.values[key]
    return front


def _invalid_value(key: str, value: Any) -> str | None:
    """Why a front matter or entry metadata value is unusable; None when it is fine. `type` and
    `locale` are checked where they are used, with their fallbacks."""
    if key in ("title", "owner", "onboarding_step") and not (isinstance(value, str) and value.strip()):
        return f"'{key}' must be text, got {value!r}"
    if key == "tags" and not (isinstance(value, list) and all(isinstance(tag, str) and tag.strip() for tag in value)):
        return f"'tags' must be a list of words in square brackets, e.g. tags: [billing, invoices]; got {value!r}"
    if key == "audience" and value not in AUDIENCES:
        return f"unknown audience {value!r} (known: {', '.join(AUDIENCES)})"
    if key == "reviewed" and not _is_date(value):
        return f"'reviewed' must be a date written YYYY-MM-DD, e.g. 2026-10-15; got {value!r}"
    return None


def _is_date(value: Any) -> bool:
    if not isinstance(value, str) or not DATE_PATTERN.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _sections(tokens: list[Token]) -> tuple[list[Section], list[tuple[int, str]]]:
    """Split the token stream at headings; collect top-level blocks and link targets."""
    sections: list[Section] = [Section(level=0, title="", heading_line=1)]
    links: list[tuple[int, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "front_matter":
            index += 1
            continue
        if token.type == "heading_open":
            inline = tokens[index + 1]
            sections.append(Section(level=int(token.tag[1]), title=inline_text(inline), heading_line=token.map[0] + 1))
            links.extend(_links(inline, token.map[0] + 1))
            index += 3
            continue
        current = sections[-1]
        if token.level == 0 and token.map is not None and token.nesting >= 0:
            start, end = token.map[0] + 1, token.map[1]
            if token.type == "html_block" and not current.blocks and current.meta_block is None and token.content.lstrip().startswith("<!--"):
                current.meta_block = (start, token.content)
            else:
                current.blocks.append(Block(start, end, ""))
        if current.blocks:
            block = current.blocks[-1]
            text = ""
            if token.type == "inline":
                text = inline_text(token)
                links.extend(_links(token, token.map[0] + 1 if token.map else block.line_start))
            elif token.type in ("fence", "code_block"):
                text = token.content.strip()
            if text:
                block.plain = f"{block.plain}\n{text}" if block.plain else text
        index += 1
    return sections, links


def _links(inline: Token, line: int) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    offset = 0
    for child in inline.children or []:
        if child.type in ("softbreak", "hardbreak"):
            offset += 1
        target = child.attrs.get("href") if child.type == "link_open" else child.attrs.get("src") if child.type == "image" else None
        if isinstance(target, str):
            found.append((line + offset, target))
    return found


def _entry_meta(path: str, section: Section, problems: list[Problem], references: list[StepReference]) -> dict[str, Any]:
    if section.meta_block is None:
        return {}
    line, comment = section.meta_block
    inner = comment.strip().removeprefix("<!--").removesuffix("-->").rstrip()
    try:
        block = load_yaml(inner)
    except YamlBroken as broken:
        problems.append(Problem(path, line + broken.line, f"broken entry metadata: {broken.reason}"))
        return {}
    data = block.data
    if data is None or isinstance(data, str):
        return {}  # an ordinary comment, not metadata
    if not isinstance(data, dict):
        problems.append(Problem(path, line, "entry metadata must be YAML key: value lines (id, also, onboarding_step, tags, translation_of)"))
        return {}
    for key in sorted(set(data) - ENTRY_META_KEYS):
        problems.append(Problem(path, line, f"unknown entry metadata key '{key}' (known: {', '.join(sorted(ENTRY_META_KEYS))})"))
    entry_id = data.get("id")
    if entry_id is not None and (not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id)):
        problems.append(Problem(path, line, f"entry id {entry_id!r} must be lowercase letters, digits, '.', '_' or '-'"))
        data.pop("id")
    also = data.get("also", [])
    if isinstance(also, str):
        also = [also]
    if not isinstance(also, list) or not all(isinstance(item, str) and item.strip() for item in also):
        problems.append(Problem(path, line, "'also' must be a list of alternative questions"))
        also = []
    data["also"] = [item.strip() for item in also]
    for key in ("onboarding_step", "tags"):
        reason = _invalid_value(key, data[key]) if key in data else None
        if reason:
            problems.append(Problem(path, line + block.key_lines.get(key, 0), reason))
            del data[key]
    if "onboarding_step" in data:
        references.append(StepReference(path, line + block.key_lines["onboarding_step"], data["onboarding_step"]))
    return data


def parse_document(path: str, text: str, *, locales: tuple[str, ...] = ("en", "ja")) -> ParsedDocument:
    """Parse one knowledge file. `path` is relative to the knowledge directory."""
    problems: list[Problem] = []
    source_lines = text.splitlines()
    tokens = markdown_parser().parse(text)
    front = next((token for token in tokens if token.type == "front_matter"), None)
    front_matter = _parse_front_matter(path, front, source_lines, problems)
    meta = front_matter.values
    sections, links = _sections(tokens)
    references = [StepReference(path, front_matter.line("onboarding_step"), meta["onboarding_step"])] if "onboarding_step" in meta else []

    kind_value = meta.get("type", default_kind(path))
    if kind_value not in ("faq", "manual"):
        problems.append(Problem(path, front_matter.line("type"), f"unknown type '{kind_value}' (known: faq, manual)"))
        kind_value = default_kind(path)
    kind: Kind = kind_value
    if kind == "faq" and front is None and not (source_lines and source_lines[0].strip() == "---"):
        # A FAQ file has no other place for its title, owner and review date (a manual page's `# Title` names it).
        problems.append(Problem(path, 1, "FAQ file has no front matter: start it with a '---' block giving its title, locale, owner and reviewed date (see knowledge/README.md › Front matter)"))

    h1 = next((section for section in sections if section.level == 1), None)
    title = str(meta.get("title") or (h1.title if h1 else "") or path.rsplit("/", 1)[-1].removesuffix(".md"))

    locale = meta.get("locale")
    if locale is not None and locale not in SUPPORTED_LOCALES:
        problems.append(Problem(path, front_matter.line("locale"), f"unknown locale '{locale}' (known: {', '.join(SUPPORTED_LOCALES)})"))
        locale = None
    if locale is None:
        whole = "\n".join([title] + [section.title for section in sections] + [b.plain for s in sections for b in s.blocks])
        locale = detect_locale(whole, locales)

    file_meta = {key: meta[key] for key in ("tags", "audience", "onboarding_step", "owner", "reviewed") if key in meta}
    if kind == "faq":
        entries = _faq_entries(path, locale, title, sections, source_lines, file_meta, problems, references)
    else:
        entries = _manual_entries(path, locale, title, sections, source_lines, file_meta, problems)
    return ParsedDocument(path, kind, locale, title, meta, entries, problems, links, sorted(references))


def _body(source_lines: list[str], blocks: list[Block]) -> str:
    if not blocks:
        return ""
    return "\n".join(source_lines[blocks[0].line_start - 1 : blocks[-1].line_end]).strip()


def _faq_entries(path, locale, title, sections, source_lines, file_meta, problems, references) -> list[Entry]:
    entries: list[Entry] = []
    questions = [section for section in sections if section.level == 2]
    # Subheadings inside an answer belong to the answer.
    for position, section in enumerate(sections):
        if section.level != 2:
            continue
        blocks = list(section.blocks)
        end_line = blocks[-1].line_end if blocks else section.heading_line
        for follower in sections[position + 1 :]:
            if follower.level <= 2:
                break
            blocks += [Block(follower.heading_line, follower.heading_line, follower.title), *follower.blocks]
        meta = _entry_meta(path, section, problems, references)
        if not section.title:
            problems.append(Problem(path, section.heading_line, "empty question: the '##' heading has no text"))
            continue
        plain = "\n".join(block.plain for block in blocks if block.plain)
        if not plain:
            problems.append(Problem(path, section.heading_line, f"empty answer for question '{section.title}'"))
            continue
        entry_id = meta.get("id") or f"{path.removesuffix('.md')}#{slugify(section.title)}"
        entry_meta = {**file_meta, **{k: meta[k] for k in ("onboarding_step", "tags", "translation_of") if k in meta}}
        entries.append(
            Entry(
                id=entry_id,
                kind="faq",
                locale=locale,
                path=path,
                title=section.title,
                breadcrumb=(title, section.title),
                line_start=section.heading_line,
                line_end=max(end_line, blocks[-1].line_end if blocks else end_line),
                body=_body(source_lines, blocks),
                plain=plain,
                alternatives=tuple(meta.get("also", [])),
                meta=entry_meta,
            )
        )
    if not questions:
        problems.append(Problem(path, 1, "FAQ file has no '##' question headings"))
    return entries


def _manual_entries(path, locale, title, sections, source_lines, file_meta, problems) -> list[Entry]:
    entries: list[Entry] = []
    stack: list[tuple[int, str]] = []
    for section in sections:
        if section.level > 1:
            while stack and stack[-1][0] >= section.level:
                stack.pop()
            stack.append((section.level, section.title))
        elif section.level == 1:
            stack = []
        blocks = [block for block in section.blocks if block.plain]
        if not blocks:
            continue
        heading_path = tuple(name for _, name in stack)
        breadcrumb = (title, *heading_path)
        base_id = f"{path.removesuffix('.md')}#{slugify('-'.join(heading_path)) if heading_path else 'intro'}"
        line_start = section.heading_line if section.level else blocks[0].line_start
        for part, chunk in enumerate(_split_blocks(blocks), start=1):
            entries.append(
                Entry(
                    id=base_id if part == 1 else f"{base_id}~{part}",
                    kind="manual",
                    locale=locale,
                    path=path,
                    title=heading_path[-1] if heading_path else title,
                    breadcrumb=breadcrumb,
                    line_start=line_start if part == 1 else chunk[0].line_start,
                    line_end=chunk[-1].line_end,
                    body=_body(source_lines, chunk),
                    plain="\n".join(block.plain for block in chunk),
                    meta=dict(file_meta),
                )
            )
    return entries


def _split_blocks(blocks: list[Block]) -> list[list[Block]]:
    chunks: list[list[Block]] = [[]]
    size = 0
    for block in blocks:
        if chunks[-1] and size + len(block.plain) > MAX_SECTION_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += len(block.plain)
    return chunks
