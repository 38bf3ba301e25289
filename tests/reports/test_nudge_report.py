"""The nudge report on a hand-built ledger, the expected numbers worked out here, on SQLite and
PostgreSQL: nudge counts, who did the step within 7 days after opening or dismissing a nudge or
never nudged, and the same after a step-tagged entry was shown."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlmodel import Session

from bot.ledger.events import NewEvent, record_events
from bot.reports import kpis
from bot.reports.nudge_report import nudge_report
from bot.reports.periods import Period, parse_tz
from bot.reports.queries import Filters
from tests.reports.conftest import QUIET, converse, event

pytestmark = pytest.mark.integration
UTC = timezone.utc
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
NOVEMBER = Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("UTC"))
CATALOG = {
    "ws-help": {"kind": "faq", "title": "How do I create a workspace?", "onboarding_step": "create-workspace"},
    "ws-manual": {"kind": "manual", "title": "Workspaces", "onboarding_step": "create-workspace"},
}


def at(day: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, 10, minute, tzinfo=UTC)


def nudge(session, user: str, org: str, action: str, when: datetime, step: str = "create-workspace") -> None:
    name = f"jiso.nudge.{action}"
    record_events(session=session, events=[NewEvent(f"{user}-{action}-{when.isoformat()}", user, org, name, when, {"step": step, "entry_id": "ws-help"})], known_names=frozenset())


def build(session, checklist) -> None:
    for user in ("p1", "p2", "p3", "p4", "p5"):
        converse(session, at(2), [("ask", False, 0)] if user != "p1" else [("ask", (True, "q", "ws-help"), 0), ("ask", (True, "q2", "ws-help"), 1)], user=user, org="org1")
    converse(session, at(2), [("ask", False, 0)], user="p6", org="org2")
    # p1 opens on Nov 3 and creates the workspace 2 days later → opened, did.
    nudge(session, "p1", "org1", "shown", at(3))
    nudge(session, "p1", "org1", "opened", at(3, 1))
    event(session, checklist, "p1w", "p1", "org1", "workspace.created", at(5))
    # p2 opens on Nov 3 10:00 and creates it exactly 7 days later: outside [opened, opened + 7 d).
    nudge(session, "p2", "org1", "shown", at(3))
    nudge(session, "p2", "org1", "opened", at(3))
    event(session, checklist, "p2w", "p2", "org1", "workspace.created", at(10))
    # p3 dismisses on Nov 4, creates it on Nov 6 → dismissed, did.
    nudge(session, "p3", "org1", "shown", at(4))
    nudge(session, "p3", "org1", "dismissed", at(4))
    event(session, checklist, "p3w", "p3", "org1", "workspace.created", at(6))
    # p4 dismisses on Nov 4, opens the next day's nudge on Nov 5, creates it on Nov 6 → opened (from Nov 5), did.
    nudge(session, "p4", "org1", "shown", at(4))
    nudge(session, "p4", "org1", "dismissed", at(4))
    nudge(session, "p4", "org1", "shown", at(5))
    nudge(session, "p4", "org1", "opened", at(5))
    event(session, checklist, "p4w", "p4", "org1", "workspace.created", at(6))
    # p5 dismisses on Nov 28: its 7 days have not passed → not eligible.
    nudge(session, "p5", "org1", "shown", at(28))
    nudge(session, "p5", "org1", "dismissed", at(28))
    # p6 (org2) was shown one and did nothing with it: counted as shown, in neither group.
    nudge(session, "p6", "org2", "shown", at(3))
    # Never nudged: n1 starts with the workspace (did, at once); n2 is shown the entry on Nov 2 and
    # creates it on Nov 12 (not within 7 days, either way); n3 starts on Nov 28 (not eligible).
    event(session, checklist, "n1w", "n1", "org1", "workspace.created", at(2))
    converse(session, at(2), [("ask", (True, "q", "ws-help"), 0)], user="n2", org="org1")
    event(session, checklist, "n2w", "n2", "org1", "workspace.created", at(12))
    converse(session, at(28), [("ask", False, 0)], user="n3", org="org1")


def report(session, checklist, **filters) -> dict:
    return nudge_report(kpis.ReportScope(session, checklist, NOVEMBER, Filters(**filters), NOW, QUIET), CATALOG)


def test_nudges_and_tagged_entries_against_doing_the_step(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        build(session, checklist)
        everyone = report(session, checklist)
        org1 = report(session, checklist, org_id="org1")
        summary = kpis.summary(kpis.ReportScope(session, checklist, NOVEMBER, Filters(), NOW, QUIET))
    assert everyone["within_days"] == 7 and "not a causal effect" in everyone["caveat"]
    workspace = everyone["steps"][0]
    assert (workspace["step"], workspace["shown"], workspace["opened"], workspace["dismissed"]) == ("create-workspace", 7, 3, 3)
    assert workspace["after_opened"] == {"users": 3, "eligible": 3, "did_step": 2, "share": 0.6667}  # p1, p4 did; p2 on day 7
    assert workspace["after_dismissed"] == {"users": 2, "eligible": 1, "did_step": 1, "share": 1.0}  # p3 did; p5 not yet eligible
    assert workspace["never_nudged"] == {"users": 3, "eligible": 2, "did_step": 1, "share": 0.5}  # n1 did, n2 late, n3 not eligible
    slack = everyone["steps"][1]
    # Nobody was nudged to connect Slack: all 9 who started in November, 8 of them eligible, none did.
    assert (slack["shown"], slack["after_opened"]["users"], slack["never_nudged"]) == (0, 0, {"users": 9, "eligible": 8, "did_step": 0, "share": 0.0})
    # The tagged FAQ entry (the manual section is not a FAQ entry): p1 twice (did), n2 once (late).
    assert everyone["entries"] == [
        {"entry_id": "ws-help", "title": "How do I create a workspace?", "onboarding_step": "create-workspace", "shown": 3, "users": 2, "eligible": 2, "did_step": 1, "share": 0.5}
    ]
    assert (org1["steps"][0]["shown"], org1["steps"][0]["never_nudged"]["users"]) == (6, 3)
    # The nudge events start nobody and are not listed as the product's unknown event names.
    assert summary["unknown_events"] == [] and summary["onboarding"]["users_started"] == 9
