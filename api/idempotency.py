"""`Idempotency-Key` for write routes: a retried request gets the first response, and no second record.

Same key with a different body → 422; same key while the first request is still running → 409.
Keys are scoped to the method and path, so one key cannot collide across conversations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import Session

from bot.ledger import idempotency

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, description="Retries with the same key return the first response and never write twice."),
]
REPLAYED_HEADER = "Idempotent-Replayed"


def run_idempotent(*, session: Session, request: Request, key: str | None, payload: BaseModel | None, action: Callable[[], tuple[int, dict[str, Any]]]) -> JSONResponse:
    """Run `action` (→ status, JSON body) once per key; replay its response to retries."""
    if key is None:
        status, body = action()
        return JSONResponse(body, status_code=status)
    scope = f"{request.method} {request.url.path}"
    payload_hash = idempotency.request_hash(payload.model_dump(mode="json") if payload is not None else None)
    stored = idempotency.reserve(session=session, scope=scope, key=key, payload_hash=payload_hash)
    if stored is not None:
        if not stored.same_request:
            raise HTTPException(422, detail=f"Idempotency-Key '{key}' was already used for a different request body; use a new key for a new request")
        if stored.status_code == idempotency.IN_PROGRESS:
            raise HTTPException(409, detail=f"a request with Idempotency-Key '{key}' is still being handled; retry shortly", headers={"Retry-After": "1"})
        return JSONResponse(stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"})
    try:
        status, body = action()
    except BaseException:
        idempotency.release(session=session, scope=scope, key=key)
        raise
    idempotency.complete(session=session, scope=scope, key=key, status_code=status, body=body)
    return JSONResponse(body, status_code=status)
