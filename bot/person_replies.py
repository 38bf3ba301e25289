"""A person's reply reaches the user, and the user's next messages reach the person.

One use case, two adapters: a reply written in the Slack hand-over thread (bot/channels/slack.py)
and one posted by a helpdesk through the API (api/routes/handover.py) are recorded the same way,
on the conversation's latest hand-over, and sent on as a `HandoverEvent` (into the asker's Slack
thread when the conversation is on Slack; the web widget reads replies from the ledger). What the
user writes after a hand-over (a quiet turn) is sent on as a follow-up: into the hand-over's Slack
thread and to the webhook.
"""

from __future__ import annotations

from sqlmodel import Session

from bot.escalation import Dispatcher, HandoverEvent
from bot.ledger import handovers
from bot.ledger.models import Conversation, Escalation, PersonReply, Turn


class NotHandedOver(ValueError):
    """A reply to a conversation nobody handed over to a person."""


def reply(
    *,
    session: Session,
    conversation: Conversation,
    text: str,
    via: str,
    dispatcher: Dispatcher,
    author_name: str | None = None,
    author_ref: str | None = None,
    delivery_key: str | None = None,
    escalation: Escalation | None = None,
) -> tuple[PersonReply, bool]:
    """Record a person's reply on `escalation` (default: the conversation's latest hand-over) and
    send it on; a redelivery (same `delivery_key`) returns the first reply and sends nothing."""
    escalation = escalation or handovers.latest_escalation(session=session, conversation_id=conversation.id)
    if escalation is None:
        raise NotHandedOver(f"conversation {conversation.id} was not handed over to a person: there is nothing to reply to")
    recorded, created = handovers.record_reply(
        session=session, escalation=escalation, text=text, via=via, author_name=author_name, author_ref=author_ref, delivery_key=delivery_key,
    )  # fmt: skip
    if created:
        event = HandoverEvent.on(conversation, kind="reply", event_id=recorded.id, escalation_id=escalation.id, text=recorded.text, at=recorded.created_at, author=recorded.author_name, via=via)
        dispatcher.dispatch_event(event)
    return recorded, created


def follow_up(*, session: Session, conversation: Conversation, turn: Turn, dispatcher: Dispatcher) -> None:
    """A message the user wrote after a hand-over (a quiet turn), sent on to the people (queued
    once per turn: calling it again for the same turn adds nothing)."""
    if not turn.quiet:
        return
    escalation = handovers.latest_escalation(session=session, conversation_id=conversation.id)
    if escalation is None:
        return
    dispatcher.dispatch_event(HandoverEvent.on(conversation, kind="follow_up", event_id=turn.id, escalation_id=escalation.id, text=turn.question, at=turn.created_at))
