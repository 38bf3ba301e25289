"""`jiso ask` through the server `jiso serve` runs on JISO_HOST:JISO_PORT, when it serves the
same index build: it has the models loaded, so the answer takes milliseconds, not the seconds a
fresh process needs to load them."""

from __future__ import annotations

from typing import Any

import httpx

from api.settings import Settings
from indexer.store import current_build

CONNECT_SECONDS = 0.5  # nothing listening answers at once; a busy machine may take a moment


def server_url(settings: Settings) -> str:
    """Where this machine reaches the server: a wildcard address is reached on loopback."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(settings.host, settings.host)
    return f"http://{f'[{host}]' if ':' in host else host}:{settings.port}"


def ask_running_server(settings: Settings, question: str, locale: str | None) -> dict[str, Any] | None:
    """The server's answer (`POST /api/v1/ask`), or None: no server, another index build in
    service there (its `/health` names the build), or a refusal (e.g. a question over its limit)."""
    build = current_build(settings.index_dir)
    if build is None:
        return None
    try:
        with httpx.Client(base_url=server_url(settings), timeout=httpx.Timeout(60.0, connect=CONNECT_SECONDS)) as client:
            if client.get("/health").json().get("index") != build.name:
                return None
            response = client.post("/api/v1/ask", json={"question": question, "locale": locale})
            return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):  # not listening, not jiso, not JSON
        return None
