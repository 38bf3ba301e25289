"""The conversation use case, the same on every channel: a message → an answer (or silence) → a turn.

After a hand-over the bot stays quiet: the user's messages are for the humans and are recorded as
quiet turns. It speaks again only when the user asks a *new question*. Each channel says how it
recognises one; the web widget sends `new_question: true` when the user chooses "Ask a new
question" after a hand-over (see README, "Web chat").
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import Session

from bot.engine import Answer, Engine
from bot.ledger import writes
from bot.ledger.models import Conversation, Turn
from bot.messages import dont_know

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asked:
    """What `ask` did. `created` is False for a redelivery of a question already recorded (the
    first delivery showed the answer). `answer` is what to show now: None when the bot stays
    quiet after a hand-over, and for a redelivery."""

    turn: Turn
    created: bool
    answer: Answer | None


def ask(
    *,
    session: Session,
    engine: Engine | None,
    conversation: Conversation,
    text: str,
    locale: str | None = None,
    new_question: bool = False,
    delivery_key: str | None = None,
) -> Asked:
    """Answer `text` in `conversation` and record the turn, the same way on every channel.
    `locale` is the channel's hint (the engine may detect another); `delivery_key` makes a
    redelivery (same key) return the first turn without answering again."""
    if delivery_key is not None:
        recorded = writes.delivered_turn(session=session, delivery_key=delivery_key)
        if recorded is not None:
            return Asked(recorded, False, None)
    session.refresh(conversation)
    if conversation.handed_over and not new_question:
        turn, created = writes.record_turn(
            session=session, conversation=conversation, question=text, answer_text=None, answered=False,
            locale=locale or conversation.locale, delivery_key=delivery_key, quiet=True,
        )  # fmt: skip
        return Asked(turn, created, None)
    answer = _answer(engine, text, locale, fallback_locale=locale or conversation.locale or "en")
    turn, created = writes.record_turn(
        session=session,
        conversation=conversation,
        question=text,
        answer_text=answer.text,
        answered=answer.confident,
        confidence=round(answer.confidence, 4),
        entry_id=answer.entry.id if answer.entry else None,
        sources=[asdict(source) for source in answer.sources],
        locale=answer.locale,
        delivery_key=delivery_key,
    )
    return Asked(turn, created, answer if created else None)


def _answer(engine: Engine | None, text: str, locale: str | None, *, fallback_locale: str) -> Answer:
    """The engine's answer. Without a built index, or if answering fails, the bot declines and
    offers a person, so the question is still recorded and the user is not left in silence."""
    if engine is not None:
        try:
            return engine.answer(text, locale)
        except Exception:
            log.exception("answering a question failed; offering a person instead")
    return Answer(text, fallback_locale, dont_know(fallback_locale), "decline", 0.0)


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
            "quiet": turn.quiet,
            "confidence": turn.confidence,
            "sources": turn.sources,
        }
        for turn in writes.turns_of(session=session, conversation_id=conversation.id)
    ]
