"""A conversation's outcome, derived deterministically from its state (docs/kpis.md).

escalated           a hand-over happened (wins over everything)
resolved_confirmed  the user said an answer helped, after their last question
open                still inside the quiet window since the last activity
resolved_assumed    the bot answered the last question, no "not helpful" on it, and the user went quiet
unanswered          the last question got no answer (the bot declined) or a "not helpful", and the user left
A conversation with no question yet is `open` and is not counted in reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import and_, case, literal
from sqlalchemy.sql.elements import ColumnElement

from bot.ledger.models import Conversation

Outcome = Literal["escalated", "resolved_confirmed", "resolved_assumed", "unanswered", "open"]
OUTCOMES: tuple[Outcome, ...] = ("escalated", "resolved_confirmed", "resolved_assumed", "unanswered", "open")
DECIDED: tuple[Outcome, ...] = ("escalated", "resolved_confirmed", "resolved_assumed", "unanswered")


def outcome_of(conversation: Conversation, now: datetime, quiet: timedelta) -> Outcome:
    if conversation.escalated_at is not None:
        return "escalated"
    if conversation.confirmed_at is not None:
        return "resolved_confirmed"
    if conversation.turn_count == 0 or conversation.last_activity_at > now - quiet:
        return "open"
    if conversation.last_turn_answered and not conversation.last_turn_not_helpful:
        return "resolved_assumed"
    return "unanswered"


def outcome_sql(now: datetime, quiet: timedelta) -> ColumnElement[str]:
    """The same rule as `outcome_of`, as a SQL CASE over the conversations table."""
    c = Conversation.__table__.c
    return case(
        (c.escalated_at.is_not(None), literal("escalated")),
        (c.confirmed_at.is_not(None), literal("resolved_confirmed")),
        ((c.turn_count == 0) | (c.last_activity_at > now - quiet), literal("open")),
        (and_(c.last_turn_answered, ~c.last_turn_not_helpful), literal("resolved_assumed")),
        else_=literal("unanswered"),
    )
