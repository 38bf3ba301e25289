"""The onboarding checklist, and one verified user's progress on it (for the widget)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.verified_user import NOT_VERIFIED, VerifiedQueryUser
from bot.ledger.models import utcnow
from bot.reports.queries import user_steps_done

router = APIRouter(tags=["onboarding"])


@router.get("/onboarding/checklist")
def checklist_steps(checklist: ChecklistDep) -> dict:
    return {"version": checklist.version, "steps": [step.to_json() for step in checklist.steps]}


@router.get("/onboarding/progress", responses=NOT_VERIFIED)
def progress(
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    user: VerifiedQueryUser,
    locale: str = Query(default="en", pattern="^(en|ja)$"),
) -> dict:
    done = user_steps_done(session, checklist, user.id, utcnow(), settings.assume_resolved_after)
    steps = [{"id": step.id, "title": step.title(locale), "done": flag, "required": step.required} for step, flag in zip(checklist.steps, done)]
    return {"steps": steps, "completed": sum(done), "total": len(steps)}
