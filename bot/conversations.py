"""The conversation use case, the same on every channel: a message → an answer (or silence) → a turn.

After a hand-over the bot stays quiet: the user's messages are for the humans and are recorded as
quiet turns. It speaks again only when the user asks a *new question*. Each channel says how it
recognises one; the web widget sends `new_question: true` when the user chooses "Ask a new
question" after a hand-over (see README, "Web chat").
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.engine import Answer, Engine
from bot.ledger import writes
from bot.ledger.models import Conversation, Turn
from bot.messages import dont_know


def ask(
    *,
    session: Session,
    engine: Engine | None,
    conversation: Conversation,
    text: str,
    locale: str | None = None,
    new_question: bool = False,
    delivery_key: str | None = None,
) -> tuple[Turn, bool]:
    """Answer `text` in `conversation` and record the turn. Returns (turn, created); a redelivery
    with the same `delivery_key` returns the first turn without answering again."""
    session.refresh(conversation)
    if conversation.handed_over and not new_question:
        return writes.record_turn(
            session=session, conversation=conversation, question=text, answer_text=None, answered=False,
            locale=locale or conversation.locale, delivery_key=delivery_key, quiet=True,
        )  # fmt: skip
    answer = engine.answer(text, locale) if engine is not None else _no_index(text, locale or conversation.locale or "en")
    return writes.record_turn(
        session=session,
        conversation=conversation,
        question=text,
        answer_text=answer.text,
        answered=answer.confident,
        confidence=round(answer.confidence, 4),
        entry_id=answer.entry.id if answer.entry else None,
        sources=[source.__dict__ for source in answer.sources],
        locale=answer.locale,
        delivery_key=delivery_key,
    )


def _no_index(question: str, locale: str) -> Answer:
    """Without a built index every question gets the hand-over offer (and is recorded as such)."""
    return Answer(question, locale, dont_know(locale), False, 0.0)


def answer_source_path(turn: Turn) -> str | None:
    """The knowledge file an answer was quoted from (its relative links resolve against it)."""
    return turn.sources[0]["path"] if turn.answered and turn.sources else None


def transcript(*, session: Session, conversation: Conversation) -> list[dict[str, Any]]:
    """The conversation as humans get it in a hand-over."""
    return [
        {
            "question": turn.question,
            "answer": turn.answer_text,
            "answered": turn.answered,
            "confidence": turn.confidence,
            "sources": turn.sources,
        }
        for turn in writes.turns_of(session=session, conversation_id=conversation.id)
    ]
