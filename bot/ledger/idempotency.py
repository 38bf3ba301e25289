"""Idempotency keys: the first response to a keyed write request, replayed to its retries.

A key is reserved (a row with status 0) before the work starts, so two concurrent deliveries of
the same request cannot both do the work: the unique (scope, key) constraint lets one through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import IdempotentResponse

IN_PROGRESS = 0


@dataclass(frozen=True)
class Stored:
    status_code: int  # IN_PROGRESS while the first request is still being handled
    body: dict[str, Any]
    same_request: bool


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def reserve(*, session: Session, scope: str, key: str, payload_hash: str) -> Stored | None:
    """Claim `key` for this request. None: claimed, do the work. Otherwise what is stored under it."""
    session.add(IdempotentResponse(scope=scope, key=key, request_hash=payload_hash, status_code=IN_PROGRESS, body={}))
    try:
        session.commit()
        return None
    except IntegrityError:
        session.rollback()
    row = _find(session, scope, key)
    if row is None:  # released between our insert and our read: claim it again
        return reserve(session=session, scope=scope, key=key, payload_hash=payload_hash)
    return Stored(row.status_code, row.body, row.request_hash == payload_hash)


def complete(*, session: Session, scope: str, key: str, status_code: int, body: dict[str, Any]) -> None:
    row = _find(session, scope, key)
    if row is None:
        return
    row.status_code = status_code
    row.body = body
    session.add(row)
    session.commit()


def release(*, session: Session, scope: str, key: str) -> None:
    """Forget a reservation whose request failed, so that a retry does the work."""
    session.rollback()
    row = _find(session, scope, key)
    if row is not None and row.status_code == IN_PROGRESS:
        session.delete(row)
        session.commit()


def _find(session: Session, scope: str, key: str) -> IdempotentResponse | None:
    return session.exec(select(IdempotentResponse).where(IdempotentResponse.scope == scope, IdempotentResponse.key == key)).first()
