"""The champion's view of one organization: each member's onboarding, and who is stuck where
(definitions: docs/kpis.md, "Members of an organization")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from bot.onboarding import Checklist
from bot.reports.periods import iso
from bot.reports.queries import C, Filters, U, Window, dialect_of, user_rows

STUCK_AFTER = timedelta(days=3)  # no progress for this long, with a required step open: stuck
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Member:
    user_id: str
    started_at: datetime
    steps_done: tuple[str, ...]
    completed_at: datetime | None
    self_serve: bool
    last_progress_at: datetime
    stuck_step: str | None
    days_since_progress: int
    conversations: int
    escalations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "started_at": iso(self.started_at),
            "steps_done": list(self.steps_done),
            "completed_at": None if self.completed_at is None else iso(self.completed_at),
            "self_serve": self.self_serve,
            "stuck_step": self.stuck_step,
            "days_since_progress": self.days_since_progress,
            "last_progress_at": iso(self.last_progress_at),
            "conversations": self.conversations,
            "escalations": self.escalations,
        }


def members(session: Session, checklist: Checklist, org_id: str, now: datetime, quiet: timedelta) -> list[Member]:
    """Every member of `org_id` who started onboarding (as of `now`), earliest start first."""
    return [member for _, member in _members(session, checklist, org_id, now, quiet)]


def stuck_by_organization(session: Session, checklist: Checklist, now: datetime, quiet: timedelta) -> dict[str, int]:
    """Per organization with stuck members: how many."""
    counts: dict[str, int] = {}
    for org_id, member in _members(session, checklist, None, now, quiet):
        if member.stuck_step is not None and org_id is not None:
            counts[org_id] = counts.get(org_id, 0) + 1
    return counts


def _members(session: Session, checklist: Checklist, org_id: str | None, now: datetime, quiet: timedelta) -> list[tuple[str | None, Member]]:
    """(organization, member) for the members of `org_id`, or of every organization (None)."""
    window = Window(start=now, end=now, now=now, quiet=quiet, filters=Filters(org_id=org_id))
    users = user_rows(checklist, window, dialect_of(session))
    mine = C.c.user_id.in_(select(U.c.id).where(U.c.org_id == org_id)) if org_id is not None else C.c.user_id.is_not(None)
    talk = (
        select(
            C.c.user_id.label("user_id"),
            func.count(case((C.c.turn_count > 0, C.c.id))).label("conversations"),
            func.count(case((C.c.escalated_at <= now, C.c.id))).label("escalations"),
        )
        .where(mine, C.c.created_at <= now)
        .group_by(C.c.user_id)
        .subquery("member_talk")
    )
    n = len(checklist.steps)
    query = (
        select(
            users.c.user_id,
            users.c.started_at,
            users.c.completed_at,
            users.c.self_serve,
            talk.c.conversations,
            talk.c.escalations,
            users.c.org_id,
            *[users.c[f"d{i}"] for i in range(n)],
        )
        .select_from(users.outerjoin(talk, talk.c.user_id == users.c.user_id))
        .order_by(users.c.started_at, users.c.user_id)
    )
    if org_id is not None:
        query = query.where(users.c.org_id == org_id)
    found = []
    for row in session.execute(query):
        done_at = list(row[7 : 7 + n])
        last_progress = max([row.started_at, *[t for t in done_at if t is not None]])
        idle = now - last_progress
        next_required = next((step.id for step, t in zip(checklist.steps, done_at) if step.required and t is None), None)
        member = Member(
            user_id=row.user_id,
            started_at=row.started_at,
            steps_done=tuple(step.id for step, t in zip(checklist.steps, done_at) if t is not None),
            completed_at=row.completed_at,
            self_serve=bool(row.self_serve),
            last_progress_at=last_progress,
            stuck_step=next_required if idle >= STUCK_AFTER else None,
            days_since_progress=max(0, idle // DAY),
            conversations=int(row[4] or 0),
            escalations=int(row[5] or 0),
        )
        found.append((row.org_id, member))
    return found
