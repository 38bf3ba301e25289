"""Fixtures for the web channel tests: a running app over the test knowledge and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

from .knowledge import build_settings


@pytest.fixture
def make_client(tmp_path: Path, database_url: str) -> Iterator[Callable[..., TestClient]]:
    """Build a running app (lifespan included) over the test knowledge and the test database."""
    clients: list[TestClient] = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(build_settings(tmp_path, database_url, **overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
