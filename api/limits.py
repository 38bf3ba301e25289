"""Request limits of the chat API: body size (413) and rate limits per visitor and per IP (429).

Rate limits use the `limits` package's moving windows, in memory (exact for one process) or in
Redis (`JISO_RATE_LIMIT_STORAGE=redis://…`: shared by every instance behind a load balancer).
If the storage cannot be reached, requests are let through and a warning is logged: a broken
limiter must not take the chat down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import limits
from fastapi import HTTPException
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class RateLimits:
    def __init__(self, per_visitor: str, per_ip: str, storage: str = "memory://") -> None:
        if not storage.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError(f"JISO_RATE_LIMIT_STORAGE={storage!r}: use memory:// or redis://host:port/db")
        try:
            backend = storage_from_string(storage, key_prefix="jiso", wrap_exceptions=True)
        except ConfigurationError as error:
            raise ValueError(f"JISO_RATE_LIMIT_STORAGE={storage!r}: {error}") from error
        self._limiter = MovingWindowRateLimiter(backend)
        self.per_visitor = limits.parse(per_visitor)
        self.per_ip = limits.parse(per_ip)
        self.storage = storage
        if not backend.check():
            log.warning("rate-limit storage %s is not reachable: requests are not limited until it is", storage)

    def check_ip(self, ip: str) -> None:
        self._hit(self.per_ip, "ip", ip, "requests from your address")

    def check_visitor(self, visitor: str) -> None:
        self._hit(self.per_visitor, "visitor", visitor, "messages")

    def _hit(self, item: limits.RateLimitItem, kind: str, key: str, what: str) -> None:
        try:
            if self._limiter.hit(item, kind, key):
                return
            reset = self._limiter.get_window_stats(item, kind, key).reset_time
        except StorageError as error:
            log.warning("rate-limit storage %s failed, request let through: %s", self.storage, error.storage_error)
            return
        retry_after = max(1, math.ceil(reset - time.time()))
        raise HTTPException(
            status_code=429,
            detail=f"too many {what} (limit {item}); try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


class BodySizeLimit:
    """Refuses request bodies over the limit with 413, on every route, whether or not
    Content-Length is sent: the body is counted while it streams in (at most limit + 1 bytes are
    held), then replayed to the app. Paths under `large_prefixes` (event ingestion, Slack) get
    `large_max_bytes` instead of `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, large_max_bytes: int, large_prefixes: Sequence[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.large_max_bytes = large_max_bytes
        self.large_prefixes = tuple(large_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large_max_bytes if scope["path"].startswith(self.large_prefixes) else self.max_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = f'{{"detail":"request body too large: at most {limit} bytes"}}'.encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app a body already read (once), then the connection's own events."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
