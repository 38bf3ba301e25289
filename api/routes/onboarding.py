"""The onboarding checklist, and one verified user's progress on it (for the widget)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.verified_user import NOT_VERIFIED, VerifiedQueryUser
from bot.ledger.models import utcnow
from bot.nudges import help_entries
from bot.reports.queries import user_steps_done

router = APIRouter(tags=["onboarding"])


@router.get("/onboarding/checklist")
def checklist_steps(checklist: ChecklistDep) -> dict:
    return {"version": checklist.version, "steps": [step.to_json() for step in checklist.steps]}


@router.get("/onboarding/progress", responses=NOT_VERIFIED)
def progress(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    user: VerifiedQueryUser,
    locale: str = Query(default="en", pattern="^(en|ja)$"),
) -> dict:
    done = user_steps_done(session, checklist, user.id, utcnow(), settings.assume_resolved_after)
    engine = request.app.state.engine
    helps = help_entries(session, checklist, engine.index.entries if engine is not None else [], locale)
    base = str(request.base_url).rstrip("/")
    steps = [
        {"id": step.id, "title": step.title(locale), "done": flag, "required": step.required, "help": helps[step.id].to_json(base) if step.id in helps else None}
        for step, flag in zip(checklist.steps, done)
    ]
    required = [flag for step, flag in zip(checklist.steps, done) if step.required]
    return {"steps": steps, "completed": sum(done), "total": len(steps), "required_done": sum(required), "required_total": len(required)}
