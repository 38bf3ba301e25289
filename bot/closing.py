"""A person marks a hand-over resolved: from the "Mark resolved" button on the Slack hand-over
message, or `POST /api/v1/conversations/{id}/close`. Closing is a state, so closing again is a
no-op that reports the first close. The conversation's outcome stays `escalated` (a person's
resolution is never a deflection); reports count it in `resolved_by_person` (docs/kpis.md). A
closed hand-over with a person's reply becomes a FAQ draft (bot/drafts.py)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel import Session, select

from bot import drafts
from bot.engine import Engine
from bot.escalation import Dispatcher, HandoverEvent
from bot.ledger import handovers
from bot.ledger.models import Conversation, Escalation
from bot.person_replies import NotHandedOver


def close_handover(
    *,
    session: Session,
    escalation_id: str,
    closed_by: str | None,
    via: str,
    dispatcher: Dispatcher,
    engine: Engine | None,
    note: str | None = None,
    gap_similarity: Mapping[str, float] | None = None,
) -> tuple[Escalation, bool]:
    """Close one hand-over; returns it and whether this call closed it. NotFound for an unknown one.
    The close is sent on (`closed`: the webhook; the Slack hand-over thread when closed elsewhere).
    `gap_similarity`: the content gaps' thresholds, for the draft's similar questions."""
    escalation, closed = handovers.close_escalation(session=session, escalation_id=escalation_id, closed_by=closed_by, note=note)
    if closed:
        conversation = session.get(Conversation, escalation.conversation_id)
        event = HandoverEvent.on(
            conversation, kind="closed", event_id=escalation.id, escalation_id=escalation.id, text=escalation.close_note or "", at=escalation.closed_at, author=closed_by, via=via,
        )  # fmt: skip
        dispatcher.dispatch_event(event)
        drafts.propose(session=session, escalation=escalation, engine=engine, min_similarity=gap_similarity)
        session.refresh(escalation)
    return escalation, closed


def close_conversation(
    *,
    session: Session,
    conversation: Conversation,
    closed_by: str | None,
    via: str,
    dispatcher: Dispatcher,
    engine: Engine | None,
    note: str | None = None,
    gap_similarity: Mapping[str, float] | None = None,
) -> tuple[Escalation, bool]:
    """Close every open hand-over of the conversation (usually one). Returns the latest hand-over
    and whether this call closed anything."""
    escalations = list(session.exec(select(Escalation).where(Escalation.conversation_id == conversation.id).order_by(Escalation.created_at, Escalation.id)))
    if not escalations:
        raise NotHandedOver(f"conversation {conversation.id} was not handed over to a person: there is nothing to close")
    closed_any = False
    for escalation in escalations:
        if escalation.closed_at is None:
            _, closed = close_handover(
                session=session, escalation_id=escalation.id, closed_by=closed_by, via=via, dispatcher=dispatcher, engine=engine, note=note, gap_similarity=gap_similarity,
            )  # fmt: skip
            closed_any = closed_any or closed
    latest = escalations[-1]
    session.refresh(latest)
    return latest, closed_any
