"""The conversation use case, the same on every channel: a message → an answer (or silence) → a turn.

After a hand-over the bot stays quiet: the user's messages are for the humans and are recorded as
quiet turns. It speaks again only when the user asks a *new question*. Each channel says how it
recognises one; the web widget sends `new_question: true` when the user chooses "Ask a new
question" after a hand-over (see README, "Web chat").
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlmodel import Session

from bot.engine import Answer, Engine, Source
from bot.ledger import writes
from bot.ledger.models import Conversation, Turn
from bot.ledger.text import storable
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
    text = storable(text)  # what the database cannot store, the language detector cannot read either
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
    if not answer.confident and engine is not None:
        answer = _as_follow_up(session, engine, conversation, answer) or answer
    return _record(session, conversation, answer, delivery_key=delivery_key)


def choose(*, session: Session, engine: Engine | None, conversation: Conversation, turn_id: str, entry_id: str | None) -> Asked:
    """The user's pick after "Did you mean…": the picked entry's answer, or for "None of these"
    (`entry_id` None) the "I don't know" message with the offer of a person. Recorded as a turn
    answering the clarification, once: picking again returns the first pick."""
    asked = writes.turn_in(session=session, conversation=conversation, turn_id=turn_id)
    if asked.kind != "clarify":
        raise NotAClarification(f"turn {turn_id!r} did not ask which entry is meant")
    session.refresh(conversation)
    if conversation.handed_over:
        raise NotAClarification("this conversation was handed over to a person after that question: ask a new question to get the bot's answers again")
    key = f"choice:{asked.id}"
    recorded = writes.delivered_turn(session=session, delivery_key=key)
    if recorded is not None:
        return Asked(recorded, False, None)
    locale = asked.locale or conversation.locale or "en"
    if entry_id is None:
        answer = Answer(asked.question, locale, dont_know(locale), "decline", 0.0)
    else:
        choice = next((choice for choice in asked.choices if choice["id"] == entry_id), None)
        if choice is None:
            raise NotAChoice(f"entry {entry_id!r} was not one of the choices of turn {turn_id!r} ({', '.join(c['id'] for c in asked.choices)})")
        entry = next((entry for entry in engine.index.entries if entry.id == entry_id), None) if engine is not None else None
        if entry is None:
            answer = Answer(asked.question, locale, dont_know(locale), "decline", 0.0)  # the entry left the knowledge since
        else:
            answer = Answer(asked.question, locale, entry.body, "answer", 1.0, [Source(**choice)], entry)  # the user's own pick
    return _record(session, conversation, answer, delivery_key=key, picked_from=asked.id)


class NotAClarification(ValueError):
    pass


class NotAChoice(ValueError):
    pass


def _record(session: Session, conversation: Conversation, answer: Answer, *, delivery_key: str | None, picked_from: str | None = None) -> Asked:
    turn, created = writes.record_turn(
        session=session,
        conversation=conversation,
        question=answer.question,
        answer_text=answer.text,
        answered=answer.confident,
        confidence=round(answer.confidence, 4),
        entry_id=answer.entry.id if answer.entry else None,
        sources=[asdict(source) for source in answer.sources],
        choices=[asdict(choice) for choice in answer.choices],
        locale=answer.locale,
        delivery_key=delivery_key,
        picked_from=picked_from,
        read_with=answer.read_with,
    )
    return Asked(turn, created, answer if created else None)


FOLLOW_UP_TOKENS = 4  # "and on mobile?": short enough that it only makes sense after the previous question


def _as_follow_up(session: Session, engine: Engine, conversation: Conversation, answer: Answer) -> Answer | None:
    """A short question the engine is unsure of, read together with the previous question ("How
    do I invite people?" … "and on mobile?"): that reading, if it is answered with confidence.
    Only when the short question has a word the knowledge knows ("thanks!" is not a follow-up)."""
    index = engine.index.locales.get(answer.locale)
    if index is None:
        return None
    tokens = index.lexical.tokens(answer.question)
    if not tokens or len(tokens) > FOLLOW_UP_TOKENS or index.lexical.known_share(tokens) == 0:
        return None
    previous = next((turn for turn in reversed(writes.turns_of(session=session, conversation_id=conversation.id)) if not turn.quiet and turn.picked_from is None), None)
    if previous is None:
        return None
    try:
        combined = engine.answer(f"{previous.question} {answer.question}", answer.locale)
    except Exception:
        log.exception("answering a follow-up question failed; keeping the answer to the question alone")
        return None
    if not combined.confident:
        return None
    return replace(combined, question=answer.question, read_with=previous.id)


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
