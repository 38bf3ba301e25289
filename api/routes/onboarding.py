"""The onboarding checklist, and one verified user's progress on it (for the widget)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from api.deps import ChecklistDep, SessionDep, SettingsDep
from bot.identity import verify_identity
from bot.ledger.models import utcnow
from bot.reports.queries import user_steps_done

router = APIRouter(tags=["onboarding"])


@router.get("/onboarding/checklist")
def checklist_steps(checklist: ChecklistDep) -> dict:
    return {"version": checklist.version, "steps": [step.to_json() for step in checklist.steps]}


@router.get("/onboarding/progress")
def progress(
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    user_id: str = Query(min_length=1, max_length=128),
    org_id: str = Query(min_length=1, max_length=128),
    hash: str = Query(min_length=1, max_length=128),
    locale: str = Query(default="en", pattern="^(en|ja)$"),
) -> dict:
    if not settings.identity_secret:
        raise HTTPException(status_code=503, detail="identity verification is not configured (JISO_IDENTITY_SECRET)")
    if not verify_identity(settings.identity_secret, user_id, org_id, hash):
        raise HTTPException(status_code=403, detail="the user's identity hash does not verify")
    done = user_steps_done(session, checklist, user_id, utcnow(), settings.assume_resolved_after)
    steps = [{"id": step.id, "title": step.title(locale), "done": flag, "required": step.required} for step, flag in zip(checklist.steps, done)]
    return {"steps": steps, "completed": sum(done), "total": len(steps)}
