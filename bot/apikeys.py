"""API keys: `jiso_<prefix>_<secret>`. The prefix finds the row; only SHA-256 of the whole key
is stored (the secret is 256 random bits, so a slow hash adds nothing), compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from bot.ledger.keys import add_api_key
from bot.ledger.models import ApiKey

ROLES = ("manager", "ingest", "agent", "admin")  # agent: helpdesks and tools that reply to and close hand-overs
KEY_FORMAT = re.compile(r"^jiso_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and the organization the key is limited to (None: all)."""

    role: str
    org_id: str | None
    key_id: str | None  # None for the bootstrap admin key from settings

    def can(self, role: str) -> bool:
        return self.role == "admin" or self.role == role


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(*, session: Session, role: str, org_id: str | None = None, name: str | None = None) -> tuple[ApiKey, str]:
    """Make a key; returns the stored row and the secret, which is shown once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(4)
    key = f"jiso_{prefix}_{secrets.token_urlsafe(32)}"
    row = add_api_key(session=session, prefix=prefix, secret_hash=hash_key(key), role=role, org_id=org_id, name=name)
    return row, key


def verify_key(*, session: Session, presented: str, admin_key: str = "") -> Principal | None:
    """The principal for a presented key, or None (unknown, revoked or malformed)."""
    if admin_key and hmac.compare_digest(presented.encode(), admin_key.encode()):
        return Principal(role="admin", org_id=None, key_id=None)
    match = KEY_FORMAT.match(presented)
    if match is None:
        return None
    digest = hash_key(presented)
    for row in session.exec(select(ApiKey).where(ApiKey.prefix == match.group(1))):
        if row.revoked_at is None and hmac.compare_digest(row.secret_hash, digest):
            return Principal(role=row.role, org_id=row.org_id, key_id=row.id)
    return None
