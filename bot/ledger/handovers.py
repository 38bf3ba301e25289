"""Writing what happens on a hand-over after it went out: people's replies, where the Slack
hand-over message is, and closing it. Idempotent like the other writes: a reply under a delivery
key that was recorded already is found, not written twice; closing twice keeps the first close."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import Escalation, PersonReply, utcnow
from bot.ledger.text import storable
from bot.ledger.writes import NotFound


def latest_escalation(*, session: Session, conversation_id: str) -> Escalation | None:
    """The conversation's last hand-over (a conversation may be handed over again after a new question)."""
    return session.exec(select(Escalation).where(Escalation.conversation_id == conversation_id).order_by(Escalation.created_at.desc(), Escalation.id.desc())).first()


def escalation_at_slack_message(*, session: Session, channel: str, ts: str) -> Escalation | None:
    """The hand-over whose Slack message is `channel` + `ts` (a thread reply names its root so)."""
    return session.exec(select(Escalation).where(Escalation.slack_channel == channel, Escalation.slack_ts == ts)).first()


def record_slack_message(*, session: Session, escalation_id: str, channel: str, ts: str) -> None:
    """Where the hand-over was posted in Slack: replies in that message's thread are people's replies."""
    session.execute(update(Escalation).where(Escalation.id == escalation_id).values(slack_channel=channel, slack_ts=ts).execution_options(synchronize_session=False))
    session.commit()


def record_reply(
    *,
    session: Session,
    escalation: Escalation,
    text: str,
    via: str,
    author_name: str | None = None,
    author_ref: str | None = None,
    delivery_key: str | None = None,
    now: datetime | None = None,
) -> tuple[PersonReply, bool]:
    """A person's reply on `escalation`'s conversation. Returns (reply, created)."""
    if delivery_key is not None:
        existing = delivered_reply(session=session, delivery_key=delivery_key)
        if existing is not None:
            return existing, False
    reply = PersonReply(
        conversation_id=escalation.conversation_id,
        escalation_id=escalation.id,
        text=storable(text),
        author_name=storable(author_name) if author_name else None,
        author_ref=author_ref,
        via=via,
        delivery_key=delivery_key,
        created_at=now or utcnow(),
    )
    session.add(reply)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent delivery of the same reply got there first
        existing = delivered_reply(session=session, delivery_key=delivery_key) if delivery_key is not None else None
        if existing is None:
            raise
        return existing, False
    session.refresh(reply)
    return reply, True


def delivered_reply(*, session: Session, delivery_key: str) -> PersonReply | None:
    return session.exec(select(PersonReply).where(PersonReply.delivery_key == delivery_key)).first()


def replies_of(*, session: Session, conversation_id: str) -> list[PersonReply]:
    return list(session.exec(select(PersonReply).where(PersonReply.conversation_id == conversation_id).order_by(PersonReply.created_at, PersonReply.id)))


def close_escalation(*, session: Session, escalation_id: str, closed_by: str | None = None, note: str | None = None, now: datetime | None = None) -> tuple[Escalation, bool]:
    """Mark a hand-over resolved by a person. Returns (escalation, closed now): closing a closed
    one changes nothing. The conversation stays handed over, so that the user's "Thanks!" is
    not taken for a new question; the conversation's outcome stays `escalated`."""
    # Lock the row (a no-op UPDATE, as in writes._lock): of two concurrent closes one waits, then sees the first.
    session.execute(update(Escalation).where(Escalation.id == escalation_id).values(reason=Escalation.reason).execution_options(synchronize_session=False))
    escalation = session.get(Escalation, escalation_id, populate_existing=True)
    if escalation is None:
        session.rollback()
        raise NotFound(f"escalation {escalation_id} not found")
    if escalation.closed_at is not None:
        session.commit()
        session.refresh(escalation)
        return escalation, False
    escalation.closed_at = now or utcnow()
    escalation.closed_by = closed_by
    escalation.close_note = storable(note) if note else None
    session.add(escalation)
    session.commit()
    session.refresh(escalation)
    return escalation, True
