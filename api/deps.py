"""Dependencies every route names; they read what the lifespan put in app.state.

Those that only read app.state are `async`: FastAPI runs a plain `def` dependency in the
threadpool, one hop (and a wait for the GIL under load) per dependency per request. Those that
may block (the rate-limit storage can be Redis, a session's close a PostgreSQL round trip) stay
plain functions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from api.limits import RateLimits
from api.settings import Settings
from bot.engine import Engine
from bot.escalation import Dispatcher
from bot.onboarding import Checklist


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    engine = request.app.state.engine
    if engine is None:
        raise HTTPException(status_code=503, detail="the knowledge index is not built yet: run `jiso index`")
    return engine


async def get_engine_if_built(request: Request) -> Engine | None:
    """For the conversation API: without an index every question is offered a person instead."""
    return request.app.state.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.db) as session:
        yield session


async def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


async def get_rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


def require_question_length(text: str, settings: Settings) -> None:
    """One rule for every route a user's question comes in by (JISO_MAX_QUESTION_CHARS)."""
    if len(text) > settings.max_question_chars:
        raise HTTPException(422, detail=f"the question is too long: {len(text)} characters, at most {settings.max_question_chars}")


def limit_by_ip(request: Request, rate_limits: Annotated[RateLimits, Depends(get_rate_limits)]) -> None:
    rate_limits.check_ip(request.client.host if request.client else "unknown")


SessionDep = Annotated[Session, Depends(get_session)]
OptionalEngineDep = Annotated[Engine | None, Depends(get_engine_if_built)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]


async def get_checklist(request: Request) -> Checklist:
    return request.app.state.checklist


ChecklistDep = Annotated[Checklist, Depends(get_checklist)]
