"""Dependencies every route names; they read what the lifespan put in app.state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from api.settings import Settings
from bot.engine import Engine
from bot.onboarding import Checklist


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    engine = request.app.state.engine
    if engine is None:
        raise HTTPException(status_code=503, detail="the knowledge index is not built yet: run `jiso index`")
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.db) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_checklist(request: Request) -> Checklist:
    return request.app.state.checklist


ChecklistDep = Annotated[Checklist, Depends(get_checklist)]
