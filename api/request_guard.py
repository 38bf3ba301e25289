"""Text the ledger cannot store, refused at the edge the same way on every route and database.

PostgreSQL refuses NUL characters in text and JSON, and no database (nor the language detector)
takes a lone UTF-16 surrogate ("\\ud800" in JSON is valid syntax but not Unicode text). SQLite
would store a NUL, so without this check the same request got 200 on one database and 500 on the
other. `TextGuard` checks every JSON body string (keys included), query parameter and header
before any route runs: a 422 that names the field, or a 400 for a NUL in the path itself.

Error bodies are bounded: `validation_error_handler` keeps at most MAX_ERRORS errors and a short
excerpt of each input, and its JSON is ASCII, so no input can make it crash or balloon.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.limits import replay_body
from bot.ledger.text import UNSTORABLE

MAX_ERRORS = 20
MAX_INPUT_CHARS = 100
MAX_PATH_CHARS = 2048
# Slack's own events are checked by their signature first (api/routes/slack.py), never parsed here.
UNCHECKED_BODIES = ("/slack/events",)


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    character = found.group()
    what = "a NUL character (U+0000)" if character == "\x00" else f"a lone UTF-16 surrogate (U+{ord(character):04X}), which is not Unicode text"
    return f"contains {what} at position {found.start()}; remove it"


def _strings(value: Any, location: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in a JSON value with where it is; an object's keys included."""
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*location, key), key
            yield from _strings(item, (*location, key))


def _first_problem(items: Iterator[tuple[tuple[str | int, ...], str]]) -> dict[str, Any] | None:
    for location, value in items:
        problem = text_problem(value)
        if problem is not None:
            return {"type": "string_unstorable", "loc": list(location), "msg": f"Value {problem}", "input": excerpt(value)}
    return None


def excerpt(value: Any) -> Any:
    """A short, JSON-safe stand-in for an input echoed in an error."""
    if isinstance(value, str):
        return value if len(value) <= MAX_INPUT_CHARS else value[:MAX_INPUT_CHARS] + "…"
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = json.dumps(jsonable_encoder(value), ensure_ascii=True, default=str)
    return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "…"


def bounded_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [{**error, "input": excerpt(error["input"])} if "input" in error else error for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        kept.append({"type": "too_many_errors", "loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors not shown"})
    return kept


def ascii_json(status_code: int, content: Any) -> Response:
    """JSON that any input can be encoded into (lone surrogates become \\ud800 escapes)."""
    body = json.dumps(jsonable_encoder(content), ensure_ascii=True, separators=(",", ":"), default=str)
    return Response(body, status_code=status_code, media_type="application/json")


async def validation_error_handler(_: Request, error: RequestValidationError) -> Response:
    return ascii_json(422, {"detail": bounded_errors(list(error.errors()))})


class TextGuard:
    """Refuses unstorable text in the path (400), headers (400), query (422) and JSON body (422).

    Runs inside the body-size limit, so the body it reads is already bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._url_refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["path"].startswith(UNCHECKED_BODIES):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        problem = _first_problem(_strings(_json_or_none(body), ("body",))) if body else None
        if problem is not None:
            await ascii_json(422, {"detail": [problem]})(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)

    @staticmethod
    def _url_refusal(scope: Scope) -> Response | None:
        path: str = scope["path"]
        if "\x00" in path:
            return ascii_json(400, {"detail": "the path contains a NUL character"})
        if len(path) > MAX_PATH_CHARS:
            return ascii_json(400, {"detail": f"the path is too long: {len(path)} characters, at most {MAX_PATH_CHARS}"})
        if any(b"\x00" in value for _, value in scope["headers"]):
            return ascii_json(400, {"detail": "a header contains a NUL character"})
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        problem = _first_problem(item for name, value in query for item in ((("query", name), name), (("query", name), value)))
        return ascii_json(422, {"detail": [problem]}) if problem is not None else None


def _json_or_none(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON (the route then answers for itself)."""
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
