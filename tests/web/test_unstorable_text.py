"""Text no database can store (NUL, lone UTF-16 surrogates) gets the same clear 422 on every
route and on both databases, never a 500 on PostgreSQL and a 200 on SQLite."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.exceptions import RequestValidationError

from api.request_guard import validation_error_handler

from .knowledge import EN_QUESTION

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"
ADMIN = "admin-key-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
BAD = {"nul": "a\x00b", "surrogate": "a\ud800b"}
# JSON as a client sends it: json.dumps escapes both as \u0000 and \ud800.
PROBLEM = {"nul": "a NUL character (U+0000)", "surrogate": "a lone UTF-16 surrogate (U+D800)"}


@pytest.fixture
def app_client(make_client):
    return make_client(admin_api_key=ADMIN)


def post_json(client, url: str, payload, **headers):
    return client.post(url, content=json.dumps(payload), headers={"Content-Type": "application/json", **AUTH, **headers})


def assert_refused(response, loc: list, kind: str) -> None:
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc and PROBLEM[kind] in error["msg"]


def concrete(path: str) -> str:
    return path.replace("{conversation_id}", "0" * 32).replace("{name}", "dashboard.js")


@pytest.mark.parametrize("kind", BAD)
def test_every_route_refuses_unstorable_text_in_body_and_query(app_client, kind: str) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    assert len(paths) >= 15
    for path, operations in paths.items():
        for method in operations:
            url = concrete(path)
            if method == "post" and path != "/slack/events":
                assert_refused(post_json(app_client, url, {"field": {"nested": ["ok", BAD[kind]]}}), ["body", "field", "nested", 1], kind)
                assert_refused(post_json(app_client, url, [{BAD[kind]: 1}]), ["body", 0, BAD[kind]], kind)
            response = app_client.request(method.upper(), url, params={"org_id": "a\x00b"}, headers=AUTH)
            assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "org_id"], (path, response.text)


@pytest.mark.parametrize("kind", BAD)
def test_the_named_inputs_are_refused_with_the_field_named(app_client, kind: str) -> None:
    bad = BAD[kind]
    conversation_id = app_client.post(API, json={}).json()["id"]
    assert_refused(post_json(app_client, f"{API}/{conversation_id}/messages", {"text": f"{EN_QUESTION}{bad}"}), ["body", "text"], kind)
    assert_refused(post_json(app_client, f"{API}/{conversation_id}/escalate", {"reason": bad}), ["body", "reason"], kind)
    assert_refused(post_json(app_client, API, {"user": {"id": bad, "org_id": "acme", "hash": "x"}}), ["body", "user", "id"], kind)
    assert_refused(post_json(app_client, API, {"visitor_id": bad}), ["body", "visitor_id"], kind)
    event = {"event_id": "e1", "user_id": bad, "name": "signed_up", "occurred_at": "2026-11-30T10:00:00Z"}
    assert_refused(post_json(app_client, "/api/v1/events", event), ["body", "user_id"], kind)
    assert_refused(post_json(app_client, "/api/v1/ask", {"question": bad}), ["body", "question"], kind)
    assert app_client.get(f"{API}/{conversation_id}").json()["turns"] == []  # nothing was recorded
    assert app_client.get("/health").status_code == 200


def test_nul_in_a_report_query_parameter_is_422_on_both_databases(app_client) -> None:
    response = app_client.get("/api/v1/reports/summary", params={"org_id": "acme\x00"}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "org_id"]


def test_nul_in_a_header_or_the_path_is_400(app_client) -> None:
    assert app_client.get(f"{API}/abc%00def").status_code == 400
    assert app_client.post(API, json={}, headers={"Idempotency-Key": "k\x00"}).status_code == 400


def test_the_validation_handler_cannot_crash_on_unencodable_input() -> None:
    error = RequestValidationError([{"type": "string_type", "loc": ("body", "text"), "msg": "bad", "input": "\ud800" * 10_000}])
    # Its own thread and loop: Playwright's sync API (the browser tests) may hold this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        response = pool.submit(lambda: asyncio.run(validation_error_handler(None, error))).result()
    assert response.status_code == 422
    detail = json.loads(response.body)["detail"]
    assert detail[0]["input"].startswith("\ud800") and len(detail[0]["input"]) <= 101
