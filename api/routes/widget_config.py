"""What the widget may use on this server, asked once, so that it never calls a route that has
nothing to give (a 404 would show up in the host page's console)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ChecklistDep, SettingsDep

router = APIRouter(tags=["web chat"])


class WidgetFeatures(BaseModel):
    onboarding_progress: bool  # the "Your setup" checklist: there is a checklist and verified users
    events: bool  # window.jiso.track(name): verified users
    nudges: bool  # next-step nudges: verified users and a checklist with required steps


class WidgetConfig(BaseModel):
    features: WidgetFeatures
    verified_users: bool  # JISO_IDENTITY_SECRET is set
    max_question_chars: int


@router.get("/widget/config", response_model=WidgetConfig)
def widget_config(settings: SettingsDep, checklist: ChecklistDep) -> WidgetConfig:
    verified = bool(settings.identity_secret)
    return WidgetConfig(
        features=WidgetFeatures(onboarding_progress=verified and bool(checklist.steps), events=verified, nudges=verified and bool(checklist.required)),
        verified_users=verified,
        max_question_chars=settings.max_question_chars,
    )
