"""The conversations behind the KPIs: the latest ones of a report's window, filtered by outcome
and searched by what the users wrote, newest first (the manager's way from a rate to transcripts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlmodel import Session

from bot.ledger.models import Conversation, Turn
from bot.ledger.outcomes import Outcome, outcome_sql
from bot.reports.periods import iso
from bot.reports.queries import Window, conversation_filters

C = Conversation.__table__
T = Turn.__table__


@dataclass(frozen=True)
class Page:
    total: int
    rows: list[dict[str, Any]]


def _like_pattern(text: str) -> str:
    """`text` as a literal substring for LIKE … ESCAPE '\\' (a % or _ typed by the manager matches itself)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conversation_page(session: Session, window: Window, *, outcome: Outcome | None = None, search: str | None = None, limit: int = 50, offset: int = 0) -> Page:
    """Conversations of the window (with its filters), newest first; `search` matches any question
    or message the user wrote in the conversation (case-insensitive substring)."""
    clauses = conversation_filters(window)  # the same conversations the KPIs count
    if search:
        # A conversation's turns come after it began: the bound lets the turns' time index skip older ones.
        matching = [T.c.conversation_id == C.c.id, T.c.created_at >= window.start, func.lower(T.c.question).like(_like_pattern(search), escape="\\")]
        clauses.append(exists().where(*matching))
    inner = (
        select(
            C.c.id,
            C.c.created_at,
            C.c.last_activity_at,
            C.c.channel,
            C.c.locale,
            C.c.org_id,
            C.c.user_id,
            C.c.turn_count,
            C.c.reopened_count,
            outcome_sql(window.now, window.quiet).label("outcome"),
        )
        .where(*clauses)
        .subquery("listed")
    )
    chosen = [inner.c.outcome == outcome] if outcome is not None else []
    total = session.execute(select(func.count()).select_from(inner).where(*chosen)).scalar_one()
    query = select(inner).where(*chosen).order_by(inner.c.created_at.desc(), inner.c.id.desc()).limit(limit).offset(offset)
    listed = list(session.execute(query))
    questions = _first_questions(session, [row.id for row in listed])
    rows = [
        {
            "id": row.id,
            "started_at": iso(row.created_at),
            "last_activity_at": iso(row.last_activity_at),
            "channel": row.channel,
            "locale": row.locale,
            "org_id": row.org_id,
            "user_id": row.user_id,
            "outcome": row.outcome,
            "turns": row.turn_count,
            "reopened": row.reopened_count,
            "first_question": questions.get(row.id),
        }
        for row in listed
    ]
    return Page(total=int(total), rows=rows)


def _first_questions(session: Session, conversation_ids: list[str]) -> dict[str, str]:
    """The first question of each listed conversation, looked up for the page only (not for every
    conversation the count and the sort go through)."""
    if not conversation_ids:
        return {}
    first = select(T.c.conversation_id, func.min(T.c.seq).label("seq")).where(T.c.conversation_id.in_(conversation_ids)).group_by(T.c.conversation_id).subquery("first_turn")
    query = select(T.c.conversation_id, T.c.question).select_from(T.join(first, and_(T.c.conversation_id == first.c.conversation_id, T.c.seq == first.c.seq)))
    return {conversation_id: question for conversation_id, question in session.execute(query)}
