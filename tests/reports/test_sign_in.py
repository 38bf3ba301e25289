"""Dashboard sign-in: a manager key exchanged once for a signed session cookie, over HTTP with
real keys, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth import UNKNOWN_KEY
from api.sign_in import COOKIE, SESSION_ENDED, SignIns
from bot.apikeys import Principal, create_key
from bot.ledger.keys import revoke_api_key
from bot.ledger.models import utcnow
from tests.reports.conftest import ADMIN_KEY, converse

pytestmark = pytest.mark.integration


def key(client, role: str, org: str | None = None) -> tuple[str, str]:
    with Session(client.app.state.db) as session:
        row, secret = create_key(session=session, role=role, org_id=org)
        return row.id, secret


def test_a_manager_key_is_exchanged_once_for_an_httponly_strict_cookie(client) -> None:
    _, manager = key(client, "manager")
    response = client.post("/api/v1/session", json={"key": manager})
    assert response.status_code == 200
    assert response.json()["role"] == "manager" and response.json()["org_id"] is None
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert manager not in cookie
    assert client.get("/api/v1/reports/summary").status_code == 200  # the cookie alone signs the requests
    assert client.get("/api/v1/session").json()["role"] == "manager"
    assert client.delete("/api/v1/session").status_code == 204  # sign out
    assert client.get("/api/v1/reports/summary").status_code == 401
    assert client.get("/api/v1/session").status_code == 401


def test_a_wrong_key_is_named_as_the_problem(client) -> None:
    wrong = client.post("/api/v1/session", json={"key": "jiso_00000000_" + "x" * 43})
    assert wrong.status_code == 401 and wrong.json()["detail"] == UNKNOWN_KEY and "set-cookie" not in wrong.headers
    _, ingest = key(client, "ingest")
    refused = client.post("/api/v1/session", json={"key": ingest})
    assert refused.status_code == 403 and refused.json()["detail"].startswith("this key's role is 'ingest'; the dashboard needs a 'manager' key")
    assert client.post("/api/v1/session", json={"key": ""}).status_code == 422
    assert client.post("/api/v1/session", json={}).status_code == 422


def test_revoking_the_key_ends_its_sessions_and_tampering_is_refused(client) -> None:
    key_id, manager = key(client, "manager")
    client.post("/api/v1/session", json={"key": manager})
    token = client.cookies[COOKIE]
    subject, expires, signature = token.split(".")
    client.cookies.clear()
    client.cookies.set(COOKIE, f"{subject}.{int(expires) + 3600}.{signature}")  # a longer session, not signed
    assert client.get("/api/v1/reports/summary").json()["detail"] == SESSION_ENDED
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    assert client.get("/api/v1/reports/summary").status_code == 200
    with Session(client.app.state.db) as session:
        revoke_api_key(session=session, key_id=key_id)
    ended = client.get("/api/v1/reports/summary")
    assert ended.status_code == 401 and ended.json()["detail"] == SESSION_ENDED


def test_an_organizations_session_sees_only_that_organization(client) -> None:
    with Session(client.app.state.db) as session:
        converse(session, utcnow() - timedelta(days=2), [("ask", True, 0)], user="a1", org="org-a")
        converse(session, utcnow() - timedelta(days=2), [("ask", True, 0)], user="b1", org="org-b")
    _, org_key = key(client, "manager", "org-a")
    assert client.post("/api/v1/session", json={"key": org_key}).json()["org_id"] == "org-a"
    assert [row["org_id"] for row in client.get("/api/v1/reports/conversations").json()["conversations"]] == ["org-a"]
    assert client.get("/api/v1/reports/summary", params={"org_id": "org-b"}).status_code == 403


def test_the_cookie_is_only_for_reading_reports(client) -> None:
    client.post("/api/v1/session", json={"key": ADMIN_KEY})
    assert client.get("/api/v1/reports/summary").status_code == 200
    event = {"event_id": "e1", "user_id": "u1", "name": "workspace.created", "occurred_at": utcnow().isoformat()}
    assert client.post("/api/v1/events", json=event).status_code == 401  # ingesting still needs a key


def test_sessions_expire_and_a_new_admin_key_ends_the_old_ones() -> None:
    signs = SignIns(b"k" * 32, timedelta(hours=12), admin_key="first")
    admin = Principal("admin", None, None)
    old, ends = signs.token(admin, now=utcnow() - timedelta(hours=13))
    assert ends < utcnow() and signs.read(None, old) is None  # expired
    fresh, _ = signs.token(admin)
    assert signs.read(None, fresh) is not None
    assert SignIns(b"k" * 32, timedelta(hours=12), admin_key="second").read(None, fresh) is None


def test_the_cookie_is_secure_over_https(client) -> None:
    with TestClient(client.app, base_url="https://testserver") as secure:
        cookie = secure.post("/api/v1/session", json={"key": ADMIN_KEY}).headers["set-cookie"]
    assert "Secure" in cookie


def test_the_cookie_is_secure_behind_a_trusted_https_proxy(tmp_path, database_url) -> None:
    from api.app import create_app
    from tests.support import indexed_settings

    settings = indexed_settings(tmp_path, {}, database_url=database_url, admin_api_key=ADMIN_KEY, forwarded_allow_ips="*")
    with TestClient(create_app(settings)) as proxied:
        cookie = proxied.post("/api/v1/session", json={"key": ADMIN_KEY}, headers={"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert "Secure" in cookie
