"""The web application: create_app(settings) builds everything in the lifespan, nothing at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from api import runtime
from api.idempotency import prune_periodically
from api.index_reload import watch_index
from api.limits import BodySizeLimit, RateLimits
from api.report_upkeep import keep_reports_current
from api.request_guard import TextGuard, validation_error_handler
from api.routes import ask, conversations, dashboard, drafts, events, handover, health, nudges, onboarding, onboarding_reports, pages, reports, session, slack, widget_config
from api.settings import Settings, check_handover_destinations
from api.transcript_links import transcript_links
from api.weekly_digest import post_weekly
from bot.channels.slack import make_web_client
from bot.ledger.db import make_engine, upgrade
from bot.onboarding import Checklist, ChecklistInvalid, load_checklist
from indexer.store import IndexUnavailable

log = logging.getLogger(__name__)
LARGE_BODY_PREFIXES = ("/api/v1/events", "/slack/events")  # these get JISO_MAX_EVENTS_BODY_BYTES


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_handover_destinations(settings)  # refuse to start rather than lose hand-overs

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.embedders = runtime.embedders(settings)
        app.state.rejected_builds = set()
        try:
            app.state.engine = await run_in_threadpool(runtime.load_engine, settings, app.state.embedders)
            app.state.index_problem = app.state.engine.index.fallback_reason
        except IndexUnavailable as error:
            log.error("no usable index, every question will get a hand-over: %s", error)
            app.state.engine = None
            app.state.index_problem = f"no usable index: {error}"
        await run_in_threadpool(upgrade, settings.database_url)  # idempotent; creates an empty database
        app.state.db = make_engine(settings.database_url)
        app.state.transcript_links = transcript_links(settings)
        # Before the dispatcher starts its job workers: a refused setting must not leave them running.
        app.state.rate_limits = RateLimits(settings.rate_limit_per_visitor, settings.rate_limit_per_ip, settings.rate_limit_storage)
        app.state.dispatcher = await run_in_threadpool(runtime.hand_over_dispatcher, settings, app.state.db, app.state.transcript_links)
        try:
            app.state.checklist = load_checklist(settings.knowledge_dir)
        except ChecklistInvalid as error:
            log.error("onboarding checklist refused, progress and funnels are empty until it is fixed: %s", error)
            app.state.checklist = Checklist()
        slack_work = ThreadPoolExecutor(max_workers=8, thread_name_prefix="slack")
        app.state.slack = runtime.slack_app(settings, lambda: app.state.engine, app.state.db, app.state.dispatcher, listener_executor=slack_work)
        if app.state.slack is None:
            log.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to connect it")
        watcher = asyncio.create_task(watch_index(app, settings, settings.index_reload_seconds))
        pruner = asyncio.create_task(prune_periodically(app.state.db, settings.idempotency_retention, settings.job_retention))
        upkeep = asyncio.create_task(keep_reports_current(app.state.db, lambda: app.state.checklist))
        tasks = [watcher, pruner, upkeep]
        if settings.weekly_digest_channels and not settings.slack_bot_token:
            log.error("JISO_WEEKLY_DIGEST_CHANNELS is set but SLACK_BOT_TOKEN is not: the weekly digest is off until the token is set")
        elif settings.weekly_digest_channels:
            client = make_web_client(settings.slack_bot_token, settings.slack_api_url)
            tasks.append(asyncio.create_task(post_weekly(app.state.db, settings, lambda: app.state.checklist, app.state.embedders, client, lambda: app.state.engine)))
        try:
            yield
        finally:
            for task in tasks:  # each loop finishes the step its thread runs, then stops (api/blocking_step.py)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            slack_work.shutdown(wait=True)  # let answers in progress finish and be recorded
            app.state.dispatcher.close()
            app.state.db.dispose()

    app = FastAPI(title="jiso", version="0.1.0", lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(ask.router, prefix="/api/v1")
    app.include_router(conversations.router, prefix="/api/v1")
    app.include_router(widget_config.router, prefix="/api/v1")
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # Outermost last: CORS wraps the body limit, so a 413 still carries CORS headers; the body
    # limit wraps the text guard, so the body the guard reads is bounded.
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(TextGuard)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, large_max_bytes=settings.max_events_body_bytes, large_prefixes=LARGE_BODY_PREFIXES)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Idempotency-Key"],
        expose_headers=["Retry-After", "Idempotent-Replayed"],
        max_age=600,
    )
    if settings.forwarded_allow_ips:
        # Outermost, so the rate limits and the links see the client behind the trusted proxy.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    app.include_router(slack.router)
    app.include_router(events.router, prefix="/api/v1")
    app.include_router(handover.router, prefix="/api/v1")
    app.include_router(drafts.router, prefix="/api/v1")
    app.include_router(onboarding.router, prefix="/api/v1")
    app.include_router(nudges.router, prefix="/api/v1")
    app.include_router(reports.router, prefix="/api/v1")
    app.include_router(session.router, prefix="/api/v1")
    app.include_router(onboarding_reports.router, prefix="/api/v1")
    app.include_router(dashboard.router)
    return app
