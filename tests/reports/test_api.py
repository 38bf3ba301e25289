"""The ingest, onboarding and reporting API over HTTP, with real keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.apikeys import create_key
from bot.identity import identity_hash
from bot.ledger.models import ApiKey, OnboardingEvent
from tests.reports.conftest import ADMIN_KEY, IDENTITY_SECRET, bearer, converse

pytestmark = pytest.mark.integration


def key(client, role: str, org: str | None = None) -> str:
    with Session(client.app.state.db) as session:
        return create_key(session=session, role=role, org_id=org)[1]


def ago(**delta) -> str:
    return (datetime.now(timezone.utc) - timedelta(**delta)).isoformat()


def test_keys_are_required_and_scoped(client) -> None:
    assert client.get("/api/v1/reports/summary").status_code == 401
    response = client.get("/api/v1/reports/summary", headers=bearer("jiso_00000000_" + "x" * 43))
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    ingest = key(client, "ingest")
    assert client.get("/api/v1/reports/summary", headers=bearer(ingest)).status_code == 403
    assert client.get("/api/v1/reports/summary", headers=bearer(ADMIN_KEY)).status_code == 200
    org_key = key(client, "manager", "org-a")
    assert client.get("/api/v1/reports/organizations", headers=bearer(org_key), params={"org_id": "org-b"}).status_code == 403
    assert client.get("/api/v1/reports/summary", headers=bearer(org_key), params={"org_id": "org-a"}).json()["filters"]["org_id"] == "org-a"
    with Session(client.app.state.db) as session:
        stored = list(session.exec(select(ApiKey)))
    assert all(org_key not in row.secret_hash and len(row.secret_hash) == 64 for row in stored)


def test_org_key_never_sees_another_organization(client) -> None:
    with Session(client.app.state.db) as session:
        converse(session, datetime.now(timezone.utc) - timedelta(days=3), [("ask", True, 0)], user="a1", org="org-a")
        converse(session, datetime.now(timezone.utc) - timedelta(days=3), [("ask", False, 0)], user="b1", org="org-b")
    org_key = key(client, "manager", "org-a")
    rows = client.get("/api/v1/reports/organizations", headers=bearer(org_key)).json()["organizations"]
    assert [row["org_id"] for row in rows] == ["org-a"]
    summary = client.get("/api/v1/reports/summary", headers=bearer(org_key)).json()
    assert summary["conversations"]["conversations"] == 1
    everyone = client.get("/api/v1/reports/organizations", headers=bearer(ADMIN_KEY)).json()["organizations"]
    assert [row["org_id"] for row in everyone] == ["org-a", "org-b"]


def test_ingest_is_idempotent_and_reports_unknown_names(client) -> None:
    ingest = key(client, "ingest")
    batch = [
        {"event_id": "ev-1", "user_id": "u1", "org_id": "org-a", "name": "workspace.created", "occurred_at": ago(hours=3)},
        {"event_id": "ev-2", "user_id": "u1", "org_id": "org-a", "name": "workspace.renamed", "occurred_at": ago(hours=2), "properties": {"from": "x"}},
        {"event_id": "ev-1", "user_id": "u1", "org_id": "org-a", "name": "workspace.created", "occurred_at": ago(hours=3)},
    ]
    first = client.post("/api/v1/events", json=batch, headers=bearer(ingest))
    assert first.status_code == 200 and first.json() == {"accepted": 2, "duplicates": 1, "unknown_names": ["workspace.renamed"]}
    again = client.post("/api/v1/events", json=batch[0], headers=bearer(ingest))
    assert again.json() == {"accepted": 0, "duplicates": 1, "unknown_names": []}
    with Session(client.app.state.db) as session:
        rows = sorted((e.event_id, e.known) for e in session.exec(select(OnboardingEvent)))
    assert rows == [("ev-1", True), ("ev-2", False)]
    summary = client.get("/api/v1/reports/summary", headers=bearer(ADMIN_KEY)).json()
    assert summary["unknown_events"] == [{"name": "workspace.renamed", "count": 1}]
    assert summary["onboarding"]["users_started"] == 1


@pytest.mark.parametrize(
    ("occurred_at", "message"),
    [("2026-13-01T00:00:00Z", "datetime"), ("2026-11-01T10:00:00", "timezone"), ("yesterday", "datetime"), ("2999-01-01T00:00:00Z", "future")],
)
def test_bad_timestamps_are_422_and_nothing_is_stored(client, occurred_at: str, message: str) -> None:
    ingest = key(client, "ingest")
    good = {"event_id": "ok", "user_id": "u1", "name": "workspace.created", "occurred_at": ago(hours=1)}
    response = client.post("/api/v1/events", json=[good, {**good, "event_id": "bad", "occurred_at": occurred_at}], headers=bearer(ingest))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"][-2:] == [1, "occurred_at"] and message in detail[0]["msg"].lower()
    with Session(client.app.state.db) as session:
        assert session.exec(select(func.count()).select_from(OnboardingEvent)).one() == 0


def test_org_scoped_ingest_key_cannot_write_for_another_org(client) -> None:
    ingest = key(client, "ingest", "org-a")
    event = {"event_id": "x1", "user_id": "u1", "org_id": "org-b", "name": "workspace.created", "occurred_at": ago(hours=1)}
    assert client.post("/api/v1/events", json=event, headers=bearer(ingest)).status_code == 403
    assert client.post("/api/v1/events", json={**event, "org_id": None}, headers=bearer(ingest)).status_code == 200
    assert client.post("/api/v1/events", json=event, headers=bearer(key(client, "manager"))).status_code == 403


def test_widget_events_and_progress_need_a_verified_identity(client) -> None:
    user = {"id": "u9", "org_id": "org-a", "hash": identity_hash(IDENTITY_SECRET, "u9", "org-a")}
    forged = {**user, "hash": identity_hash("wrong", "u9", "org-a")}
    assert client.post("/api/v1/widget/events", json={"user": forged, "name": "workspace.created", "event_id": "1"}).status_code == 401
    for _ in range(2):  # a retried call stores one event
        response = client.post("/api/v1/widget/events", json={"user": user, "name": "workspace.created", "event_id": "5f0c"})
        assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    params = {"user_id": "u9", "org_id": "org-a", "hash": user["hash"], "locale": "ja"}
    progress = client.get("/api/v1/onboarding/progress", params=params).json()
    assert progress == {
        "steps": [
            {"id": "create-workspace", "title": "ワークスペースを作成する", "done": True, "required": True, "help": None},
            {"id": "connect-slack", "title": "Slack と連携する", "done": False, "required": False, "help": None},
            {"id": "create-first-project", "title": "プロジェクトを始める", "done": False, "required": True, "help": None},  # its entry is in English
        ],
        "completed": 1,
        "total": 3,
        "required_done": 1,
        "required_total": 2,
    }
    assert client.get("/api/v1/onboarding/progress", params={**params, "hash": forged["hash"]}).status_code == 401
    steps = client.get("/api/v1/onboarding/checklist").json()["steps"]
    assert steps[2] == {
        "id": "create-first-project",
        "titles": {"en": "Start a project", "ja": "プロジェクトを始める"},
        "events": ["project.created"],
        "required": True,
        "active_minutes": {"min": 3, "within_days": 1},
    }


def test_report_parameters_are_validated(client) -> None:
    headers = bearer(ADMIN_KEY)
    response = client.get("/api/v1/reports/summary", params={"tz": "Mars/Base"}, headers=headers)
    assert response.status_code == 422 and "unknown timezone" in response.json()["detail"]
    assert client.get("/api/v1/reports/summary", params={"from": "2026-02-30"}, headers=headers).status_code == 422
    assert client.get("/api/v1/reports/summary", params={"from": "2026-11-10", "to": "2026-11-01"}, headers=headers).status_code == 422
    assert client.get("/api/v1/reports/timeseries", params={"interval": "day"}, headers=headers).status_code == 422
    assert client.get("/api/v1/reports/summary", params={"channel": "fax"}, headers=headers).status_code == 422


def test_all_reports_in_json_and_csv(client) -> None:
    with Session(client.app.state.db) as session:
        at = datetime.now(timezone.utc) - timedelta(days=2)
        converse(session, at, [("ask", (True, "How do I create a project?", "create-project"), 0), ("vote", True, 1)], user="u1", org="org-a")
        converse(session, at, [("ask", (False, '=HYPERLINK("http://evil")'), 0)], user="u2", org="org-a")
    headers = bearer(ADMIN_KEY)
    entries = client.get("/api/v1/reports/entries", headers=headers).json()["entries"]
    assert entries[0]["entry_id"] == "create-project" and entries[0]["title"] == "How do I create a project?" and entries[0]["onboarding_step"] == "create-first-project"
    gaps = client.get("/api/v1/reports/gaps", headers=headers).json()
    assert gaps["clusters"][0]["examples"] == ['=HYPERLINK("http://evil")']
    gaps_csv = client.get("/api/v1/reports/gaps", params={"format": "csv"}, headers=headers)
    assert gaps_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(gaps_csv.text)))[0]["label"].startswith("'=")  # not a live formula
    for name in ("summary", "timeseries", "organizations", "entries"):
        response = client.get(f"/api/v1/reports/{name}", params={"format": "csv", "tz": "Asia/Tokyo"}, headers=headers)
        assert response.status_code == 200 and response.headers["content-disposition"].startswith("attachment")
        assert len(list(csv.DictReader(io.StringIO(response.text)))) >= 1
    summary_rows = {row["metric"]: row["value"] for row in csv.DictReader(io.StringIO(client.get("/api/v1/reports/summary", params={"format": "csv"}, headers=headers).text))}
    assert summary_rows["conversations.conversations"] == "2" and "onboarding.funnel.create-workspace.reached" in summary_rows
