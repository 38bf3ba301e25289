"""FAQ drafts from people's answers: the best material for the next entry is what a person told a
user after a hand-over.

When a hand-over with a person's reply is closed, jiso proposes a draft: the user's question as
the heading, their other unanswered wordings in that conversation and similar questions of the
content gaps (other users' wordings, as similar as a gap cluster's) as alternatives, the person's
replies as the answer, the locale and the onboarding step guessed from the conversation (the step
of the last entry it showed). A question an entry already answers (the same wording, or answered
with confidence by the index) or a draft already asked (open, accepted or rejected) is not proposed. Writers list
the drafts (`jiso drafts list`, `GET /api/v1/drafts`), accept one (written as an entry into a FAQ
markdown file that passes `jiso lint`; it is answered after the next `jiso index`, and the gap it
covered leaves the content-gap list) or reject it. Nothing is answered from a draft until then.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.engine import Engine
from bot.ledger import handovers, writes
from bot.ledger.models import Conversation, Escalation, FaqDraft, utcnow
from bot.reports import queries
from bot.suggestions import phrasing_key
from indexer.alternatives import write_atomically, yaml_item
from indexer.content import question_key
from indexer.documents import Entry
from indexer.parser import parse_document

MAX_ALTERNATIVES = 5
SIMILAR_WITHIN = timedelta(days=90)  # gap questions this recent are compared with a draft's question
SIMILAR_CANDIDATES = 500
DEFAULT_FILE = "{locale}/faq/answers-from-hand-overs.md"
TITLES = {"en": "Answers from hand-overs", "ja": "担当者の回答から"}


class CannotAccept(ValueError):
    """The draft cannot be written (already decided, outside the knowledge, or it would not lint)."""


def propose(*, session: Session, escalation: Escalation, engine: Engine | None, min_similarity: Mapping[str, float] | None = None) -> FaqDraft | None:
    """The draft for a closed hand-over with a person's reply, or None (no reply, no question, or a
    duplicate). `min_similarity` (per locale, the content gaps' threshold): other users' gap
    questions at least this similar to the question join its alternatives."""
    existing = session.exec(select(FaqDraft).where(FaqDraft.escalation_id == escalation.id)).first()
    if existing is not None:
        return existing
    replies = [reply for reply in handovers.replies_of(session=session, conversation_id=escalation.conversation_id) if reply.escalation_id == escalation.id]
    conversation = session.get(Conversation, escalation.conversation_id)
    turns = [turn for turn in writes.turns_of(session=session, conversation_id=escalation.conversation_id) if not turn.quiet]
    asked = next((turn for turn in turns if turn.id == escalation.turn_id), turns[-1] if turns else None)
    if not replies or conversation is None or asked is None:
        return None
    question = " ".join(asked.question.split())
    locale = asked.locale or conversation.locale or "en"
    if _known(session, engine, question, locale):
        return None
    wordings = {phrasing_key(question)}
    alternatives = []
    for turn in turns:
        key = phrasing_key(turn.question)
        if not turn.answered and key and key not in wordings and len(alternatives) < MAX_ALTERNATIVES:
            wordings.add(key)
            alternatives.append(" ".join(turn.question.split()))
    if engine is not None and locale in (min_similarity or {}):
        alternatives += _similar_gaps(session, engine, question, locale, min_similarity[locale], wordings)[: MAX_ALTERNATIVES - len(alternatives)]
    draft = FaqDraft(
        escalation_id=escalation.id,
        conversation_id=conversation.id,
        question=question,
        alternatives=alternatives,
        answer="\n\n".join(reply.text.strip() for reply in replies),
        locale=locale,
        onboarding_step=_step_of(engine, [turn.entry_id for turn in reversed(turns) if turn.answered and turn.entry_id]),
    )
    session.add(draft)
    try:
        session.commit()
    except IntegrityError:  # a concurrent close proposed it first
        session.rollback()
        return session.exec(select(FaqDraft).where(FaqDraft.escalation_id == escalation.id)).first()
    session.refresh(draft)
    return draft


def _similar_gaps(session: Session, engine: Engine, question: str, locale: str, threshold: float, seen: set[str]) -> list[str]:
    """Recent gap questions (the content-gap report's) of `locale` as similar to `question` as a gap
    cluster's members are, most similar first; wordings in `seen` (and duplicates) left out."""
    now = utcnow()
    rows = queries.gap_questions(session, queries.Window(now - SIMILAR_WITHIN, now + timedelta(seconds=1), now, timedelta(0)), SIMILAR_CANDIDATES)
    candidates: dict[str, str] = {}
    for row in rows:
        key = phrasing_key(row["question"])
        if (row["locale"] or locale) == locale and key and key not in seen and key not in candidates:
            candidates[key] = " ".join(row["question"].split())
    if not candidates:
        return []
    try:
        vectors = np.asarray(engine.embedder(locale).embed_queries([question, *candidates.values()]), dtype=np.float64)
    except Exception:  # alternatives are a help to writers, not worth failing a close for
        return []
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    similarity = vectors[1:] @ vectors[0]
    ranked = sorted(zip(similarity, candidates.values()), key=lambda pair: -pair[0])
    return [text for score, text in ranked if score >= threshold]


def _known(session: Session, engine: Engine | None, question: str, locale: str) -> bool:
    """An entry or a draft (open, accepted, or rejected: not proposed again) already asks this
    question (near-identical), or the index answers it."""
    key = phrasing_key(question)
    if any(phrasing_key(text) == key for text in session.exec(select(FaqDraft.question))):
        return True
    if engine is None:
        return False
    if any(key in {phrasing_key(text) for text in (entry.title, *entry.alternatives)} for entry in engine.index.entries if entry.kind == "faq"):
        return True
    try:
        return engine.answer(question, locale).confident
    except Exception:  # without an answer to compare, proposing is the useful mistake
        return False


def _step_of(engine: Engine | None, entry_ids: list[str]) -> str | None:
    if engine is None:
        return None
    steps = {entry.id: entry.meta.get("onboarding_step") for entry in engine.index.entries}
    return next((steps[entry_id] for entry_id in entry_ids if steps.get(entry_id)), None)


def open_drafts(session: Session) -> list[FaqDraft]:
    return list(session.exec(select(FaqDraft).where(FaqDraft.status == "proposed").order_by(FaqDraft.created_at, FaqDraft.id)))


def to_json(draft: FaqDraft) -> dict:
    return {
        "id": draft.id,
        "question": draft.question,
        "answer": draft.answer,
        "locale": draft.locale,
        "alternatives": draft.alternatives,
        "onboarding_step": draft.onboarding_step,
        "status": draft.status,
        "conversation_id": draft.conversation_id,
        "escalation_id": draft.escalation_id,
        "created_at": draft.created_at.isoformat(),
    }


def reject(session: Session, draft_id: str) -> FaqDraft:
    return _decide(session, draft_id, "rejected")


def accept(session: Session, knowledge_dir: Path, entries: list[Entry], draft_id: str, file: Path | None = None) -> FaqDraft:
    """Write the draft as a FAQ entry into `file` (default: <locale>/faq/answers-from-hand-overs.md
    in the knowledge), created with its front matter if missing; refused if the result would not lint."""
    draft = _decide(session, draft_id, "accepted", commit=False)
    try:
        path = _target(knowledge_dir, file or Path(DEFAULT_FILE.format(locale=draft.locale)))
        relative = path.relative_to(knowledge_dir.resolve()).as_posix()
        entry_id = _new_id(draft, {entry.id for entry in entries})
        taken = {(entry.locale, question_key(entry.title)): entry for entry in entries if entry.kind == "faq"}  # as `jiso lint` compares them
        found = taken.get((draft.locale, question_key(draft.question)))
        if found is not None:
            raise CannotAccept(f"{found.path}:{found.line_start} already asks {draft.question!r}: reject this draft, or add the answer there")
        before = path.read_text(encoding="utf-8") if path.exists() else _front_matter(draft.locale)
        text = before.rstrip("\n") + "\n\n" + _entry_markdown(draft, entry_id)
        parsed = parse_document(relative, text)
        if parsed.problems:
            raise CannotAccept(f"writing draft {draft.id} into {relative} would break it: {parsed.problems[0]}")
        if parsed.kind != "faq" or parsed.locale != draft.locale:
            raise CannotAccept(f"{relative} is a {parsed.locale} {parsed.kind} file: write this {draft.locale} draft into an FAQ file of that locale")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except Exception:
        session.rollback()
        raise
    draft.entry_id, draft.path = entry_id, relative
    session.add(draft)
    session.commit()
    session.refresh(draft)
    return draft


def _decide(session: Session, draft_id: str, status: str, *, commit: bool = True) -> FaqDraft:
    """Move an open draft to `status`; of two concurrent decisions one wins, the other is refused."""
    decided = session.execute(update(FaqDraft).where(FaqDraft.id == draft_id, FaqDraft.status == "proposed").values(status=status, decided_at=utcnow()).execution_options(synchronize_session=False))
    if decided.rowcount != 1:
        session.rollback()
        draft = session.get(FaqDraft, draft_id)
        raise LookupError(f"no draft {draft_id!r} (see `jiso drafts list`)" if draft is None else f"draft {draft_id} was {draft.status} already")
    if commit:
        session.commit()
    return session.get(FaqDraft, draft_id, populate_existing=True)


def _target(knowledge_dir: Path, file: Path) -> Path:
    root = knowledge_dir.resolve()
    path = (file if file.is_absolute() else root / file).resolve()
    if not path.is_relative_to(root) or path.suffix != ".md":
        raise CannotAccept(f"{file}: write drafts into a .md file inside the knowledge folder ({knowledge_dir})")
    return path


def _new_id(draft: FaqDraft, taken: set[str]) -> str:
    ascii_words = re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKD", draft.question).encode("ascii", "ignore").decode().lower())
    base = "-".join(ascii_words)[:60].strip("-") or f"hand-over-{draft.id[:8]}"
    entry_id, n = base, 2
    while entry_id in taken:
        entry_id, n = f"{base}-{n}", n + 1
    return entry_id


def _front_matter(locale: str) -> str:
    return f"---\ntype: faq\nlocale: {locale}\ntitle: {TITLES.get(locale, TITLES['en'])}\nowner: support team\nreviewed: {date.today().isoformat()}\n---\n"


def _entry_markdown(draft: FaqDraft, entry_id: str) -> str:
    meta = [f"id: {entry_id}"]
    if draft.alternatives:
        meta += ["also:", *[f"  - {yaml_item(text)}" for text in draft.alternatives]]
    if draft.onboarding_step:
        meta.append(f"onboarding_step: {draft.onboarding_step}")
    # A person's reply is prose: a line that would start a heading or a comment is escaped, so
    # the answer stays one entry.
    body = "\n".join("\\" + line if re.match(r"^\s*(#|<!--)", line) else line for line in draft.answer.splitlines())
    return f"## {draft.question}\n<!--\n" + "\n".join(meta) + f"\n-->\n\n{body.strip()}\n"
