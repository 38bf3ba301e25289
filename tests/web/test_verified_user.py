"""Every route that takes a verified user answers alike: 401 for a wrong hash (or a server
without JISO_IDENTITY_SECRET), 422 for a malformed user, and records nothing it refused."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.identity import identity_hash

from .knowledge import IDENTITY_SECRET

pytestmark = pytest.mark.integration
Send = Callable[[TestClient, dict], httpx.Response]

ROUTES: dict[str, Send] = {
    "conversations": lambda client, user: client.post("/api/v1/conversations", json={"user": user}),
    "onboarding progress": lambda client, user: client.get("/api/v1/onboarding/progress", params={"user_id": user.get("id"), "org_id": user.get("org_id"), "hash": user.get("hash")}),
    "widget events": lambda client, user: client.post("/api/v1/widget/events", json={"user": user, "name": "workspace.created", "event_id": "e1"}),
}
GOOD = {"id": "u-1", "org_id": "acme", "hash": identity_hash(IDENTITY_SECRET, "u-1", "acme")}


@pytest.mark.parametrize("route", ROUTES)
def test_a_verified_user_is_let_in(client: TestClient, route: str) -> None:
    assert ROUTES[route](client, GOOD).status_code in (200, 201)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("user", [{**GOOD, "hash": identity_hash("another-secret", "u-1", "acme")}, {**GOOD, "org_id": "other-org"}, {**GOOD, "hash": "0" * 64}])
def test_a_wrong_hash_is_401_everywhere(client: TestClient, route: str, user: dict) -> None:
    response = ROUTES[route](client, user)
    assert response.status_code == 401 and "hash does not match" in response.json()["detail"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("user", [{"id": "u-1", "org_id": "acme"}, {**GOOD, "hash": ""}, {**GOOD, "id": "u" * 129}])
def test_a_malformed_user_is_422_everywhere(client: TestClient, route: str, user: dict) -> None:
    assert ROUTES[route](client, user).status_code == 422


@pytest.mark.parametrize("route", ROUTES)
def test_without_a_server_secret_it_is_401_everywhere(make_client, route: str) -> None:
    client = make_client(identity_secret="")
    response = ROUTES[route](client, {**GOOD, "hash": identity_hash("", "u-1", "acme")})
    assert response.status_code == 401 and "JISO_IDENTITY_SECRET" in response.json()["detail"]
