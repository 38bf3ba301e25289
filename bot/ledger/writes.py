"""Every write to the ledger. Functions take the session as a keyword argument and commit.

Duplicates are stopped by unique constraints (channel + external key, delivery key, one vote per
turn), so a retried or redelivered request finds the first record instead of making a second.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import Conversation, EndUser, Escalation, Feedback, Organization, Turn, utcnow
from bot.ledger.text import storable


class NotFound(LookupError):
    pass


def ensure_identity(*, session: Session, user_id: str | None, org_id: str | None) -> None:
    """Make sure the organization and the user exist (first sight creates them)."""
    if org_id and session.get(Organization, org_id) is None:
        session.add(Organization(id=org_id))
        _commit_or_ignore_duplicate(session)
    if user_id and session.get(EndUser, user_id) is None:
        session.add(EndUser(id=user_id, org_id=org_id))
        _commit_or_ignore_duplicate(session)


def _commit_or_ignore_duplicate(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # someone else created it first: that is the record we want


def open_conversation(
    *,
    session: Session,
    channel: str,
    locale: str | None = None,
    visitor_id: str | None = None,
    user_id: str | None = None,
    org_id: str | None = None,
    external_key: str | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Create a conversation, or return the one this channel already has under `external_key`."""
    if external_key is not None:
        existing = find_conversation(session=session, channel=channel, external_key=external_key)
        if existing is not None:
            return existing
    ensure_identity(session=session, user_id=user_id, org_id=org_id)
    now = now or utcnow()
    conversation = Conversation(
        channel=channel,
        external_key=external_key,
        locale=locale,
        visitor_id=visitor_id,
        user_id=user_id,
        org_id=org_id,
        created_at=now,
        last_activity_at=now,
    )
    session.add(conversation)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_conversation(session=session, channel=channel, external_key=external_key) if external_key else None
        if existing is None:
            raise
        return existing
    session.refresh(conversation)
    return conversation


def find_conversation(*, session: Session, channel: str, external_key: str) -> Conversation | None:
    return session.exec(select(Conversation).where(Conversation.channel == channel, Conversation.external_key == external_key)).first()


def get_conversation(*, session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


def _lock(session: Session, conversation: Conversation) -> None:
    """Hold the conversation for this transaction and read its state fresh, so that concurrent
    writers (two tabs, a busy Slack thread) take turns instead of racing for the same `seq`.

    A no-op UPDATE does this on both databases: on PostgreSQL it takes the row lock (a concurrent
    writer waits, then sees the committed row); on SQLite it is the transaction's first write, so
    it takes the database's write lock before anything is read (BEGIN IMMEDIATE semantics)."""
    session.execute(update(Conversation).where(Conversation.id == conversation.id).values(turn_count=Conversation.turn_count).execution_options(synchronize_session=False))
    session.refresh(conversation)


def turns_of(*, session: Session, conversation_id: str) -> list[Turn]:
    return list(session.exec(select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.seq)))


def record_turn(
    *,
    session: Session,
    conversation: Conversation,
    question: str,
    answer_text: str | None,
    answered: bool,
    confidence: float = 0.0,
    entry_id: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    locale: str | None = None,
    delivery_key: str | None = None,
    quiet: bool = False,
    choices: list[dict[str, Any]] | None = None,
    picked_from: str | None = None,
    read_with: str | None = None,
    now: datetime | None = None,
) -> tuple[Turn, bool]:
    """Record a question and what was shown. Returns (turn, created): a redelivery with the same
    `delivery_key` returns the first turn and created=False. A new question reopens a resolved
    conversation and ends the bot's silence after a hand-over; a `quiet` turn (a message for the
    humans after a hand-over, which the bot did not answer) leaves the hand-over standing and
    the bot's last answer as it was (the outcome rules read it)."""
    if quiet and (answered or answer_text is not None):
        raise ValueError("a quiet turn shows nothing: no answer text, not answered")
    # No look-up of `delivery_key` first: callers look before they answer, and a redelivery that
    # gets here anyway is stopped by the unique constraint below.
    now = now or utcnow()
    _lock(session, conversation)
    resolved_before = conversation.confirmed_at is not None or (conversation.turn_count > 0 and conversation.last_turn_answered)
    turn = Turn(
        conversation_id=conversation.id,
        seq=conversation.turn_count + 1,
        question=storable(question),  # Slack cannot be answered 422: what the web refuses is cleaned here
        answer_text=answer_text,
        answered=answered,
        quiet=quiet,
        confidence=confidence,
        entry_id=entry_id,
        sources=sources or [],
        locale=locale,
        delivery_key=delivery_key,
        choices=choices or [],
        picked_from=picked_from,
        read_with=read_with,
        created_at=now,
    )
    conversation.turn_count += 1
    conversation.last_activity_at = now
    if not quiet:
        conversation.last_turn_answered = answered
        conversation.last_turn_not_helpful = False
        if resolved_before and conversation.turn_count > 1:
            conversation.reopened_count += 1
        conversation.confirmed_at = None
        conversation.handed_over = False
    if locale and not conversation.locale:
        conversation.locale = locale
    session.add(turn)
    session.add(conversation)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent delivery of the same event got there first (the lock serializes seq).
        session.rollback()
        existing = delivered_turn(session=session, delivery_key=delivery_key) if delivery_key is not None else None
        if existing is not None:
            return existing, False
        raise
    session.refresh(turn)
    return turn, True


def delivered_turn(*, session: Session, delivery_key: str) -> Turn | None:
    """The turn a delivery (e.g. a Slack event) already recorded, if any."""
    return session.exec(select(Turn).where(Turn.delivery_key == delivery_key)).first()


def turn_in(*, session: Session, conversation: Conversation, turn_id: str) -> Turn:
    """The turn `turn_id` of this conversation; NotFound for another conversation's or none."""
    turn = session.get(Turn, turn_id)
    if turn is None or turn.conversation_id != conversation.id:
        raise NotFound(f"turn {turn_id} not found in conversation {conversation.id}")
    return turn


def record_feedback(*, session: Session, conversation: Conversation, turn_id: str, helpful: bool, now: datetime | None = None) -> Feedback:
    """The user's vote on a turn; voting again changes the vote, never adds a second one."""
    turn = turn_in(session=session, conversation=conversation, turn_id=turn_id)
    now = now or utcnow()
    feedback = session.exec(select(Feedback).where(Feedback.turn_id == turn_id)).first()
    if feedback is None:
        feedback = Feedback(conversation_id=conversation.id, turn_id=turn_id, helpful=helpful, created_at=now)
    else:
        feedback.helpful = helpful
        feedback.created_at = now
    _lock(session, conversation)
    is_last = turn.seq == conversation.turn_count
    if helpful:
        conversation.confirmed_at = now
        if is_last:
            conversation.last_turn_not_helpful = False
    else:
        if is_last:
            conversation.last_turn_not_helpful = True
            conversation.confirmed_at = None
    conversation.last_activity_at = now
    session.add(feedback)
    session.add(conversation)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return record_feedback(session=session, conversation=conversation, turn_id=turn_id, helpful=helpful, now=now)
    session.refresh(feedback)
    return feedback


def record_escalation(
    *,
    session: Session,
    conversation: Conversation,
    reason: str,
    destinations: list[str],
    turn_id: str | None = None,
    delivery_key: str | None = None,
    contact_email: str | None = None,
    with_escalation: Callable[[Escalation], None] | None = None,
    now: datetime | None = None,
) -> Escalation:
    """A hand-over: the conversation's outcome becomes `escalated` and the bot goes quiet.
    Under a `delivery_key` that was already recorded, the first hand-over is returned.
    `with_escalation` adds to the session what must be committed with it (its delivery jobs)."""
    if delivery_key is not None:
        existing = find_escalation(session=session, delivery_key=delivery_key)
        if existing is not None:
            return existing
    now = now or utcnow()
    _lock(session, conversation)
    if turn_id is None and conversation.turn_count:
        # The last question the bot answered or declined; a quiet turn was for the team already.
        last = session.exec(select(Turn).where(Turn.conversation_id == conversation.id, ~Turn.quiet).order_by(Turn.seq.desc())).first()
        turn_id = last.id if last else None
    escalation = Escalation(
        conversation_id=conversation.id,
        turn_id=turn_id,
        reason=storable(reason),
        destinations=destinations,
        delivery={destination: "pending" for destination in destinations},
        delivery_key=delivery_key,
        contact_email=contact_email,
        created_at=now,
    )
    if conversation.escalated_at is None:
        conversation.escalated_at = now
    conversation.handed_over = True
    conversation.last_activity_at = now
    session.add(escalation)
    session.add(conversation)
    try:
        if with_escalation is not None:
            with_escalation(escalation)  # may flush: a concurrent duplicate is refused here too
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_escalation(session=session, delivery_key=delivery_key) if delivery_key is not None else None
        if existing is None:
            raise
        return existing
    session.refresh(escalation)
    return escalation


def find_escalation(*, session: Session, delivery_key: str) -> Escalation | None:
    return session.exec(select(Escalation).where(Escalation.delivery_key == delivery_key)).first()


def record_delivery(*, session: Session, escalation_id: str, destination: str, status: str) -> None:
    """Where a hand-over got to: `delivered`, or `failed: <why>` after the last retry.

    Each destination is delivered by its own worker, so two may record at once: the row is locked
    (a no-op UPDATE, as in `_lock`) before the statuses are read, or one would overwrite the other."""
    session.execute(update(Escalation).where(Escalation.id == escalation_id).values(reason=Escalation.reason).execution_options(synchronize_session=False))
    escalation = session.get(Escalation, escalation_id, populate_existing=True)
    if escalation is None:
        raise NotFound(f"escalation {escalation_id} not found")
    escalation.delivery = {**escalation.delivery, destination: status}
    session.add(escalation)
    session.commit()
