"""The web application: create_app(settings) builds everything in the lifespan, nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import runtime
from api.routes import ask, health
from api.settings import Settings
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
        yield

    app = FastAPI(title="jiso", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(ask.router, prefix="/api/v1")
    return app
