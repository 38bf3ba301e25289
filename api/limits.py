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
    """Refuses request bodies over `max_bytes` with 413, whether or not Content-Length is sent.

    The body is read (at most max_bytes + 1) before the app sees it, then replayed.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, prefixes: Sequence[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = f'{{"detail":"request body too large: at most {self.max_bytes} bytes"}}'.encode()
        await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
