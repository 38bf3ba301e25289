"""Serve a new index as soon as `jiso index` publishes it, without a restart.

The lifespan starts `watch_index`: every few seconds it reads the CURRENT pointer (one small
file); when it names another build, the build is loaded and verified off the event loop and
swapped into app.state in one assignment. A build that fails to load is logged and the index in
service stays; `app.state.index_problem` says why, for /health, until a good build is served.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from api import runtime
from api.blocking_step import run_blocking_step
from api.settings import Settings
from indexer.store import IndexUnavailable, current_build

log = logging.getLogger(__name__)


def reload_if_changed(app: FastAPI, settings: Settings) -> bool:
    """Load the published build if it is not the one in service; True when it was swapped in."""
    build = current_build(settings.index_dir)
    engine = app.state.engine
    if build is None or (engine is not None and engine.index.name == build.name):
        return False
    if build.name in app.state.rejected_builds:
        return False
    try:
        app.state.engine = runtime.load_engine(settings, app.state.embedders, build)
    except (IndexUnavailable, OSError, RuntimeError) as error:
        app.state.rejected_builds.add(build.name)
        serving = engine.index.name if engine else "nothing"
        app.state.index_problem = f"index build {build.name} refused ({error}); serving {serving}"
        log.error("index build %s not loaded, still serving %s: %s", build.name, serving, error)
        return False
    app.state.index_problem = None
    log.info("now serving index build %s", app.state.engine.index.name)
    return True


async def watch_index(app: FastAPI, settings: Settings, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_blocking_step(reload_if_changed, app, settings)
        except Exception:  # the watcher must outlive any one bad build
            log.exception("index reload failed")
