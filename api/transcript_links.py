"""Signed, expiring links to a transcript page (`/conversations/{id}?expires=…&sig=…`).

A hand-over carries such a link for the people who pick it up; the page refuses a link that is
missing, tampered with or expired. The signature is hex HMAC-SHA256 over `<id>.<expires>` with
JISO_LINK_SECRET. Without that setting the server generates a random key once and keeps it in
JISO_LINK_SECRET_FILE (var/link-secret), so `make run` works as it is and links survive a restart;
several instances must share one JISO_LINK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import Depends, Request

from api.settings import Settings
from bot.ledger.models import utcnow

log = logging.getLogger(__name__)
Refusal = Literal["missing", "invalid", "expired"]


@dataclass(frozen=True)
class TranscriptLinks:
    secret: bytes
    valid_for: timedelta
    public_url: str

    def link(self, conversation_id: str, now: datetime | None = None) -> str:
        """Where a person can read a conversation, until the link expires (sent with every hand-over)."""
        return f"{self.public_url.rstrip('/')}{self.path(conversation_id, now)}"

    def path(self, conversation_id: str, now: datetime | None = None) -> str:
        """The link without the server's address, for pages this server serves (the dashboard)."""
        expires = int(((now or utcnow()) + self.valid_for).timestamp())
        query = urlencode({"expires": expires, "sig": self._signature(conversation_id, expires)})
        return f"/conversations/{conversation_id}?{query}"

    def refusal(self, conversation_id: str, expires: str | None, sig: str | None, now: datetime | None = None) -> Refusal | None:
        """None when (`expires`, `sig`) is this server's signature for the conversation, still valid."""
        if not expires or not sig:
            return "missing"
        if not expires.isdigit() or not hmac.compare_digest(self._signature(conversation_id, int(expires)), sig.lower()):
            return "invalid"
        if int(expires) <= (now or utcnow()).timestamp():
            return "expired"
        return None

    def _signature(self, conversation_id: str, expires: int) -> str:
        return hmac.new(self.secret, f"{conversation_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def transcript_links(settings: Settings) -> TranscriptLinks:
    secret = settings.link_secret or _stored_secret(settings.link_secret_file)
    return TranscriptLinks(secret.encode(), settings.link_valid_for, settings.public_url)


def _stored_secret(path: Path) -> str:
    """The generated key in `path`, created (readable by this user only) on the first start."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        secret = ""
    if secret:
        log.info("transcript links are signed with the key in %s (JISO_LINK_SECRET is empty)", path)
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _stored_secret(path)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    log.warning("JISO_LINK_SECRET is empty: generated a key for transcript links in %s (several instances must share one JISO_LINK_SECRET)", path)
    return secret


def get_transcript_links(request: Request) -> TranscriptLinks:
    return request.app.state.transcript_links


TranscriptLinksDep = Annotated[TranscriptLinks, Depends(get_transcript_links)]
