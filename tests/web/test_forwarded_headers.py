"""X-Forwarded-For is believed only from the proxies in JISO_FORWARDED_ALLOW_IPS: a client cannot
rotate the address its per-IP rate limit counts, through `jiso serve` or the app itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app

from .knowledge import build_settings

pytestmark = pytest.mark.integration
API = "/api/v1/conversations"
REPO = Path(__file__).resolve().parents[2]


def rotating(post, count: int) -> list[int]:
    return [post(f"198.51.100.{n}").status_code for n in range(count)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def jiso_serve(tmp_path: Path, database_url: str, **environment: str) -> Iterator[str]:
    """The real `jiso serve` (uvicorn) on a free port, configured like an operator would."""
    settings = build_settings(tmp_path, database_url)
    port = free_port()
    env = {
        **os.environ,
        "JISO_KNOWLEDGE_DIR": str(settings.knowledge_dir), "JISO_INDEX_DIR": str(settings.index_dir), "JISO_DATABASE_URL": database_url,
        "JISO_MODEL_EN": "fake-hashing", "JISO_MODEL_JA": "fake-hashing", "JISO_COMPANION_MODEL_EN": "", "JISO_CALIBRATION_DIR": str(settings.calibration_dir), "JISO_PORT": str(port), "JISO_RATE_LIMIT_PER_IP": "3/minute",
        **environment,
    }  # fmt: skip
    server = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", "serve"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_jiso_serve_does_not_trust_a_local_client_s_forwarded_header(tmp_path, database_url) -> None:
    with jiso_serve(tmp_path, database_url) as base:
        statuses = rotating(lambda ip: httpx.post(f"{base}{API}", json={}, headers={"X-Forwarded-For": ip}), 4)
    assert statuses == [201, 201, 201, 429]


def test_jiso_serve_trusts_a_configured_proxy(tmp_path, database_url) -> None:
    with jiso_serve(tmp_path, database_url, JISO_FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        statuses = rotating(lambda ip: httpx.post(f"{base}{API}", json={}, headers={"X-Forwarded-For": ip}), 4)
    assert statuses == [201] * 4  # four clients behind the proxy, one request each


def test_a_client_not_in_the_list_cannot_rotate_its_key(tmp_path, database_url) -> None:
    settings = build_settings(tmp_path, database_url, rate_limit_per_ip="3/minute", forwarded_allow_ips="10.0.0.1")
    with TestClient(create_app(settings), client=("203.0.113.7", 40000)) as direct:
        assert rotating(lambda ip: direct.post(API, json={}, headers={"X-Forwarded-For": ip}), 4) == [201, 201, 201, 429]
    with TestClient(create_app(settings), client=("10.0.0.1", 40000)) as proxy:
        # Through the trusted proxy, a client's own spoofed entry is ignored: the proxy's last hop counts.
        assert rotating(lambda ip: proxy.post(API, json={}, headers={"X-Forwarded-For": f"{ip}, 192.0.2.9"}), 4) == [201, 201, 201, 429]
        assert proxy.post(API, json={}, headers={"X-Forwarded-For": "192.0.2.10"}).status_code == 201
