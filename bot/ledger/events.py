"""Writing product events (ingest API and widget). Idempotent by `event_id`: a retried batch
stores nothing twice, and a name the checklist does not know is stored with known=False."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.ledger.models import EndUser, OnboardingEvent, Organization, utcnow

JISO_EVENT_PREFIX = "jiso."  # names jiso records itself (bot.nudges); never sent by a product or the widget


@dataclass(frozen=True)
class NewEvent:
    event_id: str
    user_id: str
    org_id: str | None
    name: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class IngestResult:
    accepted: int = 0  # newly stored
    duplicates: int = 0  # event_id seen before (or twice in this batch)
    unknown: list[str] = field(default_factory=list)  # stored names the checklist does not name

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "unknown_names": sorted(set(self.unknown))}


def _ensure_people(session: Session, events: Sequence[NewEvent]) -> None:
    """Create missing organizations and users in bulk (first sight creates them)."""
    org_ids = {event.org_id for event in events if event.org_id}
    if org_ids:
        known = set(session.execute(select(Organization.id).where(Organization.id.in_(org_ids))).scalars())
        _insert_missing(session, [{"id": org_id} for org_id in sorted(org_ids - known)], Organization)
    users = {event.user_id: event.org_id for event in reversed(events)}  # the first event's org wins
    known = set(session.execute(select(EndUser.id).where(EndUser.id.in_(users))).scalars())
    _insert_missing(session, [{"id": user_id, "org_id": users[user_id]} for user_id in sorted(set(users) - known)], EndUser)


def _insert_missing(session: Session, rows: list[dict[str, Any]], model: type) -> None:
    if not rows:
        return
    session.add_all([model(**row) for row in rows])
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # a concurrent request created some of them: add the rest singly
        for row in rows:
            session.add(model(**row))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()


def record_events(*, session: Session, events: Iterable[NewEvent], known_names: frozenset[str]) -> IngestResult:
    events = list(events)
    result = IngestResult()
    if not events:
        return result
    _ensure_people(session, events)
    batch: dict[str, NewEvent] = {}
    for event in events:
        if event.event_id in batch:
            result.duplicates += 1
        else:
            batch[event.event_id] = event
    stored = set(session.execute(select(OnboardingEvent.event_id).where(OnboardingEvent.event_id.in_(batch))).scalars())
    result.duplicates += len(stored)
    fresh = [event for event_id, event in batch.items() if event_id not in stored]
    now = utcnow()
    # In user order: each row's trigger locks its user's dirty mark (migration 0009), so two
    # batches naming the same users take the locks in one order and never deadlock.
    rows = [
        OnboardingEvent(event_id=e.event_id, user_id=e.user_id, org_id=e.org_id, name=e.name, occurred_at=e.occurred_at, properties=e.properties, known=e.name in known_names, received_at=now)
        for e in sorted(fresh, key=lambda e: (e.user_id, e.event_id))
    ]
    session.add_all(rows)
    try:
        session.commit()
        result.accepted = len(rows)
    except IntegrityError:
        session.rollback()  # a concurrent delivery of the same events: keep whichever came first
        for row in rows:
            session.add(OnboardingEvent(**row.model_dump(exclude={"id"})))
            try:
                session.commit()
                result.accepted += 1
            except IntegrityError:
                session.rollback()
                result.duplicates += 1
    result.unknown = [e.name for e in fresh if e.name not in known_names]
    return result
