"""Idempotency keys: the first response to a keyed write request, replayed to its retries.

A key is reserved (a row with status 0) before the work starts, so two concurrent deliveries of
the same request cannot both do the work: the unique (scope, key) constraint lets one through.
A reservation is a lease: if the server died before finishing, a retry after the lease takes the
key over and does the work again, under a delivery key derived from the idempotency key, so that
a turn or hand-over the dead request already wrote is found instead of written twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import IdempotentResponse, utcnow

IN_PROGRESS = 0


@dataclass(frozen=True)
class Stored:
    status_code: int  # IN_PROGRESS while the first request is still being handled
    body: dict[str, Any]
    same_request: bool


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def delivery_key(scope: str, key: str) -> str:
    """The ledger key of the record a keyed request writes (fits the 255-character columns)."""
    return "idempotency:" + hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()


def reserve(*, session: Session, scope: str, key: str, payload_hash: str, lease: timedelta, now: datetime | None = None) -> Stored | None:
    """Claim `key` for this request. None: claimed, do the work. Otherwise what is stored under it.

    A reservation older than `lease` whose request never finished is taken over (by one retry)."""
    now = now or utcnow()
    session.add(IdempotentResponse(scope=scope, key=key, request_hash=payload_hash, status_code=IN_PROGRESS, body={}, created_at=now))
    try:
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    row = _find(session, scope, key)
    if row is None:  # released between our insert and our read: claim it again
        return reserve(session=session, scope=scope, key=key, payload_hash=payload_hash, lease=lease, now=now)
    same_request = row.request_hash == payload_hash
    if same_request and row.status_code == IN_PROGRESS and row.created_at <= now - lease and _take_over(session, row, now):
        return None
    return Stored(row.status_code, row.body, same_request)


def _take_over(session: Session, row: IdempotentResponse, now: datetime) -> bool:
    """Renew an expired lease; only one of several concurrent retries gets it."""
    renewed = session.execute(
        update(IdempotentResponse)
        .where(IdempotentResponse.id == row.id, IdempotentResponse.status_code == IN_PROGRESS, IdempotentResponse.created_at == row.created_at)
        .values(created_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return renewed.rowcount == 1


def complete(*, session: Session, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
    """Store the response of the request that reserved `key` (one statement: no read first)."""
    session.execute(
        update(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key).values(status_code=status_code, body=body).execution_options(synchronize_session=False)
    )
    session.commit()


def release(*, session: Session, scope: str, key: str) -> None:
    """Forget a reservation whose request failed, so that a retry does the work."""
    session.rollback()
    row = _find(session, scope, key)
    if row is not None and row.status_code == IN_PROGRESS:
        session.delete(row)
        session.commit()


def prune(*, session: Session, older_than: datetime) -> int:
    """Forget keys reserved before `older_than` (retries come within minutes, not days)."""
    pruned = session.execute(delete(IdempotentResponse).where(IdempotentResponse.created_at < older_than).execution_options(synchronize_session=False))
    session.commit()
    return pruned.rowcount


def _find(session: Session, scope: str, key: str) -> IdempotentResponse | None:
    return session.exec(select(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)).first()
