"""A local stand-in for Slack's Web API and response URLs, in its own thread on a free port.

Like slack-bolt's own test suite (tests/mock_web_api_server), it records every call and answers
`{"ok": true, ...}` with plausible payloads, so the code under test runs its real HTTP client.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response:<id>" for a response_url
    http_method: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    response: dict[str, Any] | None = None  # what the fake answered


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.rate_limited_once: set[str] = set()  # methods whose first call answers 429
        self.errors: dict[str, str] = {}  # method → Slack error code answered with ok: false
        self.socket_mode_url = ""  # what apps.connections.open answers (Socket Mode)
        self.held_methods: set[str] = set()  # their calls are neither answered nor recorded until released
        self.held_calls = 0
        self.release_held = threading.Event()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str) -> str:
        return f"{self.base_url}/response/{name}"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls_to(self, method: str, *, ok_only: bool = True) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method and (call.status == 200 or not ok_only)]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Poll until `condition()` is truthy (background work is asynchronous); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"gave up waiting; calls so far: {[(c.method, c.status) for c in self.calls]}")

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in self.errors:
            return {"ok": False, "error": self.errors[method]}
        ts = f"1700000000.{next(self._ts):06d}"
        channel = body.get("channel", "C1")
        if method == "auth.test":
            return {"ok": True, "url": "https://jiso-test.slack.com/", "team": "Test", "user": "jiso", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_mode_url}
        if method == "chat.postMessage":
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": body.get("text"), "ts": ts, "bot_id": BOT_ID}}
        if method == "chat.update":
            return {"ok": True, "channel": channel, "ts": body.get("ts"), "text": body.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "chat.getPermalink":
            return {"ok": True, "channel": channel, "permalink": f"https://jiso-test.slack.com/archives/{channel}/p{str(body.get('message_ts', '')).replace('.', '')}"}
        return {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                url = urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    body = json.loads(raw or "{}")
                else:
                    body = {key: values[0] for key, values in parse_qs(raw or url.query).items()}
                if url.path.startswith("/response/"):
                    method = "response:" + url.path.rsplit("/", 1)[1]
                else:
                    method = url.path.rsplit("/", 1)[-1]
                if method in fake.held_methods:  # a caller that dies while waiting for Slack
                    with fake._lock:
                        fake.held_calls += 1
                    fake.release_held.wait(timeout=60)
                    self.close_connection = True
                    return
                with fake._lock:
                    limited = method in fake.rate_limited_once and not any(c.method == method for c in fake.calls)
                    if limited:
                        answer: dict[str, Any] | None = {"ok": False, "error": "ratelimited"}
                    else:
                        answer = None if method.startswith("response:") else fake._answer(method, body)
                    fake.calls.append(Call(method, self.command, 429 if limited else 200, body, dict(self.headers.items()), answer))
                self._send(429 if limited else 200, answer, {"Retry-After": "1"} if limited else None)

            def _send(self, status: int, payload: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
                data = b"ok" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if payload is None else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler
