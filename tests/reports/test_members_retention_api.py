"""The members and retention reports over HTTP, with real keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from tests.reports.conftest import ADMIN_KEY, bearer
from tests.reports.test_api import key

pytestmark = pytest.mark.integration


def days_ago(days: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)


def send(client, *events: tuple[str, str, str, str, datetime]) -> None:
    body = [{"event_id": event_id, "user_id": user, "org_id": org, "name": name, "occurred_at": when.isoformat()} for event_id, user, org, name, when in events]
    response = client.post("/api/v1/events", json=body, headers=bearer(key(client, "ingest")))
    assert response.status_code == 200 and response.json()["accepted"] == len(events)


def test_members_are_scoped_to_the_champions_organization(client) -> None:
    send(
        client,
        ("a1", "alice", "org-a", "workspace.created", days_ago(5)),  # stuck on the project for 5 days
        ("a2", "amir", "org-a", "workspace.created", days_ago(1)),
        ("a3", "amir", "org-a", "project.created", days_ago(1)),
        ("b1", "bob", "org-b", "workspace.created", days_ago(9)),
    )
    champion = key(client, "manager", "org-a")
    rows = client.get("/api/v1/reports/organizations/org-a/members", headers=bearer(champion)).json()["members"]
    assert [(row["user_id"], row["stuck_step"], row["days_since_progress"]) for row in rows] == [("alice", "create-first-project", 5), ("amir", None, 1)]
    # The champion of org-a never sees org-b, by path or by guessing.
    response = client.get("/api/v1/reports/organizations/org-b/members", headers=bearer(champion))
    assert response.status_code == 403 and "another organization" in response.json()["detail"]
    assert client.get("/api/v1/reports/organizations/org-b/members", headers=bearer(key(client, "manager"))).json()["members"][0]["user_id"] == "bob"
    assert client.get("/api/v1/reports/organizations/org-a/members", headers=bearer(key(client, "ingest"))).status_code == 403
    assert client.get("/api/v1/reports/organizations/org-a/members").status_code == 401
    missing = client.get("/api/v1/reports/organizations/org-z/members", headers=bearer(ADMIN_KEY))
    assert missing.status_code == 404 and "org-z" in missing.json()["detail"]

    stuck = client.get("/api/v1/reports/organizations/org-a/members", params={"stuck": "true"}, headers=bearer(champion)).json()["members"]
    assert [row["user_id"] for row in stuck] == ["alice"]
    moving = client.get("/api/v1/reports/organizations/org-a/members", params={"stuck": "false"}, headers=bearer(champion)).json()["members"]
    assert [row["user_id"] for row in moving] == ["amir"]
    assert client.get("/api/v1/reports/organizations/org-a/members", params={"stuck": "maybe"}, headers=bearer(champion)).status_code == 422

    sheet = client.get("/api/v1/reports/organizations/org-a/members", params={"format": "csv"}, headers=bearer(champion))
    assert sheet.headers["content-type"].startswith("text/csv") and 'filename="jiso-members-org-a.csv"' in sheet.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [(row["user_id"], row["steps_done"], row["stuck_step"]) for row in table] == [("alice", "create-workspace", "create-first-project"), ("amir", "create-workspace create-first-project", "")]
    # For Excel, like every other report's CSV.
    for path in ("/api/v1/reports/organizations/org-a/members", "/api/v1/reports/retention", "/api/v1/reports/nudges"):
        assert client.get(path, params={"format": "csv", "bom": "1"}, headers=bearer(champion)).content.startswith("\ufeff".encode())


def test_retention_from_back_filled_history(client) -> None:
    """A team adopting jiso sends months of history: users who started weeks ago are reported."""
    start = days_ago(70)
    send(
        client,
        ("h1", "old", "org-a", "workspace.created", start),
        ("h2", "old", "org-a", "project.created", start + timedelta(hours=2)),
        ("h3", "old", "org-a", "page.viewed", start + timedelta(days=25)),  # in week 4: [21 d, 28 d)
    )
    first = start.date()
    params = {"from": first.isoformat(), "to": (first + timedelta(days=1)).isoformat(), "weeks": "4,8,12"}
    report = client.get("/api/v1/reports/retention", params=params, headers=bearer(ADMIN_KEY)).json()
    # 70 days: weeks 4 and 8 have passed, week 12 (ending at 84 days) has not.
    assert report["groups"]["self_serve"] == {"users": 1, "eligible": {"4": 1, "8": 1, "12": 0}, "retained": {"4": 1.0, "8": 0.0, "12": None}}
    assert report["groups"]["with_help"]["users"] == 0 and report["groups"]["not_completed"]["users"] == 0
    other = client.get("/api/v1/reports/retention", params=params, headers=bearer(key(client, "manager", "org-b"))).json()
    assert other["filters"]["org_id"] == "org-b" and other["groups"]["self_serve"]["users"] == 0
    assert client.get("/api/v1/reports/retention", params={**params, "org_id": "org-a"}, headers=bearer(key(client, "manager", "org-b"))).status_code == 403
    sheet = client.get("/api/v1/reports/retention", params={**params, "format": "csv"}, headers=bearer(ADMIN_KEY))
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert rows[0] == {"group": "self_serve", "users": "1", "week": "4", "eligible": "1", "retained": "1.0"} and len(rows) == 9
    bad = client.get("/api/v1/reports/retention", params={"weeks": "4,eight"}, headers=bearer(ADMIN_KEY))
    assert bad.status_code == 422 and "weeks '4,eight'" in bad.json()["detail"]


def test_overview_benchmark_is_hidden_from_a_champion_when_few_organizations_make_it_up(client) -> None:
    # Completion hours: org-a 2 h; org-b 4 h; org-c 6 h; org-d 8 h → all organizations' median 5 h.
    for org, hours in (("org-a", 2), ("org-b", 4), ("org-c", 6), ("org-d", 8)):
        start = days_ago(3)
        send(client, (f"{org}-1", f"{org}-u", org, "workspace.created", start), (f"{org}-2", f"{org}-u", org, "project.created", start + timedelta(hours=hours)))
    manager = client.get("/api/v1/reports/organizations/org-a/overview", headers=bearer(ADMIN_KEY)).json()
    assert (manager["org_id"], manager["onboarding"]["median_time_to_complete_hours"]) == ("org-a", 2.0)
    assert manager["all_organizations"] == {"median_time_to_complete_hours": 5.0, "other_organizations_with_completions": 3, "hidden": False}
    assert [step["step"] for step in manager["onboarding"]["funnel"]] == ["create-workspace", "connect-slack", "create-first-project"]
    champion = key(client, "manager", "org-a")
    assert client.get("/api/v1/reports/organizations/org-a/overview", headers=bearer(champion)).json()["all_organizations"]["median_time_to_complete_hours"] == 5.0
    assert client.get("/api/v1/reports/organizations/org-b/overview", headers=bearer(champion)).status_code == 403
    # A period in which no other organization completed: their median would be readable, so it is hidden.
    before = {"from": days_ago(50).date().isoformat(), "to": days_ago(35).date().isoformat()}
    few = client.get("/api/v1/reports/organizations/org-d/overview", params=before, headers=bearer(key(client, "manager", "org-d"))).json()
    assert few["all_organizations"] == {"median_time_to_complete_hours": None, "other_organizations_with_completions": 0, "hidden": True}
