"""Our own pages: the Tasklane demo with the widget (`GET /`), the knowledge pages sources link
to, and the transcript page a hand-over links to (`/conversations/{id}`, behind a signed link or
a manager key; see `api.transcript_links`).

Every page carries a strict Content-Security-Policy: scripts, styles and requests from this
server only, no inline script or style, no framing.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select

from api.deps import SessionDep, SettingsDep
from api.settings import Settings
from api.transcript_links import Refusal, TranscriptLinksDep
from bot.apikeys import verify_key
from bot.conversations import answer_source_path
from bot.formatting import render_markdown
from bot.identity import identity_hash
from bot.ledger import handovers, writes
from bot.ledger.models import Conversation, Escalation, Feedback, PersonReply, Turn, utcnow
from bot.ledger.outcomes import outcome_of
from indexer.parser import parse_document

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
SECURITY_HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
PRIVATE_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
_bearer = HTTPBearer(auto_error=False)
ASSET_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
DEMO_USER = ("demo-user", "tasklane-demo")  # a verified demo user with JISO_DEMO_USER and JISO_IDENTITY_SECRET

DEMO_COPY = {
    "en": {
        "title": "Tasklane — projects that keep moving",
        "tagline": "Plan, assign and ship work with your team. New here? Ask the assistant in the corner.",
        "steps": ["Create your workspace", "Invite your teammates", "Connect Slack", "Choose a plan"],
        "steps_title": "Get started in four steps",
        "switch": "日本語",
        "other": "ja",
    },
    "ja": {
        "title": "Tasklane — 止まらないプロジェクト管理",
        "tagline": "チームで計画し、割り当て、仕上げる。はじめての方は右下のアシスタントに質問してください。",
        "steps": ["ワークスペースを作成", "メンバーを招待", "Slack を連携", "プランを選択"],
        "steps_title": "4 ステップで始めましょう",
        "switch": "English",
        "other": "en",
    },
}


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


@router.get("/", response_class=HTMLResponse)
def demo(settings: SettingsDep, lang: str = Query(default="en", pattern="^(en|ja)$")) -> HTMLResponse:
    copy = DEMO_COPY[lang]
    attributes = {"data-locale": lang, "data-title": "Tasklane"}
    if settings.demo_user and settings.identity_secret:  # off by default: it would sign in anyone who opens the page
        user_id, org_id = DEMO_USER
        attributes |= {"data-user-id": user_id, "data-org-id": org_id, "data-user-hash": identity_hash(settings.identity_secret, user_id, org_id)}
    page = Template((TEMPLATES / "demo.html").read_text(encoding="utf-8")).substitute(
        lang=lang,
        title=escape(copy["title"]),
        tagline=escape(copy["tagline"]),
        steps_title=escape(copy["steps_title"]),
        steps="".join(f"<li>{escape(step)}</li>" for step in copy["steps"]),
        switch=escape(copy["switch"]),
        other=copy["other"],
        widget_attributes=" ".join(f'{name}="{escape(value)}"' for name, value in attributes.items()),
    )
    return _page(page)


def _knowledge_file(root: Path, path: str) -> Path | None:
    """The servable file `path` names under `root`, or None (outside it, hidden, not a page or
    image, or a name the file system refuses, e.g. too long)."""
    try:
        target = (root / path).resolve()
        servable = target.is_relative_to(root) and target.is_file()
    except (OSError, ValueError):
        return None
    hidden = any(part.startswith(".") for part in Path(path).parts)
    suffix = target.suffix.lower()
    return target if servable and not hidden and (suffix == ".md" or suffix in ASSET_TYPES) else None


@router.get("/knowledge/{path:path}")
def knowledge_page(path: str, settings: SettingsDep):
    """A knowledge file rendered safely, each block anchored by its line (`#L12`), or an image it uses."""
    root = settings.knowledge_dir.resolve()
    target = _knowledge_file(root, path)
    if target is None:
        raise HTTPException(404, detail="no such knowledge page")
    suffix = target.suffix.lower()
    if suffix in ASSET_TYPES:
        # `sandbox` keeps an SVG opened on its own from running anything.
        return FileResponse(target, media_type=ASSET_TYPES[suffix], headers={**SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox"})
    relative = target.relative_to(root).as_posix()
    text = target.read_text(encoding="utf-8", errors="replace")
    document = parse_document(relative, text)
    body = render_markdown(text, source_path=relative, anchors=True, new_tab=False)
    # The title heads the page; a FAQ file names it only in its front matter, a manual page by its `# Title`.
    heading = "" if "<h1" in body else f"<h1>{escape(document.title)}</h1>\n"
    page = Template((TEMPLATES / "knowledge.html").read_text(encoding="utf-8")).substitute(
        lang=escape(document.locale), title=escape(document.title), heading=heading, path=escape(relative), body=body
    )
    return _page(page)


REFUSALS: dict[Refusal, str] = {
    "missing": "This page opens only from the signed link in a hand-over, or with a manager API key.",
    "invalid": "This link's signature does not match: it was changed, or it was made by another server.",
    "expired": "This link has expired. Open the conversation from a newer hand-over, or ask a manager, who can read it with their API key.",
}
NOT_A_KEY = "This API key may not read this conversation: it needs the manager role (and, if the key is limited to an organization, that organization)."


def _private_page(html: str, status_code: int = 200) -> HTMLResponse:
    """A transcript holds what users wrote: never cached, indexed or leaked in a Referer."""
    return HTMLResponse(html, status_code=status_code, headers={**SECURITY_HEADERS, **PRIVATE_HEADERS})


def _refused(status_code: int, reason: str) -> HTMLResponse:
    title = "Link refused" if status_code == 403 else "No such conversation"
    page = Template((TEMPLATES / "refused.html").read_text(encoding="utf-8")).substitute(title=escape(title), reason=escape(reason))
    return _private_page(page, status_code)


def _manager_may_read(session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None, conversation: Conversation | None) -> bool:
    """A manager key reads every conversation, or its own organization's if it is limited to one."""
    if credentials is None or conversation is None:
        return False
    principal = verify_key(session=session, presented=credentials.credentials, admin_key=settings.admin_api_key)
    return principal is not None and principal.can("manager") and principal.org_id in (None, conversation.org_id)


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(
    conversation_id: str,
    session: SessionDep,
    settings: SettingsDep,
    links: TranscriptLinksDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    expires: str | None = Query(default=None, max_length=20),
    sig: str | None = Query(default=None, max_length=128),
) -> HTMLResponse:
    """The whole conversation, for the people a hand-over reaches (its signed link, valid for
    JISO_LINK_VALID_FOR) and for managers (`Authorization: Bearer <manager key>`)."""
    if not (conversation_id.isalnum() and len(conversation_id) <= 32):
        return _refused(404, "There is no conversation with this id.")
    refusal = links.refusal(conversation_id, expires, sig)
    if refusal is not None and credentials is None:
        return _refused(403, REFUSALS[refusal])
    conversation = session.get(Conversation, conversation_id)
    if refusal is not None and not _manager_may_read(session, settings, credentials, conversation):
        return _refused(403, NOT_A_KEY)
    if conversation is None:
        return _refused(404, "There is no conversation with this id.")
    votes = {vote.turn_id: vote.helpful for vote in session.exec(select(Feedback).where(Feedback.conversation_id == conversation.id))}
    escalations = list(session.exec(select(Escalation).where(Escalation.conversation_id == conversation.id).order_by(Escalation.created_at)))
    facts = {
        "Outcome": outcome_of(conversation, utcnow(), settings.assume_resolved_after),
        "Channel": conversation.channel,
        "User": conversation.user_id or conversation.visitor_id or "anonymous visitor",
        "Organization": conversation.org_id or "—",
        "Locale": conversation.locale or "—",
        "Started": f"{conversation.created_at:%Y-%m-%d %H:%M} UTC",
    }
    page = Template((TEMPLATES / "conversation.html").read_text(encoding="utf-8")).substitute(
        short=escape(conversation.id[:8]),
        facts="".join(f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>" for name, value in facts.items()),
        turns="".join(_turn_html(turn, votes.get(turn.id)) for turn in writes.turns_of(session=session, conversation_id=conversation.id)),
        escalations="".join(_escalation_html(escalation) for escalation in escalations) + _replies_html(handovers.replies_of(session=session, conversation_id=conversation.id)),
    )
    return _private_page(page)


VERDICTS = {"answered": "answered", "declined": "declined: offered a person"}


def _turn_html(turn: Turn, helpful: bool | None) -> str:
    if turn.kind == "quiet":
        answer = '<p class="meta">The bot stayed quiet (after a hand-over, the message is for the team).</p>'
    else:
        answer = f'<div class="answer">{render_markdown(turn.answer_text or "", source_path=answer_source_path(turn), new_tab=False)}</div>'
        answer += f'<p class="meta">{VERDICTS[turn.kind]}, confidence {turn.confidence:.2f}</p>'
    sources = "".join(f'<li><a href="/knowledge/{escape(source["path"])}#L{int(source["line"])}">{escape(source["heading"])}</a> ({float(source["score"]):.2f})</li>' for source in turn.sources)
    vote = "" if helpful is None else f'<p class="meta">The user said: {"this solved it" if helpful else "not helpful"}</p>'
    return (
        f'<section class="turn"><p class="meta">{turn.created_at:%Y-%m-%d %H:%M} UTC</p>'
        f'<p class="question">{escape(turn.question)}</p>{answer}'
        f"{f'<ul>{sources}</ul>' if sources else ''}{vote}</section>"
    )


def _escalation_html(escalation: Escalation) -> str:
    delivery = ", ".join(f"{escape(name)}: {escape(status)}" for name, status in escalation.delivery.items()) or "no destination configured"
    contact = f" · contact: {escape(escalation.contact_email)}" if escalation.contact_email else ""
    closed = ""
    if escalation.closed_at is not None:
        note = f": {escape(escalation.close_note)}" if escalation.close_note else ""
        closed = f'<p class="meta">Resolved {escalation.closed_at:%Y-%m-%d %H:%M} UTC by {escape(escalation.closed_by or "a person")}{note}</p>'
    return f'<section class="turn"><p class="question">Handed over to a person: {escape(escalation.reason)}</p><p class="meta">{escalation.created_at:%Y-%m-%d %H:%M} UTC · {delivery}{contact}</p>{closed}</section>'


def _replies_html(replies: list[PersonReply]) -> str:
    """People's replies after the hand-over, as text."""
    return "".join(
        f'<section class="turn reply"><p class="meta">{reply.created_at:%Y-%m-%d %H:%M} UTC · {escape(reply.author_name or "a person")} replied via {escape(reply.via)}</p>'
        f'<p class="answer">{escape(reply.text)}</p></section>'
        for reply in replies
    )
