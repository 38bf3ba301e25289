"""The widget's "Popular questions": the FAQ entries of a locale answered most often lately, as
the writers ask them (the entry's question), for a visitor to start with one click."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from bot.ledger.models import Turn
from indexer.documents import Entry

POPULAR_WINDOW = timedelta(days=30)


def popular_questions(session: Session, entries: Iterable[Entry], locale: str, now: datetime, limit: int) -> list[str]:
    """Up to `limit` questions of the `locale` FAQ entries answered most in the last 30 days (ties:
    the entry answered last first); entries no longer in the index are skipped."""
    if limit <= 0:
        return []
    questions = {entry.id: entry.title for entry in entries if entry.kind == "faq" and entry.locale == locale}
    shown = func.count(Turn.id)
    rows = session.execute(
        select(Turn.entry_id)
        .where(Turn.answered, Turn.locale == locale, Turn.entry_id.is_not(None), Turn.created_at >= now - POPULAR_WINDOW)
        .group_by(Turn.entry_id)
        .order_by(shown.desc(), func.max(Turn.created_at).desc(), Turn.entry_id)
        .limit(limit + 10)  # a few spare for entries removed since
    ).scalars()
    return [questions[entry_id] for entry_id in rows if entry_id in questions][:limit]
