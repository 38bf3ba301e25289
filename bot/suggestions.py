"""Suggested alternative phrasings: users' own questions that an entry was confirmed to answer.

A question becomes a suggestion for an entry when the user said "This solved it" to that entry's
answer, or picked that entry when jiso asked which one was meant. Writers see them
(`jiso suggestions`, `GET /api/v1/reports/suggestions`) and decide: an accepted one is written
into the entry's `also:` list in the markdown (and takes effect at the next `jiso index`); a
rejected one is not suggested again. Nothing changes the ranking until a writer accepts it, so
answers improve with use without drifting.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from bot.ledger.models import Feedback, PhrasingDecision, Turn, utcnow
from indexer.alternatives import add_alternative
from indexer.documents import Entry

MAX_CHARS = 200  # longer messages are stories, not phrasings of a question
KEY_CHARS = 1000  # the stored key (NFKC can lengthen a phrasing)


@dataclass(frozen=True)
class Suggestion:
    entry_id: str
    path: str
    line: int
    title: str
    phrasing: str
    confirmations: int  # how many times users confirmed this entry for this phrasing
    last_confirmed_at: datetime

    def to_json(self) -> dict:
        return {**self.__dict__, "last_confirmed_at": self.last_confirmed_at.isoformat()}


def phrasing_key(text: str) -> str:
    """What makes two phrasings the same: case, width, spacing and end punctuation aside."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().rstrip("?!.。？！ ").casefold()


def confirmed_pairs(session: Session) -> list[tuple[str, str, int, datetime]]:
    """(entry id, question, confirmations, last) for answers voted helpful and for clarification picks."""
    helpful = (
        select(Turn.entry_id, Turn.question, func.count(), func.max(Turn.created_at))
        .join(Feedback, Feedback.turn_id == Turn.id)
        .where(Feedback.helpful, Turn.answered, Turn.entry_id.is_not(None), Turn.read_with.is_(None))  # a follow-up only makes sense after its question
        .group_by(Turn.entry_id, Turn.question)
    )
    picked = (
        select(Turn.entry_id, Turn.question, func.count(), func.max(Turn.created_at))
        .where(Turn.picked_from.is_not(None), Turn.answered, Turn.entry_id.is_not(None))
        .group_by(Turn.entry_id, Turn.question)
    )
    return [tuple(row) for statement in (helpful, picked) for row in session.exec(statement)]


def suggestions(session: Session, entries: list[Entry], *, entry_id: str | None = None) -> list[Suggestion]:
    """Open suggestions, most confirmed first: phrasings the entry does not have yet and no writer decided on."""
    by_id = {entry.id: entry for entry in entries if entry.kind == "faq"}
    decided = {(row.entry_id, row.phrasing_key) for row in session.exec(select(PhrasingDecision))}
    spellings: dict[tuple[str, str], dict[str, int]] = {}
    latest: dict[tuple[str, str], datetime] = {}
    for found_id, question, count, last in confirmed_pairs(session):
        entry = by_id.get(found_id)
        if entry is None or (entry_id and found_id != entry_id) or len(question) > MAX_CHARS:
            continue
        key = phrasing_key(question)
        if not key or (found_id, key[:KEY_CHARS]) in decided or key in {phrasing_key(text) for text in (entry.title, *entry.alternatives)}:
            continue
        variants = spellings.setdefault((found_id, key), {})
        variants[question.strip()] = variants.get(question.strip(), 0) + count
        latest[(found_id, key)] = max(latest.get((found_id, key), last), last)
    found = []
    for (found_id, key), variants in spellings.items():
        shown = max(variants, key=lambda text: (variants[text], text))  # the most confirmed spelling
        entry = by_id[found_id]
        found.append(Suggestion(found_id, entry.path, entry.line_start, entry.title, shown, sum(variants.values()), latest[(found_id, key)]))
    return sorted(found, key=lambda s: (-s.confirmations, s.entry_id, s.phrasing))


def decide(session: Session, knowledge_dir: Path, entries: list[Entry], *, entry_id: str, phrasing: str, accept: bool) -> Suggestion:
    """Accept (write it into the entry's markdown) or reject an open suggestion."""
    key = phrasing_key(phrasing)
    match = next((s for s in suggestions(session, entries, entry_id=entry_id) if phrasing_key(s.phrasing) == key), None)
    if match is None:
        raise LookupError(f"no open suggestion {phrasing!r} for entry '{entry_id}' (see `jiso suggestions`)")
    session.add(PhrasingDecision(entry_id=entry_id, phrasing_key=key[:KEY_CHARS], phrasing=match.phrasing, accepted=accept, decided_at=utcnow()))
    session.flush()  # a concurrent decision on the same phrasing fails here, before the file is touched
    try:
        if accept:
            add_alternative(knowledge_dir, next(entry for entry in entries if entry.id == entry_id), match.phrasing)
    except Exception:
        session.rollback()
        raise
    session.commit()
    return match
