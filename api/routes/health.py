"""`GET /health`: `ok`, or `degraded` with the reason (no usable index, or a published build was
refused and an older one is in service). `index` is the build in service, `published` the one
CURRENT names, `jobs` the background jobs of every instance: `pending` (due or being worked on)
and `failed` (out of attempts; `jiso jobs` lists them)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from indexer.store import current_build

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict:
    engine = request.app.state.engine
    problem: str | None = request.app.state.index_problem
    published = current_build(request.app.state.settings.index_dir)
    jobs = request.app.state.dispatcher.queue.counts()
    return {
        "status": "ok" if problem is None else "degraded",
        "reason": problem,
        "index": engine.index.name if engine is not None else None,
        "published": published.name if published is not None else None,
        "entries": len(engine.index.entries) if engine is not None else 0,
        "jobs": {status: count for status, count in jobs.items() if status != "done"},
    }
