"""The edges of the HTTP surface: every route answers the right 4xx with bounded memory and a
bounded error body, whatever arrives (unsigned Slack bodies, huge bodies, odd paths)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration
ADMIN = "admin-key-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def app_client(make_client):
    return make_client(admin_api_key=ADMIN, slack_bot_token="xoxb-test", slack_signing_secret="test-signing-secret", slack_api_url="http://127.0.0.1:9/api/")


def streamed(total: int, sent: list[int]):
    """A body without Content-Length, counting what the server pulled."""
    chunk = b"x" * 65_536
    while sum(sent) < total:
        sent.append(len(chunk))
        yield chunk


@pytest.mark.parametrize("body", [b"{not json", b"payload=%7B%22type", b"\xff\xfe", b""])
def test_an_unsigned_slack_body_is_401_without_being_parsed(app_client, body: bytes) -> None:
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        response = app_client.post("/slack/events", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 401, response.text


@pytest.mark.parametrize(("path", "limit"), [("/slack/events", 1_048_576), ("/api/v1/events", 1_048_576), ("/api/v1/widget/events", 16_384), ("/api/v1/ask", 16_384), ("/health", 16_384)])
def test_every_route_limits_the_body_while_it_streams(app_client, path: str, limit: int) -> None:
    declared = app_client.post(path, content=b"x" * (limit + 1), headers={"Content-Type": "application/json", **AUTH})
    assert declared.status_code == 413 and f"at most {limit} bytes" in declared.json()["detail"]
    sent: list[int] = []
    chunked = app_client.post(path, content=streamed(30_000_000, sent), headers={"Content-Type": "application/json", **AUTH})
    assert chunked.status_code == 413


def test_every_openapi_route_refuses_an_oversized_body(app_client) -> None:
    for path, operations in app_client.get("/openapi.json").json()["paths"].items():
        url = path.replace("{conversation_id}", "0" * 32).replace("{name}", "dashboard.js")
        for method in operations:
            response = app_client.request(method.upper(), url, content=b"x" * 1_048_577, headers=AUTH)
            assert response.status_code == 413, (method, path, response.status_code)


def test_a_large_invalid_events_body_gets_a_bounded_422(app_client) -> None:
    events = [{"event_id": f"e{n}", "user_id": "u" * 500, "name": "x" * 300, "occurred_at": "not a time"} for n in range(1000)]
    body = json.dumps(events).encode()
    assert 800_000 < len(body) < 1_048_576
    response = app_client.post("/api/v1/events", content=body, headers={"Content-Type": "application/json", **AUTH})
    assert response.status_code == 422
    assert len(response.content) < 20_000
    detail = response.json()["detail"]
    assert len(detail) == 21 and detail[-1]["type"] == "too_many_errors"
    assert all(len(json.dumps(error.get("input"))) < 200 for error in detail)


def test_a_long_invalid_question_is_not_echoed_whole(app_client) -> None:
    conversation_id = app_client.post("/api/v1/conversations", json={}).json()["id"]
    response = app_client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": ["y" * 15_000]})
    assert response.status_code == 422 and len(response.content) < 2_000


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/knowledge/en%00.md", 400),
        ("/knowledge/" + "a" * 6000 + ".md", 400),
        ("/knowledge/" + "a" * 1000 + ".md", 404),
        ("/knowledge/" + "/".join(["a" * 250] * 7) + ".md", 404),
        ("/static/%00", 400),
        ("/dashboard/%00x", 400),
    ],
)
def test_odd_paths_are_400_or_404(app_client, path: str, status: int) -> None:
    assert app_client.get(path).status_code == status
