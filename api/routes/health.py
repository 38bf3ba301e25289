from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict:
    engine = request.app.state.engine
    return {
        "status": "ok" if engine is not None else "degraded",
        "index": engine.index.name if engine is not None else None,
        "entries": len(engine.index.entries) if engine is not None else 0,
    }
