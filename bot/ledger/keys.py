"""Writing API keys (only their hashes; `bot.apikeys` makes and checks the secrets)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.ledger.models import ApiKey, utcnow
from bot.ledger.writes import NotFound


def add_api_key(*, session: Session, prefix: str, secret_hash: str, role: str, org_id: str | None, name: str | None) -> ApiKey:
    key = ApiKey(prefix=prefix, secret_hash=secret_hash, role=role, org_id=org_id, name=name)
    session.add(key)
    session.commit()
    session.refresh(key)
    return key


def revoke_api_key(*, session: Session, key_id: str, now: datetime | None = None) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        session.add(key)
        session.commit()
        session.refresh(key)
    return key


def list_api_keys(*, session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
