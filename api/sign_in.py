"""Dashboard sign-in: a manager key is exchanged once for a signed, expiring session cookie, so
the key is never kept in the browser (the cookie is HttpOnly: no script can read it).

The cookie holds `<subject>.<expires>.<signature>`: the subject is the API key's id (`admin` for
JISO_ADMIN_API_KEY), the signature hex HMAC-SHA256 with a key derived from JISO_LINK_SECRET (the
transcript links' secret; a separate key, so neither token can stand in for the other). Every
request looks the key up again: revoking it, or changing JISO_ADMIN_API_KEY, ends its sessions.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fastapi import Request
from sqlmodel import Session

from bot.apikeys import Principal, hash_key
from bot.ledger.models import ApiKey, utcnow

COOKIE = "jiso_session"
ADMIN = "admin"
SESSION_ENDED = "your dashboard session has expired or its key was revoked: sign in again"


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    expires_at: datetime


@dataclass(frozen=True)
class SignIns:
    secret: bytes
    valid_for: timedelta
    admin_key: str

    def token(self, principal: Principal, now: datetime | None = None) -> tuple[str, datetime]:
        """A session for `principal` and when it ends."""
        expires = int(((now or utcnow()) + self.valid_for).timestamp())
        subject = principal.key_id or ADMIN
        return f"{subject}.{expires}.{self._signature(subject, expires)}", datetime.fromtimestamp(expires, timezone.utc)

    def read(self, session: Session, token: str, now: datetime | None = None) -> SignedIn | None:
        """Who a session belongs to, until when; None when it is tampered with, expired, or its key is revoked."""
        subject, _, rest = token.partition(".")
        expires, _, signature = rest.partition(".")
        if not subject or not expires.isdigit() or len(expires) > 12 or not hmac.compare_digest(self._signature(subject, int(expires)), signature.lower()):
            return None
        if int(expires) <= (now or utcnow()).timestamp():
            return None
        ends = datetime.fromtimestamp(int(expires), timezone.utc)
        if subject == ADMIN:
            return SignedIn(Principal(role="admin", org_id=None, key_id=None), ends) if self.admin_key else None
        row = session.get(ApiKey, subject)
        if row is None or row.revoked_at is not None:
            return None
        return SignedIn(Principal(role=row.role, org_id=row.org_id, key_id=row.id), ends)

    def _signature(self, subject: str, expires: int) -> str:
        # The admin key's hash is signed too: a new JISO_ADMIN_API_KEY ends the old key's sessions.
        admin = hash_key(self.admin_key) if subject == ADMIN else ""
        return hmac.new(self.secret, f"{subject}.{expires}.{admin}".encode(), hashlib.sha256).hexdigest()


def sign_ins(request: Request) -> SignIns:
    settings = request.app.state.settings
    key = hmac.new(request.app.state.transcript_links.secret, b"jiso dashboard session", hashlib.sha256).digest()
    return SignIns(key, settings.session_valid_for, settings.admin_api_key)


def is_https(request: Request) -> bool:
    """The cookie is Secure when the dashboard is reached over HTTPS (directly, or behind a proxy
    trusted by JISO_FORWARDED_ALLOW_IPS), or JISO_PUBLIC_URL says so."""
    return request.url.scheme == "https" or request.app.state.settings.public_url.startswith("https://")
