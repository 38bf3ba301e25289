"""What the widget may use on this server, asked once per page, so that it never calls a route
that has nothing to give (a 404 would show up in the host page's console), and how it looks:
the operator's branding (JISO_WIDGET_*), which a page's data-* attributes override."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.branding import readable_on
from api.deps import ChecklistDep, OptionalEngineDep, SessionDep, SettingsDep
from bot.ledger.models import utcnow
from bot.starter_questions import popular_questions

router = APIRouter(tags=["web chat"])
POPULAR_TTL_SECONDS = 300.0  # every page load asks: the ranking is computed at most this often per locale


class WidgetFeatures(BaseModel):
    onboarding_progress: bool  # the "Your setup" checklist: there is a checklist and verified users
    events: bool  # window.jiso.track(name): verified users
    nudges: bool  # next-step nudges: verified users and a checklist with required steps


class WidgetBranding(BaseModel):
    accent: str  # background of the launcher, the header, the visitor's messages and Send
    accent_text: str  # text on the accent, at least 4.5:1 against it (WCAG AA)
    logo_url: str | None
    position: Literal["right", "left"]
    launcher_label: str | None  # None: the widget's own words ("Ask a question")
    welcome: str | None  # None: the widget's own first message


class WidgetConfig(BaseModel):
    features: WidgetFeatures
    verified_users: bool  # JISO_IDENTITY_SECRET is set
    max_question_chars: int
    branding: WidgetBranding
    starter_questions: list[str]  # configured for the locale, else its most answered FAQ entries
    starter_source: Literal["configured", "popular"]


class _PopularCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, list[str]]] = {}

    def get(self, locale: str, compute: Callable[[], list[str]]) -> list[str]:
        with self._lock:
            kept = self._kept.get(locale)
        if kept is not None and time.monotonic() - kept[0] < POPULAR_TTL_SECONDS:
            return kept[1]
        questions = compute()
        with self._lock:
            self._kept[locale] = (time.monotonic(), questions)
        return questions


def _popular_cache(request: Request) -> _PopularCache:
    state = request.app.state
    if not hasattr(state, "widget_popular_cache"):  # one per app, made on first use
        state.widget_popular_cache = _PopularCache()
    return state.widget_popular_cache


@router.get("/widget/config", response_model=WidgetConfig)
def widget_config(
    request: Request,
    response: Response,
    settings: SettingsDep,
    checklist: ChecklistDep,
    session: SessionDep,
    engine: OptionalEngineDep,
    locale: str = Query(default="en", pattern="^(en|ja)$", description="The widget's locale: its texts and starter questions."),
) -> WidgetConfig:
    verified = bool(settings.identity_secret)
    configured = settings.widget_starter_questions.get(locale, [])
    entries = engine.index.entries if engine is not None else []
    starters = configured or _popular_cache(request).get(locale, lambda: popular_questions(session, entries, locale, utcnow(), settings.widget_popular_questions))
    response.headers["Cache-Control"] = "public, max-age=60"
    return WidgetConfig(
        features=WidgetFeatures(onboarding_progress=verified and bool(checklist.steps), events=verified, nudges=verified and bool(checklist.required)),
        verified_users=verified,
        max_question_chars=settings.max_question_chars,
        branding=WidgetBranding(
            accent=settings.widget_accent,
            accent_text=settings.widget_accent_text or readable_on(settings.widget_accent),
            logo_url=settings.widget_logo_url or None,
            position=settings.widget_position,
            launcher_label=settings.widget_launcher_label.get(locale),
            welcome=settings.widget_welcome.get(locale),
        ),
        starter_questions=starters,
        starter_source="configured" if configured else "popular",
    )
