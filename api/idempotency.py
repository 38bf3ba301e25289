"""`Idempotency-Key` for write routes: a retried request gets the first response, and no second record.

Same key with a different body → 422; same key while the first request is still running → 409.
Keys are scoped to the method and path, so one key cannot collide across conversations. A
reservation is a lease (JISO_IDEMPOTENCY_LEASE_SECONDS): after it, a retry of a request that never
finished (the server died) does the work again, and finds what the dead request already wrote.
Keys older than JISO_IDEMPOTENCY_RETENTION are pruned at start-up and then every hour (and the
jobs done before JISO_JOB_RETENTION).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session

from api.blocking_step import run_blocking_step
from bot import jobs
from bot.ledger import idempotency
from bot.ledger.models import utcnow

log = logging.getLogger(__name__)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255, description="Retries with the same key return the first response and never write twice."),
]
REPLAYED_HEADER = "Idempotent-Replayed"
PRUNE_EVERY_SECONDS = 3600.0

# The work of a keyed request: given the ledger key its record must carry (None without an
# Idempotency-Key), it returns the status and the JSON body.
Action = Callable[[str | None], tuple[int, dict[str, Any]]]


def run_idempotent(*, session: Session, request: Request, key: str | None, payload: BaseModel | None, lease: timedelta, action: Action) -> JSONResponse:
    """Run `action` once per key; replay its response to retries."""
    if key is None:
        status, body = action(None)
        return JSONResponse(body, status_code=status)
    scope = f"{request.method} {request.url.path}"
    payload_hash = idempotency.request_hash(payload.model_dump(mode="json") if payload is not None else None)
    stored = idempotency.reserve(session=session, scope=scope, key=key, payload_hash=payload_hash, lease=lease)
    if stored is not None:
        if not stored.same_request:
            raise HTTPException(422, detail=f"Idempotency-Key '{key}' was already used for a different request body; use a new key for a new request")
        if stored.status_code == idempotency.IN_PROGRESS:
            raise HTTPException(409, detail=f"a request with Idempotency-Key '{key}' is still being handled; retry shortly", headers={"Retry-After": "1"})
        return JSONResponse(stored.body, status_code=stored.status_code, headers={REPLAYED_HEADER: "true"})
    try:
        status, body = action(idempotency.delivery_key(scope, key))
    except BaseException:
        idempotency.release(session=session, scope=scope, key=key)
        raise
    idempotency.complete(session=session, scope=scope, key=key, status_code=status, body=body)
    return JSONResponse(body, status_code=status)


def prune_keys(database: Database, retention: timedelta) -> int:
    with Session(database) as session:
        return idempotency.prune(session=session, older_than=utcnow() - retention)


def prune_done_jobs(database: Database, retention: timedelta) -> int:
    with Session(database) as session:
        return jobs.prune_done(session=session, older_than=utcnow() - retention)


async def prune_periodically(database: Database, retention: timedelta, job_retention: timedelta, interval: float = PRUNE_EVERY_SECONDS) -> None:
    """Keep the key table and the job table small: prune now, then every `interval` seconds."""
    while True:
        for prune, older_than, what in ((prune_keys, retention, "idempotency keys"), (prune_done_jobs, job_retention, "done jobs")):
            try:
                pruned = await run_blocking_step(prune, database, older_than)
                if pruned:
                    log.info("pruned %d %s older than %s", pruned, what, older_than)
            except Exception:  # a failed clean-up must not stop the server; the next one tries again
                log.exception("pruning %s failed", what)
        await asyncio.sleep(interval)
