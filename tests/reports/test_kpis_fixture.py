"""Every KPI on a hand-built ledger, the expected numbers worked out here, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from bot.reports import kpis
from bot.reports.periods import Period, parse_tz
from bot.reports.queries import Filters
from tests.reports.conftest import QUIET, converse, event

pytestmark = pytest.mark.integration
UTC = timezone.utc
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOVEMBER = Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("UTC"))
H = timedelta(hours=1)
D = timedelta(days=1)
M = timedelta(minutes=1)


def build(session: Session, checklist) -> None:
    # u1 (org1): both required steps by events, 2 h apart; never asked anything.
    event(session, checklist, "e1a", "u1", "org1", "workspace.created", T0)
    event(session, checklist, "e1b", "u1", "org1", "project.created", T0 + 2 * H)
    # u2 (org1): events arrive out of order and one twice; a helpful answer, then a hand-over at +4 h.
    event(session, checklist, "e2b", "u2", "org1", "project.created", T0 + 5 * H)
    event(session, checklist, "e2a", "u2", "org1", "workspace.created", T0 + 1 * H)
    event(session, checklist, "e2a", "u2", "org1", "workspace.created", T0 + 1 * H)
    converse(session, T0 + 3 * H, [("ask", (True, "How do I invite people?", "invite-member"), 0), ("vote", True, 1), ("escalate", None, 60)], user="u2", org="org1")
    # u3 (org2): starts with a question the bot declines; no events.
    converse(session, T0 + D, [("ask", False, 0)], user="u3", org="org2")
    # u4 (org2): a workspace, then active minutes +0, +10 (twice), +12: the 3rd minute (+12) does the project step.
    event(session, checklist, "e4a", "u4", "org2", "workspace.created", T0 + D)
    for number, offset in enumerate([10 * M, 10 * M + timedelta(seconds=30), 12 * M]):
        event(session, checklist, f"e4v{number}", "u4", "org2", "page.viewed", T0 + D + offset)
    # ... and a conversation that is confirmed, then reopened by a second answered question.
    converse(session, T0 + D + M, [("ask", (True, "Create a project?", "create-project"), 0), ("vote", True, 1), ("ask", (True, "And a board?", "create-project"), 30)], user="u4", org="org2")
    # Anonymous visitors: one confirmed, one still open (inside the quiet window), one with no question.
    converse(session, T0 + 2 * D, [("ask", True, 0), ("vote", True, 1)])
    converse(session, NOW - H, [("ask", True, 0)])
    converse(session, T0, [])
    # u6 started in October (outside the period); u7 sent only an unknown event (never started).
    event(session, checklist, "e6a", "u6", "org1", "workspace.created", datetime(2026, 10, 20, tzinfo=UTC))
    event(session, checklist, "e7", "u7", "org2", "page.viewed", T0)


def scope(session, checklist, **filters) -> kpis.ReportScope:
    return kpis.ReportScope(session, checklist, NOVEMBER, Filters(**filters), NOW, QUIET)


def test_summary(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        report = kpis.summary(scope(session, checklist))
    talk = report["conversations"]
    # 5 conversations with a question: escalated (u2), unanswered (u3), assumed (u4, reopened),
    # confirmed (anonymous), open (anonymous, last hour). Decided = 4.
    assert {k: talk[k] for k in ("conversations", "decided", "escalated", "unanswered", "resolved_assumed", "resolved_confirmed", "open")} == {
        "conversations": 5,
        "decided": 4,
        "escalated": 1,
        "unanswered": 1,
        "resolved_assumed": 1,
        "resolved_confirmed": 1,
        "open": 1,
    }
    assert (talk["deflection_rate"], talk["confirmed_rate"], talk["assumed_rate"], talk["escalation_rate"], talk["unanswered_rate"]) == (0.5, 0.25, 0.25, 0.25, 0.25)
    board = report["onboarding"]
    # Started in November: u1, u2, u3, u4. Completed: u1 (2 h), u2 (4 h: +1 h → +5 h), u4 (0.2 h).
    # Self-serve: u1, u4 (u2 was handed over before completing). Used the assistant: u2, u3, u4.
    assert (board["users_started"], board["users_completed"], board["completion_rate"]) == (4, 3, 0.75)
    assert (board["self_serve_completed"], board["self_serve_completion_rate"]) == (2, 0.5)
    assert (board["users_involved"], board["involvement"]) == (3, 0.75)
    # Sorted hours [0.2, 2, 4]: median 2; p90 at rank 0.9 × 2 = 1.8 → 2 + 0.8 × (4 − 2) = 3.6.
    assert (board["median_time_to_complete_hours"], board["p90_time_to_complete_hours"]) == (2.0, 3.6)
    funnel = [(s["step"], s["done"], s["reached"], s["drop_off"]) for s in board["funnel"]]
    # An optional step in the middle does not block the funnel: the project step is measured
    # against the workspace step (the previous required one).
    assert funnel == [("create-workspace", 3, 3, 1), ("connect-slack", 0, 0, 3), ("create-first-project", 3, 3, 0)]
    assert report["unknown_events"] == [{"name": "page.viewed", "count": 4}]


def test_organizations(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        rows = {row["org_id"]: row for row in kpis.organizations(scope(session, checklist))["organizations"]}
    assert set(rows) == {"org1", "org2", None}
    assert {k: rows["org1"][k] for k in ("users", "completed_share", "self_serve_share", "conversations", "deflection_rate", "open_escalations")} == {
        "users": 2,
        "completed_share": 1.0,
        "self_serve_share": 0.5,
        "conversations": 1,
        "deflection_rate": 0.0,
        "open_escalations": 1,
    }
    assert {k: rows["org2"][k] for k in ("users", "completed_share", "self_serve_share", "conversations", "deflection_rate", "open_escalations")} == {
        "users": 2,
        "completed_share": 0.5,
        "self_serve_share": 0.5,
        "conversations": 2,
        "deflection_rate": 0.5,
        "open_escalations": 0,
    }
    assert (rows[None]["users"], rows[None]["conversations"], rows[None]["deflection_rate"]) == (0, 2, 1.0)


def test_org_filter_sees_only_that_organization(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        report = kpis.summary(scope(session, checklist, org_id="org2"))
        orgs = kpis.organizations(scope(session, checklist, org_id="org2"))["organizations"]
    assert (report["conversations"]["conversations"], report["conversations"]["deflection_rate"]) == (2, 0.5)
    assert (report["onboarding"]["users_started"], report["onboarding"]["users_completed"]) == (2, 1)
    assert report["onboarding"]["median_time_to_complete_hours"] == 0.2
    assert [row["org_id"] for row in orgs] == ["org2"]


def test_channel_and_locale_filters(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        converse(session, T0 + 3 * D, [("ask", True, 0), ("vote", False, 1)], channel="slack", locale="ja", user="u1", org="org1")
        slack = kpis.summary(scope(session, checklist, channel="slack"))
        ja = kpis.summary(scope(session, checklist, locale="ja"))
    for report in (slack, ja):
        assert (report["conversations"]["conversations"], report["conversations"]["unanswered"]) == (1, 1)
        # Onboarding is not per channel, but involvement counts only that channel's use.
        assert (report["onboarding"]["users_started"], report["onboarding"]["users_involved"]) == (4, 1)


def test_entries(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        rows = kpis.entries(scope(session, checklist), {"invite-member": {"title": "How do I invite a teammate?", "onboarding_step": "invite-members"}})["entries"]
    by_id = {row["entry_id"]: row for row in rows}
    # invite-member: shown to u2, voted helpful, then u2 was handed over anyway.
    assert {k: by_id["invite-member"][k] for k in ("shown", "helpful", "not_helpful", "escalated_after", "title", "onboarding_step")} == {
        "shown": 1,
        "helpful": 1,
        "not_helpful": 0,
        "escalated_after": 1,
        "title": "How do I invite a teammate?",
        "onboarding_step": "invite-members",
    }
    assert {k: by_id["create-project"][k] for k in ("shown", "helpful", "not_helpful", "escalated_after")} == {"shown": 2, "helpful": 1, "not_helpful": 0, "escalated_after": 0}


def test_timeseries_by_week(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        report = kpis.timeseries(scope(session, checklist), "week")
    weeks = {row["bucket"]: row for row in report["buckets"]}
    # Whole ISO weeks covering November: Oct 26 … Nov 30.
    assert list(weeks) == ["2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]
    assert weeks["2026-11-02"]["conversations"] == 4 and weeks["2026-11-16"]["conversations"] == 1
    assert (weeks["2026-11-02"]["users_started"], weeks["2026-11-02"]["users_completed"], weeks["2026-11-02"]["median_time_to_complete_hours"]) == (4, 3, 2.0)
    assert weeks["2026-10-26"]["users_started"] == 0  # u6 started Oct 20, before the first bucket
    assert sum(row["conversations"] for row in weeks.values()) == 5


def test_what_people_did_with_the_hand_overs(db_engine, checklist) -> None:
    """The worked example of docs/kpis.md, "Hand-overs"."""
    monday = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    with Session(db_engine) as session:
        # Ann: handed over Mon 10:00, a reply at 11:00, "Thanks!" (quiet), resolved at 13:00.
        converse(session, monday, [("ask", False, 0), ("escalate", None, 0), ("reply", None, 60), ("ask_quiet", None, 70), ("close", None, 180)], user="ann", org="org1")
        # Ben: Tue 09:00, a reply at 12:00, not closed. Cem: Wed 09:00, closed at 11:30 without a reply (a phone call).
        converse(session, monday + D - H, [("ask", False, 0), ("escalate", None, 0), ("reply", None, 180)], user="ben", org="org1")
        converse(session, monday + 2 * D - H, [("ask", False, 0), ("escalate", None, 0), ("close", None, 150)], user="cem", org="org2")
        # Dee: Thu 09:00, nothing yet. And a hand-over of October (outside the period), still open.
        converse(session, monday + 3 * D - H, [("ask", False, 0), ("escalate", None, 0)], user="dee", org="org2")
        converse(session, datetime(2026, 10, 20, tzinfo=UTC), [("ask", False, 0), ("escalate", None, 0)], user="eve", org="org1")
        talk = kpis.summary(scope(session, checklist))["conversations"]
        org2 = kpis.summary(scope(session, checklist, org_id="org2"))["conversations"]
    assert (talk["escalated"], talk["escalation_rate"], talk["deflection_rate"]) == (4, 1.0, 0.0)  # a person's resolution is no deflection
    assert (talk["open_escalations"], talk["resolved_by_person"]) == (3, 2)  # Ben, Dee and Eve are open; Ann and Cem resolved
    assert talk["median_time_to_first_human_reply_hours"] == 2.0  # [1, 3]
    assert talk["median_time_to_close_hours"] == 2.75  # [2.5, 3]
    assert (org2["open_escalations"], org2["resolved_by_person"], org2["median_time_to_first_human_reply_hours"], org2["median_time_to_close_hours"]) == (1, 1, None, 2.5)
