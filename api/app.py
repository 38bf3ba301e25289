"""The web application: create_app(settings) builds everything in the lifespan, nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import runtime
from api.routes import ask, dashboard, events, health, onboarding, reports
from api.settings import Settings
from bot.ledger.db import make_engine, upgrade
from bot.onboarding import Checklist, ChecklistInvalid, load_checklist
from indexer.store import IndexUnavailable

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.embedders = runtime.embedders(settings)
        try:
            app.state.engine = await run_in_threadpool(runtime.load_engine, settings, app.state.embedders)
        except IndexUnavailable as error:
            log.error("no usable index, every question will get a hand-over: %s", error)
            app.state.engine = None
        if getattr(app.state, "db", None) is None:
            await run_in_threadpool(upgrade, settings.database_url)
            app.state.db = make_engine(settings.database_url)
        try:
            app.state.checklist = load_checklist(settings.knowledge_dir)
        except ChecklistInvalid as error:
            log.error("onboarding checklist refused, progress and funnels are empty until it is fixed: %s", error)
            app.state.checklist = Checklist()
        yield
        app.state.db.dispose()

    app = FastAPI(title="jiso", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(ask.router, prefix="/api/v1")
    app.include_router(events.router, prefix="/api/v1")
    app.include_router(onboarding.router, prefix="/api/v1")
    app.include_router(reports.router, prefix="/api/v1")
    app.include_router(dashboard.router)
    return app
