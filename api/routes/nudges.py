"""Next-step nudges for the widget's verified user (see bot.nudges): the server decides whether
one is due, so "once per step per day" holds across devices, tabs and server instances."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.idempotency import IdempotencyKey
from api.verified_user import NOT_VERIFIED, VerifiedUser, verified
from bot.ledger.models import utcnow
from bot.nudges import next_nudge, record_nudge

router = APIRouter(tags=["web chat"])


class NudgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: VerifiedUser
    locale: Literal["en", "ja"] = "en"


class NudgeActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: VerifiedUser
    step: str = Field(min_length=1, max_length=255)
    entry_id: str | None = Field(default=None, max_length=255)


@router.post("/widget/nudge", responses=NOT_VERIFIED)
def show_nudge(request: Request, body: NudgeIn, session: SessionDep, settings: SettingsDep, checklist: ChecklistDep, idempotency_key: IdempotencyKey = None) -> dict:
    """The nudge to show now, recorded as shown; `{"nudge": null}` when every required step is
    done, no entry helps with the next one, or it was shown today already. A retry with the
    same Idempotency-Key gets the same nudge."""
    user = verified(settings, body.user)
    engine = request.app.state.engine
    now = utcnow()
    nudge = next_nudge(session, checklist, engine.index.entries if engine is not None else [], user.id, body.locale, now, settings.assume_resolved_after)
    request_id = idempotency_key or uuid.uuid4().hex
    if nudge is None or not record_nudge(session, user_id=user.id, org_id=user.org_id, step_id=nudge.step.id, entry_id=nudge.help.id, action="shown", now=now, request_id=request_id):
        return {"nudge": None}
    return {
        "nudge": {
            "step": nudge.step.id,
            "title": nudge.step.title(body.locale),
            "required_done": nudge.required_done,
            "required_total": nudge.required_total,
            "help": nudge.help.to_json(str(request.base_url).rstrip("/")),
        }
    }


@router.post("/widget/nudge/{action}", responses=NOT_VERIFIED)
def act_on_nudge(
    action: Annotated[Literal["opened", "dismissed"], Path()],
    body: NudgeActionIn,
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    idempotency_key: IdempotencyKey = None,
) -> dict:
    """The user opened the nudge's help entry, or dismissed it (recorded once per step per day)."""
    user = verified(settings, body.user)
    if body.step not in checklist.ids:
        raise HTTPException(status_code=422, detail=f"'{body.step}' is not a step of the onboarding checklist")
    record_nudge(session, user_id=user.id, org_id=user.org_id, step_id=body.step, entry_id=body.entry_id, action=action, now=utcnow(), request_id=idempotency_key or uuid.uuid4().hex)
    return {"recorded": action}
