"""Product events: the customer's backend (ingest key) and the signed-in user's widget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool

from api.auth import IngestDep
from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.verified_user import NOT_VERIFIED, VerifiedUser, verified
from bot.ledger.events import JISO_EVENT_PREFIX, NewEvent, record_events
from bot.ledger.models import utcnow

router = APIRouter(tags=["events"])
MAX_BATCH = 1000
MAX_FUTURE = timedelta(hours=24)  # clock skew we tolerate; later is a bad timestamp
EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)


EVENT_EXAMPLE = {"event_id": "evt_01J9Z8K2", "user_id": "u_123", "org_id": "acme", "name": "member.invited", "occurred_at": "2026-11-30T09:15:00+09:00", "properties": {"invited": 3}}


class EventIn(BaseModel):
    """One thing a user did in your product, sent by your backend with an `ingest` key."""

    model_config = ConfigDict(extra="forbid", title="Event", json_schema_extra={"examples": [EVENT_EXAMPLE]})
    event_id: str = Field(min_length=1, max_length=255, description="Your unique id for the event: a resend with the same id is counted once (`duplicates`).")
    user_id: str = Field(min_length=1, max_length=128, description="The user in your product, as the widget's data-user-id names them.")
    org_id: str | None = Field(default=None, min_length=1, max_length=128, description="Their organization; optional with a key limited to one organization (it is filled in).")
    name: str = Field(
        min_length=1, max_length=255, description="What happened, e.g. member.invited: the names in knowledge/onboarding.yml complete steps; others are stored and listed in unknown_names."
    )
    occurred_at: AwareDatetime = Field(description="When, in ISO 8601 with a UTC offset (a time without one is ambiguous: 422); at most 24 hours ahead, not before 2000.")
    properties: dict[str, Any] = Field(default_factory=dict, description="Anything else about the event, kept as JSON.")

    @field_validator("occurred_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if value > utcnow() + MAX_FUTURE:
            raise ValueError("occurred_at is more than 24 hours in the future")
        if value < EARLIEST:
            raise ValueError("occurred_at is before 2000-01-01")
        return value.astimezone(timezone.utc)

    @field_validator("name")
    @classmethod
    def _not_jisos_own(cls, value: str) -> str:
        return not_reserved(value)


def not_reserved(name: str) -> str:
    if name.startswith(JISO_EVENT_PREFIX):
        raise ValueError(f"event names starting with '{JISO_EVENT_PREFIX}' are recorded by jiso itself (nudges)")
    return name


_batch = TypeAdapter(list[EventIn])


class IngestOut(BaseModel):
    accepted: int = Field(description="Events newly stored.")
    duplicates: int = Field(description="Events whose event_id was stored before, or came twice in this batch.")
    unknown_names: list[str] = Field(description="Stored names that no step of the onboarding checklist names.")


# The body is read by hand (one object or an array, the batch size checked before validation), so
# its schema is given to OpenAPI here rather than taken from a parameter.
_event_schema = EventIn.model_json_schema()
EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_event_schema, {"type": "array", "items": _event_schema, "maxItems": MAX_BATCH, "title": "Events"}]},
                "examples": {"one event": {"value": EVENT_EXAMPLE}, "a batch": {"value": [EVENT_EXAMPLE, {**EVENT_EXAMPLE, "event_id": "evt_01J9Z8K3", "name": "project.created", "properties": {}}]}},
            }
        },
    }
}


@router.post("/events", response_model=IngestOut, openapi_extra=EVENTS_BODY)
async def ingest_events(request: Request, principal: IngestDep, session: SessionDep, checklist: ChecklistDep) -> dict:
    """One event (an object) or a batch (an array). Idempotent by event_id; unknown names are
    stored and listed in the response."""
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(status_code=422, detail="the body must be JSON: one event object or an array of them") from None
    single = isinstance(payload, dict)
    if isinstance(payload, list) and len(payload) > MAX_BATCH:
        raise HTTPException(status_code=413, detail=f"at most {MAX_BATCH} events per request")
    try:
        events = [EventIn.model_validate(payload)] if single else _batch.validate_python(payload)
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_context=False)) from None
    for event in events:
        if principal.org_id is not None and event.org_id not in (None, principal.org_id):
            raise HTTPException(status_code=403, detail=f"event {event.event_id}: this key may only send events of organization {principal.org_id}")
    rows = [NewEvent(e.event_id, e.user_id, e.org_id or principal.org_id, e.name, e.occurred_at, e.properties) for e in events]
    result = await run_in_threadpool(lambda: record_events(session=session, events=rows, known_names=checklist.event_names))
    return result.to_json()


class WidgetEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: VerifiedUser
    name: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-]+$")
    event_id: str = Field(min_length=1, max_length=100)

    @field_validator("name")
    @classmethod
    def _not_jisos_own(cls, value: str) -> str:
        return not_reserved(value)


@router.post("/widget/events", responses=NOT_VERIFIED)
def widget_event(body: WidgetEventIn, session: SessionDep, settings: SettingsDep, checklist: ChecklistDep) -> dict:
    """`jiso.track(name)` from the widget: a verified user's own event, timed by the server."""
    user = verified(settings, body.user)
    # Namespaced by user, so one visitor can never occupy another's event id.
    event = NewEvent(f"widget:{user.id}:{body.event_id}", user.id, user.org_id, body.name, utcnow())
    return record_events(session=session, events=[event], known_names=checklist.event_names).to_json()
