"""What the widget may use on this server, so that it never calls a route that is not there
(a 404 would show up in the host page's console)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import SettingsDep

router = APIRouter(tags=["web chat"])
ONBOARDING_PROGRESS = "/api/v1/onboarding/progress"
WIDGET_EVENTS = "/api/v1/widget/events"


class WidgetFeatures(BaseModel):
    onboarding_progress: bool  # the "Your setup" checklist
    events: bool  # window.jiso.track(name)


class WidgetConfig(BaseModel):
    features: WidgetFeatures
    verified_users: bool  # JISO_IDENTITY_SECRET is set
    max_question_chars: int


@router.get("/widget/config", response_model=WidgetConfig)
def widget_config(request: Request, settings: SettingsDep) -> WidgetConfig:
    paths = {getattr(route, "path", None) for route in request.app.routes}
    return WidgetConfig(
        features=WidgetFeatures(onboarding_progress=ONBOARDING_PROGRESS in paths, events=WIDGET_EVENTS in paths),
        verified_users=bool(settings.identity_secret),
        max_question_chars=settings.max_question_chars,
    )
