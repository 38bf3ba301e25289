"""Settled onboarding states (bot/reports/onboarding_states.py): the reports stay exact whether each
user's onboarding is read from onboarding_states or computed live, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.ledger import writes
from bot.ledger.db import alembic_config, make_engine
from bot.ledger.models import Conversation, EndUser, OnboardingDirty, OnboardingState
from bot.onboarding import Checklist
from bot.reports import kpis
from bot.reports.onboarding_states import refresh_onboarding_states, refresh_until_settled
from bot.reports.periods import Period, buckets, parse_tz
from bot.reports.queries import Filters
from bot.reports.retention import retention
from tests.reports.conftest import QUIET, converse, event
from tests.reports.test_kpis_random import NOW, assert_matches, generate, reference

pytestmark = pytest.mark.integration
UTC = timezone.utc
PERIOD = Period.of(date(2026, 10, 25), date(2026, 11, 30), parse_tz("Asia/Tokyo"))


def assert_reports_exact(session: Session, checklist: Checklist) -> None:
    """Summary (all, one organization), weekly series and organizations equal the reference."""
    for org in (None, "org2"):
        report = kpis.summary(kpis.ReportScope(session, checklist, PERIOD, Filters(org_id=org), NOW, QUIET))
        expected = reference(session, checklist, PERIOD.start, PERIOD.end, org)
        assert_matches(report["conversations"], report["onboarding"], expected)
        assert [s["reached"] for s in report["onboarding"]["funnel"]] == expected["reached"]
    scope = kpis.ReportScope(session, checklist, PERIOD, Filters(), NOW, QUIET)
    for row, bucket in zip(kpis.timeseries(scope, "week")["buckets"], buckets(PERIOD, "week")):
        assert_matches(row, row, reference(session, checklist, bucket.start, bucket.end))
    for row in kpis.organizations(scope)["organizations"]:
        if row["org_id"] is not None:
            expected = reference(session, checklist, PERIOD.start, PERIOD.end, row["org_id"])
            assert (row["users"], row["users_completed"]) == (expected["started"], expected["completed"])


def counts(session: Session) -> tuple[int, int]:
    """(settled states, dirty marks)."""
    return session.execute(select(func.count()).select_from(OnboardingState)).scalar_one(), session.execute(select(func.count()).select_from(OnboardingDirty)).scalar_one()


HELPED_AT = datetime(2026, 11, 3, tzinfo=UTC)


def self_served(session: Session, checklist: Checklist) -> Conversation:
    """A user who completes on their own, with a question on the way (no hand-over): their conversation."""
    event(session, checklist, "helped-1", "helped", "org2", "workspace.created", HELPED_AT)
    event(session, checklist, "helped-2", "helped", "org2", "project.created", HELPED_AT + timedelta(hours=1))
    return converse(session, HELPED_AT + timedelta(minutes=10), [("ask", True, 0)], user="helped", org="org2")


def more_writes(session: Session, checklist: Checklist, rng: random.Random, conversation: Conversation) -> None:
    """Writes to users already settled: events, new conversations, a hand-over in an old conversation."""
    writes.record_escalation(session=session, conversation=conversation, reason="asked for a person", destinations=["webhook"], now=HELPED_AT + timedelta(minutes=20))
    generate(session, checklist, rng)  # the same user names: new events and conversations for them


def first_step_only(checklist: Checklist) -> Checklist:
    """The same steps with only the first one required: other completions."""
    return replace(checklist, steps=tuple(replace(step, required=i == 0) for i, step in enumerate(checklist.steps)))


@pytest.mark.parametrize("seed", [1, 2])
def test_reports_are_exact_live_settled_and_mixed(db_engine: Engine, checklist: Checklist, seed: int) -> None:
    rng = random.Random(seed)
    with Session(db_engine) as session:
        generate(session, checklist, rng)
        conversation = self_served(session, checklist)
        assert counts(session)[0] == 0 and counts(session)[1] > 0  # every writer marked its user
        assert_reports_exact(session, checklist)  # all live

        assert refresh_onboarding_states(session, checklist, limit=5) == 5  # a few settled, the rest live
        assert counts(session)[0] > 0
        assert_reports_exact(session, checklist)

        assert refresh_until_settled(db_engine, checklist) > 0
        assert counts(session)[1] == 0
        assert_reports_exact(session, checklist)  # all settled

        more_writes(session, checklist, rng, conversation)
        assert counts(session)[1] > 0
        assert_reports_exact(session, checklist)  # settled, and live for the users written since
        refresh_until_settled(db_engine, checklist)
        assert counts(session)[1] == 0
        assert_reports_exact(session, checklist)


def test_the_reports_read_the_settled_rows(db_engine: Engine, checklist: Checklist) -> None:
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(3))
        refresh_until_settled(db_engine, checklist)
        scope = kpis.ReportScope(session, checklist, PERIOD, Filters(), NOW, QUIET)
        assert kpis.summary(scope)["onboarding"]["users_completed"] > 0
        session.execute(update(OnboardingState).values(completed_at=None))  # no trigger: nobody is marked
        session.commit()
        assert kpis.summary(scope)["onboarding"]["users_completed"] == 0


def test_a_report_as_of_before_some_facts_computes_those_users_live(db_engine: Engine, checklist: Checklist) -> None:
    earlier = datetime(2026, 11, 15, tzinfo=UTC)  # the generated facts run from Oct 20 to about Nov 30
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(4))
        scopes = [kpis.ReportScope(session, checklist, PERIOD, Filters(org_id=org), earlier, QUIET) for org in (None, "org1")]
        live = [(kpis.summary(scope)["onboarding"], kpis.timeseries(scope, "week")["buckets"], kpis.organizations(scope)["organizations"]) for scope in scopes]
        refresh_until_settled(db_engine, checklist)
        assert counts(session)[1] == 0
        later = session.execute(select(func.count()).where(OnboardingState.facts_until > earlier)).scalar_one()
        assert 0 < later < counts(session)[0]  # some users settled as of `earlier`, some not
        settled = [(kpis.summary(scope)["onboarding"], kpis.timeseries(scope, "week")["buckets"], kpis.organizations(scope)["organizations"]) for scope in scopes]
        assert settled == live


def test_a_changed_checklist_makes_the_rows_stale_until_refreshed(db_engine: Engine, checklist: Checklist) -> None:
    changed = first_step_only(checklist)
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(5))
        refresh_until_settled(db_engine, checklist)
        assert reference(session, checklist, PERIOD.start, PERIOD.end)["completed"] != reference(session, changed, PERIOD.start, PERIOD.end)["completed"]
        assert_reports_exact(session, changed)  # every row is stale: all live
        assert_reports_exact(session, checklist)

        refresh_until_settled(db_engine, changed)
        keys = set(session.execute(select(OnboardingState.checklist_key).distinct()).scalars())
        assert keys == {changed.fingerprint} and counts(session)[1] == 0
        assert_reports_exact(session, changed)
        assert_reports_exact(session, checklist)  # now the old checklist's rows are the stale ones


def test_a_write_during_the_refresh_keeps_its_user_dirty(db_engine: Engine, checklist: Checklist) -> None:
    started = datetime(2026, 11, 10, tzinfo=UTC)
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(6))
        refresh_until_settled(db_engine, checklist)
        event(session, checklist, "racer-1", "racer", "org1", "workspace.created", started)  # the only dirty user

        def write_meanwhile(inner: Session) -> None:
            # After the racer's row was computed (not completed): the last required step, in the same transaction.
            assert inner.execute(select(OnboardingState.completed_at).where(OnboardingState.user_id == "racer")).one() == (None,)
            event(inner, checklist, "racer-2", "racer", "org1", "project.created", started + timedelta(hours=1))

        with Session(db_engine) as refreshing:
            assert refresh_onboarding_states(refreshing, checklist, on_computed=write_meanwhile) == 1
        assert session.execute(select(OnboardingDirty.user_id)).scalars().all() == ["racer"]
        assert (
            reference(session, checklist, PERIOD.start, PERIOD.end)["completed"] == kpis.summary(kpis.ReportScope(session, checklist, PERIOD, Filters(), NOW, QUIET))["onboarding"]["users_completed"]
        )
        assert_reports_exact(session, checklist)
        refresh_until_settled(db_engine, checklist)
        assert counts(session)[1] == 0
        assert session.execute(select(OnboardingState.completed_at).where(OnboardingState.user_id == "racer")).scalar_one() == started + timedelta(hours=1)
        assert_reports_exact(session, checklist)


def test_a_user_moved_to_another_organization_is_counted_there_from_the_settled_rows(db_engine: Engine, checklist: Checklist) -> None:
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(5))
        refresh_until_settled(db_engine, checklist)
        in_period = select(OnboardingState.user_id, EndUser.org_id).join(EndUser, EndUser.id == OnboardingState.user_id)
        moved, org = session.execute(in_period.where(OnboardingState.started_at >= PERIOD.start, OnboardingState.started_at < PERIOD.end).order_by(OnboardingState.user_id).limit(1)).one()
        other = "org1" if org != "org1" else "org2"
        before = {row["org_id"]: row["users"] for row in kpis.organizations(kpis.ReportScope(session, checklist, PERIOD, Filters(), NOW, QUIET))["organizations"]}
        session.execute(update(EndUser).where(EndUser.id == moved).values(org_id=other))
        session.commit()
        assert counts(session)[1] == 0  # nobody to recompute: the settled row's organization moved with the user
        after = {row["org_id"]: row["users"] for row in kpis.organizations(kpis.ReportScope(session, checklist, PERIOD, Filters(), NOW, QUIET))["organizations"]}
        assert (after[org], after[other]) == (before[org] - 1, before[other] + 1)
        assert_reports_exact(session, checklist)


def test_the_migration_marks_the_users_already_there(database_url: str, checklist: Checklist) -> None:
    command.downgrade(alembic_config(database_url), "0007_job_queue")
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            generate(session, checklist, random.Random(7))
            users = set(session.execute(text("SELECT user_id FROM onboarding_events UNION SELECT user_id FROM conversations WHERE user_id IS NOT NULL")).scalars())
        command.upgrade(alembic_config(database_url), "head")
        with Session(engine) as session:
            assert set(session.execute(select(OnboardingDirty.user_id)).scalars()) == users
            assert_reports_exact(session, checklist)
            refresh_until_settled(engine, checklist)
            assert counts(session)[1] == 0
            assert_reports_exact(session, checklist)
    finally:
        engine.dispose()


def test_retention_is_the_same_from_settled_rows(db_engine: Engine, checklist: Checklist) -> None:
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(8))
        self_served(session, checklist)
        scopes = [kpis.ReportScope(session, checklist, PERIOD, Filters(org_id=org), NOW + timedelta(days=90), QUIET) for org in (None, "org2")]
        live = [retention(scope, (1, 2, 4)) for scope in scopes]
        assert any(group["users"] for report in live for group in report["groups"].values())
        refresh_until_settled(db_engine, checklist)
        assert counts(session)[1] == 0
        assert [retention(scope, (1, 2, 4)) for scope in scopes] == live


def test_a_write_from_another_session_during_the_refresh_keeps_its_user_dirty(db_engine: Engine, checklist: Checklist) -> None:
    """The writer waits for the refresh (PostgreSQL: its trigger, on the claimed mark; SQLite: the
    write lock), then marks its user again: the refresh's older row is not taken as settled."""
    started = datetime(2026, 11, 10, tzinfo=UTC)
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(2))
        refresh_until_settled(db_engine, checklist)
        event(session, checklist, "racer-1", "racer", "org1", "workspace.created", started)
    writer = threading.Thread(target=lambda: _write(db_engine, checklist, "racer-2", "racer", "project.created", started + timedelta(hours=1)))

    def write_meanwhile(_: Session) -> None:
        writer.start()
        time.sleep(0.5)  # the writer is waiting now

    with Session(db_engine) as refreshing:
        assert refresh_onboarding_states(refreshing, checklist, on_computed=write_meanwhile) == 1
    writer.join(timeout=10)
    with Session(db_engine) as session:
        assert session.execute(select(OnboardingDirty.user_id)).scalars().all() == ["racer"]
        assert session.execute(select(OnboardingState.completed_at).where(OnboardingState.user_id == "racer")).one() == (None,)  # the refresh's row
        assert_reports_exact(session, checklist)


def _write(engine: Engine, checklist: Checklist, event_id: str, user: str, name: str, at: datetime) -> None:
    with Session(engine) as session:
        event(session, checklist, event_id, user, "org1", name, at)
