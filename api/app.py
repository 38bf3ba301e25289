"""The web application: create_app(settings) builds everything in the lifespan, nothing at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import runtime
from api.routes import ask, health, slack
from api.settings import Settings
from bot.ledger.db import make_engine
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
        app.state.db_engine = make_engine(settings.database_url)
        slack_work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack")
        app.state.slack = runtime.slack_app(settings, lambda: app.state.engine, app.state.db_engine, listener_executor=slack_work)
        if app.state.slack is None:
            log.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to connect it")
        yield
        slack_work.shutdown(wait=True)  # let answers in progress finish and be recorded
        app.state.db_engine.dispose()

    app = FastAPI(title="jiso", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(ask.router, prefix="/api/v1")
    app.include_router(slack.router)
    return app
