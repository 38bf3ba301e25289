"""Verified identity: the customer's backend signs `user_id:org_id` with the shared secret."""

from __future__ import annotations

import hashlib
import hmac


def identity_hash(secret: str, user_id: str, org_id: str) -> str:
    return hmac.new(secret.encode(), f"{user_id}:{org_id}".encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str, user_id: str, org_id: str, claimed: str) -> bool:
    """True when `claimed` is the HMAC of `user_id:org_id`; compared in constant time."""
    if not secret or not claimed:
        return False
    return hmac.compare_digest(identity_hash(secret, user_id, org_id), claimed.lower())
