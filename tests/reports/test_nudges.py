"""Next-step nudges (the widget's) over HTTP and in the ledger, on SQLite and PostgreSQL: which step and entry,
once per step per user per day (across devices and concurrent requests), the recorded events."""

from __future__ import annotations

import csv
import io
import threading
from datetime import datetime, timezone

import pytest
from sqlmodel import Session, select

from bot.identity import identity_hash
from bot.ledger.models import OnboardingEvent, utcnow
from bot.nudges import help_entries, record_nudge
from indexer.documents import Entry
from tests.reports.conftest import ADMIN_KEY, IDENTITY_SECRET, bearer, converse, event
from tests.reports.test_api import key

pytestmark = pytest.mark.integration


def signed(user: str, org: str = "org-a") -> dict[str, str]:
    return {"id": user, "org_id": org, "hash": identity_hash(IDENTITY_SECRET, user, org)}


def nudge(client, user: str, key: str | None = None) -> dict | None:
    response = client.post("/api/v1/widget/nudge", json={"user": signed(user), "locale": "en"}, headers={"Idempotency-Key": key} if key else {})
    assert response.status_code == 200
    return response.json()["nudge"]


def test_the_next_required_step_with_its_entry_once_a_day(client) -> None:
    # Nothing done: the next required step (create-workspace) has no entry, so no nudge.
    assert nudge(client, "u1") is None
    with Session(client.app.state.db) as session:
        event(session, client.app.state.checklist, "w1", "u1", "org-a", "workspace.created", utcnow())
    first = nudge(client, "u1", key="device-1")
    base = str(client.base_url)
    assert first == {
        "step": "create-first-project",
        "title": "Start a project",
        "required_done": 1,
        "required_total": 2,
        "help": {"id": "create-project", "title": "How do I create a project?", "url": f"{base}/knowledge/en/faq/projects.md#L7"},
    }
    assert nudge(client, "u1", key="device-1") == first  # a retry of the same request
    assert nudge(client, "u1", key="device-2") is None  # another device the same day
    assert nudge(client, "u1") is None

    opened = client.post("/api/v1/widget/nudge/opened", json={"user": signed("u1"), "step": "create-first-project", "entry_id": "create-project"})
    assert opened.status_code == 200 and opened.json() == {"recorded": "opened"}
    with Session(client.app.state.db) as session:
        names = sorted(e.name for e in session.exec(select(OnboardingEvent).where(OnboardingEvent.user_id == "u1")))
        stored = session.exec(select(OnboardingEvent).where(OnboardingEvent.name == "jiso.nudge.opened")).one()
    assert names == ["jiso.nudge.opened", "jiso.nudge.shown", "workspace.created"]
    assert (stored.properties["step"], stored.properties["entry_id"], stored.known, stored.org_id) == ("create-first-project", "create-project", False, "org-a")
    # jiso's own events are not the product's unknown event names.
    assert client.get("/api/v1/reports/summary", headers=bearer(ADMIN_KEY)).json()["unknown_events"] == []

    progress = client.get("/api/v1/onboarding/progress", params={"user_id": "u1", "org_id": "org-a", "hash": signed("u1")["hash"]}).json()
    assert (progress["required_done"], progress["required_total"]) == (1, 2)
    assert [step["help"] and step["help"]["id"] for step in progress["steps"]] == [None, None, "create-project"]


def test_bad_nudge_requests(client) -> None:
    forged = {**signed("u1"), "hash": identity_hash("wrong", "u1", "org-a")}
    assert client.post("/api/v1/widget/nudge", json={"user": forged}).status_code == 401
    assert client.post("/api/v1/widget/nudge", json={"user": signed("u1"), "locale": "fr"}).status_code == 422
    unknown = client.post("/api/v1/widget/nudge/dismissed", json={"user": signed("u1"), "step": "fly-to-mars"})
    assert unknown.status_code == 422 and "fly-to-mars" in unknown.json()["detail"]
    assert client.post("/api/v1/widget/nudge/clicked", json={"user": signed("u1"), "step": "create-first-project"}).status_code == 422
    # Nobody else may write jiso's own event names.
    track = client.post("/api/v1/widget/events", json={"user": signed("u1"), "name": "jiso.nudge.opened", "event_id": "x"})
    assert track.status_code == 422 and "recorded by jiso itself" in str(track.json()["detail"])
    assert client.get("/api/v1/widget/config").json()["features"]["nudges"] is True


def faq(entry_id: str, step: str, locale: str = "en") -> Entry:
    return Entry(entry_id, "faq", locale, f"{locale}/faq/setup.md", entry_id.title(), ("Setup",), 3, 9, "b", "b", meta={"onboarding_step": step})


def test_of_several_entries_the_most_confirmed_in_the_users_locale(db_engine, checklist) -> None:
    entries = [faq("b-project", "create-first-project"), faq("a-project", "create-first-project"), faq("c-project", "create-first-project"), faq("ja-project", "create-first-project", "ja")]
    entries.append(Entry("manual-project", "manual", "en", "en/manual/p.md", "Projects", ("P",), 1, 5, "b", "b", meta={"onboarding_step": "create-first-project"}))
    at = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
    with Session(db_engine) as session:
        assert help_entries(session, checklist, entries, "en")["create-first-project"].id == "b-project"  # no votes: the first in the knowledge
        # c-project confirmed twice, b-project once (and once "not helpful", which does not count), ja-project three times.
        for helpful, entry_id in [
            (True, "c-project"),
            (True, "c-project"),
            (True, "b-project"),
            (False, "b-project"),
            (False, "b-project"),
            (True, "ja-project"),
            (True, "ja-project"),
            (True, "ja-project"),
        ]:
            converse(session, at, [("ask", (True, "q", entry_id), 0), ("vote", helpful, 1)])
        assert help_entries(session, checklist, entries, "en")["create-first-project"].id == "c-project"
        assert help_entries(session, checklist, entries, "ja")["create-first-project"].id == "ja-project"
        assert help_entries(session, checklist, entries, "ja").keys() == {"create-first-project"}


def test_concurrent_devices_get_one_nudge(db_engine) -> None:
    """Eight requests at once (devices, tabs, server instances): exactly one shows the nudge."""
    now = utcnow()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(number: int) -> None:
        with Session(db_engine) as session:
            barrier.wait()
            results.append(record_nudge(session, user_id="u1", org_id="org-a", step_id="invite-members", entry_id="e", action="shown", now=now, request_id=f"r{number}"))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    with Session(db_engine) as session:
        assert len(session.exec(select(OnboardingEvent).where(OnboardingEvent.name == "jiso.nudge.shown")).all()) == 1


def test_nudge_report_over_http(client) -> None:
    with Session(client.app.state.db) as session:
        event(session, client.app.state.checklist, "w1", "u1", "org-a", "workspace.created", utcnow())
    assert nudge(client, "u1")["step"] == "create-first-project"
    client.post("/api/v1/widget/nudge/dismissed", json={"user": signed("u1"), "step": "create-first-project"})
    report = client.get("/api/v1/reports/nudges", headers=bearer(ADMIN_KEY)).json()
    project = report["steps"][2]
    assert (project["step"], project["shown"], project["opened"], project["dismissed"], project["after_dismissed"]["users"]) == ("create-first-project", 1, 0, 1, 1)
    assert "observational" in report["caveat"].lower()
    other = client.get("/api/v1/reports/nudges", headers=bearer(key(client, "manager", "org-b"))).json()
    assert other["filters"]["org_id"] == "org-b" and other["steps"][2]["shown"] == 0
    sheet = client.get("/api/v1/reports/nudges", params={"format": "csv"}, headers=bearer(ADMIN_KEY))
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [row["step"] for row in rows] == ["create-workspace", "connect-slack", "create-first-project"]
    assert (rows[2]["shown"], rows[2]["after_dismissed.users"], rows[2]["never_nudged.users"]) == ("1", "1", "0")
