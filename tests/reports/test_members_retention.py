"""The champion's members view and the retention report on hand-built ledgers, the expected
numbers worked out here, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from bot.reports import kpis
from bot.reports.members import members
from bot.reports.periods import Period, parse_tz
from bot.reports.queries import Filters
from bot.reports.retention import BadWeeks, parse_weeks, retention
from tests.reports.conftest import QUIET, converse, event

pytestmark = pytest.mark.integration
UTC = timezone.utc
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)

MEMBERS_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def build_members(session: Session, checklist) -> None:
    # m1: both required steps on Nov 2, on their own → complete, self-serve, 18 days since.
    event(session, checklist, "m1a", "m1", "acme", "workspace.created", datetime(2026, 11, 2, 10, tzinfo=UTC))
    event(session, checklist, "m1b", "m1", "acme", "project.created", datetime(2026, 11, 2, 12, tzinfo=UTC))
    # m2: workspace 4 days ago, Slack (optional, still progress) exactly 3 days ago → stuck on the project.
    event(session, checklist, "m2a", "m2", "acme", "workspace.created", MEMBERS_NOW - 4 * D)
    event(session, checklist, "m2b", "m2", "acme", "integration.slack.connected", MEMBERS_NOW - 3 * D)
    converse(session, MEMBERS_NOW - 3 * D + H, [("ask", False, 0), ("escalate", None, 5)], user="m2", org="acme")
    # m3: workspace one second short of 3 days ago → not stuck yet, 2 days since progress.
    event(session, checklist, "m3a", "m3", "acme", "workspace.created", MEMBERS_NOW - 3 * D + S)
    # m4: only a declined question 10 days 2 hours ago → stuck on the first step.
    converse(session, datetime(2026, 11, 10, 10, tzinfo=UTC), [("ask", False, 0)], user="m4", org="acme")
    # m5: handed over before completing → complete, not self-serve.
    event(session, checklist, "m5a", "m5", "acme", "workspace.created", datetime(2026, 11, 5, 10, tzinfo=UTC))
    converse(session, datetime(2026, 11, 5, 11, tzinfo=UTC), [("ask", True, 0), ("escalate", None, 5)], user="m5", org="acme")
    event(session, checklist, "m5b", "m5", "acme", "project.created", datetime(2026, 11, 5, 12, tzinfo=UTC))
    # Another organization's member, never in acme's list.
    event(session, checklist, "g1a", "g1", "globex", "workspace.created", MEMBERS_NOW - 5 * D)


def test_members_of_an_organization(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build_members(session, checklist)
        rows = {member.user_id: member.to_json() for member in members(session, checklist, "acme", MEMBERS_NOW, QUIET)}
        assert [m.user_id for m in members(session, checklist, "globex", MEMBERS_NOW, QUIET)] == ["g1"]
        assert members(session, checklist, "nobody", MEMBERS_NOW, QUIET) == []
    assert list(rows) == ["m1", "m5", "m4", "m2", "m3"]  # earliest start first
    assert rows["m1"] == {
        "user_id": "m1",
        "started_at": "2026-11-02T10:00:00Z",
        "steps_done": ["create-workspace", "create-first-project"],
        "completed_at": "2026-11-02T12:00:00Z",
        "self_serve": True,
        "stuck_step": None,
        "days_since_progress": 18,
        "last_progress_at": "2026-11-02T12:00:00Z",
        "conversations": 0,
        "escalations": 0,
    }
    m2 = rows["m2"]
    assert (m2["steps_done"], m2["completed_at"], m2["self_serve"], m2["stuck_step"], m2["days_since_progress"]) == (["create-workspace", "connect-slack"], None, False, "create-first-project", 3)
    assert (m2["conversations"], m2["escalations"]) == (1, 1)
    assert (rows["m3"]["stuck_step"], rows["m3"]["days_since_progress"]) == (None, 2)
    m4 = rows["m4"]
    assert (m4["started_at"], m4["steps_done"], m4["stuck_step"], m4["days_since_progress"], m4["conversations"], m4["escalations"]) == ("2026-11-10T10:00:00Z", [], "create-workspace", 10, 1, 0)
    m5 = rows["m5"]
    assert (m5["completed_at"], m5["self_serve"], m5["stuck_step"], m5["conversations"], m5["escalations"]) == ("2026-11-05T12:00:00Z", False, None, 1, 1)


RETENTION_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
NOVEMBER = Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("UTC"))


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def build_retention(session: Session, checklist) -> None:
    # a (org1, self-serve): starts Nov 2 10:00; week 4 is [Nov 23 10:00, Nov 30 10:00): active one second before its end.
    event(session, checklist, "a1", "a", "org1", "workspace.created", at(2))
    event(session, checklist, "a2", "a", "org1", "project.created", at(2, 11))
    event(session, checklist, "a3", "a", "org1", "page.viewed", at(30) - S)
    # b (org1, self-serve): starts Nov 3 10:00; week 4 ends Dec 1 10:00 = now (fully passed: eligible);
    # its only later event is exactly at that end, which is week 5 → not retained.
    event(session, checklist, "b1", "b", "org1", "workspace.created", at(3))
    event(session, checklist, "b2", "b", "org1", "project.created", at(3, 11))
    event(session, checklist, "b3", "b", "org1", "page.viewed", RETENTION_NOW)
    # c (org2, self-serve): starts Nov 10 10:00; week 4 ends Dec 8 → not eligible yet.
    event(session, checklist, "c1", "c", "org2", "workspace.created", at(10))
    event(session, checklist, "c2", "c", "org2", "project.created", at(10, 11))
    # d (org1, with help): starts with a question Nov 2 10:00, handed over at 10:05, completes at 12:00;
    # an event exactly at the start of week 4 (Nov 23 10:00) counts.
    converse(session, at(2), [("ask", True, 0), ("escalate", None, 5)], user="d", org="org1")
    event(session, checklist, "d1", "d", "org1", "workspace.created", at(2, 11))
    event(session, checklist, "d2", "d", "org1", "project.created", at(2, 12))
    event(session, checklist, "d3", "d", "org1", "page.viewed", at(23))
    # e (org2, not completed): only a question on Nov 5; a conversation is not an event → not retained in week 1.
    converse(session, at(5), [("ask", False, 0)], user="e", org="org2")
    # f started in October: not in November's cohort, whatever it did later.
    event(session, checklist, "f1", "f", "org1", "workspace.created", at(20, month=10))
    event(session, checklist, "f2", "f", "org1", "page.viewed", at(20))


def report(session, checklist, weeks=(1, 4), **filters) -> dict:
    scope = kpis.ReportScope(session, checklist, NOVEMBER, Filters(**filters), RETENTION_NOW, QUIET)
    return retention(scope, weeks)


def test_retention_by_how_users_onboarded(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build_retention(session, checklist)
        everyone = report(session, checklist)
        org2 = report(session, checklist, org_id="org2")
    assert everyone["kpi_version"] == kpis.KPI_VERSION and everyone["weeks"] == [1, 4]
    assert everyone["groups"] == {
        # a, b, c active in week 1 (their start event); week 4: a yes, b no (event at the end), c not eligible.
        "self_serve": {"users": 3, "eligible": {"1": 3, "4": 2}, "retained": {"1": 1.0, "4": 0.5}},
        "with_help": {"users": 1, "eligible": {"1": 1, "4": 1}, "retained": {"1": 1.0, "4": 1.0}},
        # e's week 4 [Nov 26, Dec 3) has not passed: nobody eligible, so no share (null, not 0).
        "not_completed": {"users": 1, "eligible": {"1": 1, "4": 0}, "retained": {"1": 0.0, "4": None}},
    }
    assert org2["groups"]["self_serve"] == {"users": 1, "eligible": {"1": 1, "4": 0}, "retained": {"1": 1.0, "4": None}}
    assert org2["groups"]["with_help"] == {"users": 0, "eligible": {"1": 0, "4": 0}, "retained": {"1": None, "4": None}}
    assert org2["groups"]["not_completed"]["users"] == 1


def test_week_numbers_are_parsed_strictly() -> None:
    assert parse_weeks("12,4,8,4") == (4, 8, 12)
    for bad in ("", "4,x", "0", "105", ",".join(str(k) for k in range(1, 14))):
        with pytest.raises(BadWeeks):
            parse_weeks(bad)
