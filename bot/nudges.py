"""Next-step nudges: the widget shows a verified user the next required step they have not done,
with the FAQ entry that helps with it, at most once per step per user per (UTC) day.

Shown, opened and dismissed are product events of the user (`NUDGE_EVENTS`), so the reports read
them like any other event. The once-a-day rule is the event's unique `event_id`: the first
request of the day stores the "shown" event and gets the nudge; every other device, tab or
server instance finds it stored and gets none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlmodel import Session

from bot.ledger.events import NewEvent, record_events
from bot.ledger.models import Feedback, OnboardingEvent, Turn
from bot.onboarding import Checklist, Step
from bot.reports.queries import user_steps_done
from indexer.documents import Entry

NudgeAction = Literal["shown", "opened", "dismissed"]
NUDGE_EVENTS: Mapping[NudgeAction, str] = {"shown": "jiso.nudge.shown", "opened": "jiso.nudge.opened", "dismissed": "jiso.nudge.dismissed"}


@dataclass(frozen=True)
class HelpEntry:
    id: str
    title: str
    path: str
    line: int

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": f"{base_url}/knowledge/{self.path}#L{self.line}"}


@dataclass(frozen=True)
class Nudge:
    step: Step
    help: HelpEntry
    required_done: int
    required_total: int


def help_entries(session: Session, checklist: Checklist, entries: Iterable[Entry], locale: str) -> dict[str, HelpEntry]:
    """Per step id: the FAQ entry in `locale` whose `onboarding_step` names it; of several, the one
    users confirmed helpful ("This solved it") most often, then the first in the knowledge (a
    file's main question comes first; its other entries inherit the file's `onboarding_step`)."""
    ids = set(checklist.ids)
    candidates = [e for e in entries if e.kind == "faq" and e.locale == locale and e.meta.get("onboarding_step") in ids]
    if not candidates:
        return {}
    helpful = session.execute(
        select(Turn.entry_id, func.count())
        .select_from(Turn)
        .join(Feedback, Feedback.turn_id == Turn.id)
        .where(Feedback.helpful.is_(True), Turn.entry_id.in_([e.id for e in candidates]))
        .group_by(Turn.entry_id)
    )
    votes = {entry_id: int(count) for entry_id, count in helpful}
    best: dict[str, Entry] = {}
    for entry in sorted(candidates, key=lambda e: -votes.get(e.id, 0)):  # stable: ties keep knowledge order
        best.setdefault(entry.meta["onboarding_step"], entry)
    return {step: HelpEntry(e.id, e.title, e.path, e.line_start) for step, e in best.items()}


def next_nudge(session: Session, checklist: Checklist, entries: Iterable[Entry], user_id: str, locale: str, now: datetime, quiet: timedelta) -> Nudge | None:
    """The first required step (checklist order) the user has not done, if an entry helps with it."""
    done = user_steps_done(session, checklist, user_id, now, quiet)
    required = [(step, flag) for step, flag in zip(checklist.steps, done) if step.required]
    step = next((step for step, flag in required if not flag), None)
    if step is None:
        return None
    entry = help_entries(session, checklist, entries, locale).get(step.id)
    if entry is None:
        return None
    return Nudge(step, entry, sum(flag for _, flag in required), len(required))


def nudge_event_id(user_id: str, step_id: str, day: str, action: NudgeAction) -> str:
    # Hashed: a user id and a step id together could outgrow the 255 characters of an event id.
    who = hashlib.sha256(f"{user_id}\0{step_id}".encode()).hexdigest()[:32]
    return f"jiso:nudge:{who}:{day}:{action}"


def record_nudge(session: Session, *, user_id: str, org_id: str | None, step_id: str, entry_id: str | None, action: NudgeAction, now: datetime, request_id: str) -> bool:
    """Record that the user's nudge for `step_id` was shown (opened, dismissed) today. True when this
    request recorded it, or recorded it before (a retry with the same `request_id`); False when
    another request already did today."""
    event_id = nudge_event_id(user_id, step_id, now.date().isoformat(), action)
    properties = {"step": step_id, "entry_id": entry_id, "request": request_id}
    result = record_events(session=session, events=[NewEvent(event_id, user_id, org_id, NUDGE_EVENTS[action], now, properties)], known_names=frozenset())
    if result.accepted:
        return True
    stored = session.execute(select(OnboardingEvent.properties).where(OnboardingEvent.event_id == event_id)).scalar_one()
    return stored.get("request") == request_id
