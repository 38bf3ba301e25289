"""Rate limits shared by several instances through the real Redis on 127.0.0.1:6379
(`JISO_RATE_LIMIT_STORAGE`), and what happens when that storage is missing or misnamed."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

from .knowledge import EN_QUESTION, build_settings

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"
REDIS = "redis://127.0.0.1:6379/0"


def test_two_instances_share_one_visitors_limit_through_redis(make_client) -> None:
    limits = {"rate_limit_per_visitor": "3/minute", "rate_limit_per_ip": "10000/minute", "rate_limit_storage": REDIS}
    first, second = make_client(**limits), make_client(**limits)
    visitor = f"visitor-{uuid.uuid4().hex}"  # a fresh window in the shared Redis
    conversation_id = first.post(API, json={"visitor_id": visitor}).json()["id"]  # 1
    assert first.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION}).status_code == 200  # 2
    assert second.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION}).status_code == 200  # 3, on the other instance
    limited = second.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION})
    assert limited.status_code == 429 and "too many messages" in limited.json()["detail"]
    assert first.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION}).status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_an_unreachable_limit_storage_lets_requests_through_and_says_so(make_client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="api.limits"):
        client = make_client(rate_limit_per_visitor="1/minute", rate_limit_storage="redis://127.0.0.1:1/0")
        conversation_id = client.post(API, json={"visitor_id": "v"}).json()["id"]
        statuses = [client.post(f"{API}/{conversation_id}/messages", json={"text": EN_QUESTION}).status_code for _ in range(2)]
    assert statuses == [200, 200]
    messages = [record.getMessage() for record in caplog.records]
    assert any("redis://127.0.0.1:1/0 is not reachable" in message for message in messages)
    assert any("request let through" in message for message in messages)


def test_an_unknown_limit_storage_stops_the_start_with_the_setting_named(tmp_path, database_url: str) -> None:
    app = create_app(build_settings(tmp_path, database_url, rate_limit_storage="memcached://127.0.0.1:11211"))
    with pytest.raises(ValueError, match="JISO_RATE_LIMIT_STORAGE='memcached://127.0.0.1:11211': use memory:// or redis://"):
        with TestClient(app):
            pass
