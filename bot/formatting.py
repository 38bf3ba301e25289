"""Answer and knowledge markdown → HTML that is safe to put into any page.

Two layers. markdown-it-py (`js-default`: unsafe link schemes such as `javascript:` refused) turns
the writers' markdown into HTML in which raw HTML from the content is never passed through: HTML
comments (the writers' entry metadata) are dropped and any other tag is shown as inert text.
Then nh3 (Rust's ammonia) keeps only an allow-list of tags, attributes and URL schemes, so a
mistake in the first layer still cannot reach a browser as markup.

Relative links in content (`../manual/sso.md`, `../../assets/x.svg`) are resolved against the
file they appear in and become links to our knowledge pages (`/knowledge/en/manual/sso.md`).
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from html import escape
from urllib.parse import quote, unquote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

KNOWLEDGE_PREFIX = "/knowledge/"
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
TAGS = {
    "a", "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
ALIGN_CLASSES = {"align-left", "align-center", "align-right"}  # table columns; no style attributes (CSP)


@lru_cache(maxsize=2)
def _cleaner(*, anchors: bool, new_tab: bool) -> nh3.Cleaner:
    attributes = {tag: set(names) for tag, names in ATTRIBUTES.items()}
    if anchors:
        attributes["*"] = {"id"}
    return nh3.Cleaner(
        tags=TAGS,
        attributes=attributes,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        allowed_classes={"th": ALIGN_CLASSES, "td": ALIGN_CLASSES},
        set_tag_attribute_values={"a": {"target": "_blank"}} if new_tab else None,
    )


def _raw_html(_renderer, tokens: list[Token], index: int, _options, _env) -> str:  # noqa: ANN001 (markdown-it render rule)
    content = tokens[index].content
    if content.lstrip().startswith("<!--"):
        return ""  # writers' comments and entry metadata are not for readers
    # Any other raw HTML is shown as text, never as markup.
    return f"<p>{escape(content.strip())}</p>\n" if tokens[index].type == "html_block" else escape(content)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # HTML is parsed (so comments can be recognised and dropped) but rendered only as text.
    md = MarkdownIt("js-default", {"html": True}).use(front_matter_plugin)
    md.add_render_rule("html_block", _raw_html)
    md.add_render_rule("html_inline", _raw_html)
    return md


def knowledge_url(target: str, *, source_path: str | None, link_base: str) -> str | None:
    """Where a link in the content should point; None when it leads outside the knowledge."""
    if SCHEME.match(target) or target.startswith("//"):
        return target  # absolute: the sanitizer decides whether its scheme is allowed
    if target.startswith("#"):
        return f"{link_base}{KNOWLEDGE_PREFIX}{quote(source_path)}{target}" if source_path else None
    if target.startswith("/"):
        return f"{link_base}{target}"
    parts = urlsplit(target)
    base_dir = posixpath.dirname(source_path) if source_path else ""
    resolved = posixpath.normpath(posixpath.join(base_dir, unquote(parts.path)))
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        return None
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{link_base}{KNOWLEDGE_PREFIX}{quote(resolved)}{fragment}"


def _rewrite_links(tokens: list[Token], *, source_path: str | None, link_base: str) -> None:
    for token in tokens:
        for child in token.children or []:
            attribute = "href" if child.type == "link_open" else "src" if child.type == "image" else None
            target = child.attrGet(attribute) if attribute else None
            if not isinstance(target, str):
                continue
            url = knowledge_url(target, source_path=source_path, link_base=link_base)
            if url is None:
                child.attrs.pop(attribute, None)
            else:
                child.attrSet(attribute, url)


def _align_classes(tokens: list[Token]) -> None:
    """Table alignment as classes: a strict CSP refuses inline `style` attributes."""
    for token in tokens:
        style = token.attrGet("style") if token.type in ("th_open", "td_open") else None
        if isinstance(style, str):
            token.attrs.pop("style")
            token.attrSet("class", f"align-{style.removeprefix('text-align:')}")


def _line_anchors(tokens: list[Token]) -> None:
    """`id="L<n>"` on every top-level block, so a source can link to the line it cites."""
    for token in tokens:
        if token.level == 0 and token.map is not None and token.nesting >= 0 and token.type not in ("html_block", "front_matter", "inline"):
            token.attrSet("id", f"L{token.map[0] + 1}")


def render_markdown(text: str, *, source_path: str | None = None, link_base: str = "", anchors: bool = False, new_tab: bool = True) -> str:
    """Markdown → sanitized HTML. `source_path` (relative to the knowledge directory) resolves
    relative links; `link_base` makes them absolute (the widget runs on other sites)."""
    md = _parser()
    env: dict = {}
    tokens = md.parse(text, env)
    _rewrite_links(tokens, source_path=source_path, link_base=link_base.rstrip("/"))
    _align_classes(tokens)
    if anchors:
        _line_anchors(tokens)
    html = md.renderer.render(tokens, md.options, env)
    return _cleaner(anchors=anchors, new_tab=new_tab).clean(html)
