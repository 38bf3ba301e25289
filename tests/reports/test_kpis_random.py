"""Randomized ledgers: the SQL reports must equal a straightforward Python computation."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlmodel import Session, select

from bot.ledger.models import Conversation, EndUser, Escalation, OnboardingEvent, PersonReply
from bot.ledger.outcomes import outcome_of
from bot.reports import kpis
from bot.reports.periods import Period, buckets, parse_tz
from bot.reports.queries import Filters
from tests.reports.conftest import QUIET, converse, event

pytestmark = pytest.mark.integration
UTC = timezone.utc
START = datetime(2026, 10, 20, tzinfo=UTC)
NOW = datetime(2026, 12, 5, tzinfo=UTC)
NAMES = ["workspace.created", "project.created", "integration.slack.connected", "page.viewed", "page.viewed", "page.viewed"]


def generate(session: Session, checklist, rng: random.Random) -> None:
    for u in range(rng.randint(15, 30)):
        user, org = f"u{u}", rng.choice(["org1", "org2", "org3"])
        base = START + timedelta(minutes=rng.randint(0, 60 * 24 * 40))
        for _ in range(rng.randint(0, 8)):
            at = base + timedelta(minutes=rng.choice([0, 1, 2, 3, 5, 60, 600, 3000]) + rng.random())
            event_id = f"{user}-{rng.randint(0, 6)}"  # collisions: duplicate deliveries
            event(session, checklist, event_id, user, org, rng.choice(NAMES), at)
        for _ in range(rng.randint(0, 2)):
            script, minute = [], 0
            for _ in range(rng.randint(0, 5)):
                minute += rng.randint(1, 30)
                action = rng.choice(["ask", "ask", "vote", "escalate", "reply", "close"])
                if action == "vote" and not any(s[0] == "ask" for s in script):
                    action = "ask"
                if action in ("reply", "close") and not any(s[0] == "escalate" for s in script):
                    action = "escalate"
                script.append((action, rng.random() < 0.7 if action in ("ask", "vote") else None, minute))
            at = base + timedelta(hours=rng.randint(-48, 200))
            converse(session, min(at, NOW - timedelta(minutes=200)), script, user=user if rng.random() < 0.8 else None, org=org, channel=rng.choice(["web", "slack"]))


def reference(session: Session, checklist, start: datetime, end: datetime, org: str | None = None) -> dict:
    everyone = list(session.exec(select(Conversation)))
    conversations = [c for c in everyone if c.turn_count > 0]
    events = [e for e in session.exec(select(OnboardingEvent)) if e.occurred_at <= NOW]
    orgs = {u.id: u.org_id for u in session.exec(select(EndUser))}
    counted = [c for c in conversations if start <= c.created_at < end and (org is None or c.org_id == org)]
    outcomes = [outcome_of(c, NOW, QUIET) for c in counted]
    starts: dict[str, datetime] = {}
    for e in events:
        if e.known:
            starts[e.user_id] = min(starts.get(e.user_id, e.occurred_at), e.occurred_at)
    for c in conversations:
        if c.user_id and c.created_at <= NOW:
            starts[c.user_id] = min(starts.get(c.user_id, c.created_at), c.created_at)
    users = {}
    for user, started in starts.items():
        if not (start <= started < end) or (org is not None and orgs.get(user) != org):
            continue
        done = {}
        for i, step in enumerate(checklist.steps):
            times = [e.occurred_at for e in events if e.user_id == user and e.name in step.events]
            if step.active_minutes:
                window = [e.occurred_at for e in events if e.user_id == user and started <= e.occurred_at < started + timedelta(days=step.active_minutes.within_days)]
                minutes = {}
                for t in window:
                    key = t.replace(second=0, microsecond=0)
                    minutes[key] = min(minutes.get(key, t), t)
                firsts = sorted(minutes.values())
                if len(firsts) >= step.active_minutes.minutes:
                    times.append(firsts[step.active_minutes.minutes - 1])
            if times:
                done[i] = min(times)
        required = [i for i, s in enumerate(checklist.steps) if s.required]
        completed = max(done[i] for i in required) if all(i in done for i in required) else None
        # A hand-over counts whether or not its conversation had a question (the widget's button first).
        escalations = [c.escalated_at for c in everyone if c.user_id == user and c.escalated_at and c.escalated_at <= NOW]
        users[user] = {
            "completed": completed,
            "self_serve": completed is not None and not any(t < completed for t in escalations),
            "involved": any(c.user_id == user for c in conversations),
            "hours": None if completed is None else (completed - started).total_seconds() / 3600,
            "done": done,
        }
    hours = sorted(u["hours"] for u in users.values() if u["hours"] is not None)
    counted_ids = {c.id for c in counted}
    escalations = [x for x in session.exec(select(Escalation)) if x.created_at <= NOW]
    replies = list(session.exec(select(PersonReply)))
    of_period = [x for x in escalations if x.conversation_id in counted_ids]
    first_replies = [min(r.created_at for r in replies if r.escalation_id == x.id) for x in of_period if any(r.escalation_id == x.id for r in replies)]
    to_reply = [(t - x.created_at).total_seconds() / 3600 for x, t in zip([x for x in of_period if any(r.escalation_id == x.id for r in replies)], first_replies)]
    to_close = [(x.closed_at - x.created_at).total_seconds() / 3600 for x in of_period if x.closed_at is not None]
    filtered = {c.id for c in session.exec(select(Conversation)) if org is None or c.org_id == org}  # a hand-over before any question is open too
    return {
        "open_escalations": sum(x.closed_at is None for x in escalations if x.conversation_id in filtered),
        "resolved_by_person": sum(1 for c in counted if c.escalated_at is not None and all(x.closed_at is not None for x in escalations if x.conversation_id == c.id)),
        "median_to_reply": float(np.median(to_reply)) if to_reply else None,
        "median_to_close": float(np.median(to_close)) if to_close else None,
        "outcomes": {o: outcomes.count(o) for o in set(outcomes)},
        "started": len(users),
        "completed": sum(u["completed"] is not None for u in users.values()),
        "self_serve": sum(u["self_serve"] for u in users.values()),
        "involved": sum(u["involved"] for u in users.values()),
        "median": float(np.percentile(hours, 50)) if hours else None,
        "p90": float(np.percentile(hours, 90)) if hours else None,
        "reached": [sum(i in u["done"] and all(j in u["done"] for j in range(i) if checklist.steps[j].required) for u in users.values()) for i in range(len(checklist.steps))],
    }


def assert_matches(report_conversations: dict, report_onboarding: dict, expected: dict) -> None:
    for outcome in ("escalated", "resolved_confirmed", "resolved_assumed", "unanswered", "open"):
        assert report_conversations[outcome] == expected["outcomes"].get(outcome, 0), outcome
    assert (report_onboarding["users_started"], report_onboarding["users_completed"], report_onboarding["self_serve_completed"], report_onboarding["users_involved"]) == (
        expected["started"],
        expected["completed"],
        expected["self_serve"],
        expected["involved"],
    )
    for name, value in (("median_time_to_complete_hours", expected["median"]), ("p90_time_to_complete_hours", expected["p90"])):
        got = report_onboarding[name]
        assert (got is None and value is None) or abs(got - value) <= 0.006, (name, got, value)


@pytest.mark.parametrize("seed", [1, 2, 3, 9])
def test_random_ledger_matches_reference(db_engine, checklist, seed: int) -> None:
    rng = random.Random(seed)
    with Session(db_engine) as session:
        generate(session, checklist, rng)
        period = Period.of(date(2026, 10, 25), date(2026, 11, 30), parse_tz("Asia/Tokyo"))
        for org in (None, "org2"):
            scope = kpis.ReportScope(session, checklist, period, Filters(org_id=org), NOW, QUIET)
            report = kpis.summary(scope)
            expected = reference(session, checklist, period.start, period.end, org)
            assert_matches(report["conversations"], report["onboarding"], expected)
            talk = report["conversations"]
            assert (talk["open_escalations"], talk["resolved_by_person"]) == (expected["open_escalations"], expected["resolved_by_person"])
            # The organizations report counts the same open hand-overs, split by organization.
            assert sum(row["open_escalations"] for row in kpis.organizations(scope)["organizations"]) == expected["open_escalations"]
            for name, value in (("median_time_to_first_human_reply_hours", expected["median_to_reply"]), ("median_time_to_close_hours", expected["median_to_close"])):
                assert (talk[name] is None and value is None) or abs(talk[name] - value) <= 0.006, (name, talk[name], value)
            assert [s["reached"] for s in report["onboarding"]["funnel"]] == expected["reached"]
        scope = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET)
        series = kpis.timeseries(scope, "week")["buckets"]
        for row, bucket in zip(series, buckets(period, "week")):
            assert_matches(row, row, reference(session, checklist, bucket.start, bucket.end))
