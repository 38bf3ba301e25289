"""The outcome rollup (migration 0008, bot/ledger/rollups.py): the reports read from it must give
the numbers of the row-by-row computation — before and after compaction, after writes that change
conversations already counted (a reopen, a changed vote, a hand-over), at any `now`, and in zones
whose midnight is not on a UTC hour."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from alembic import op
from sqlalchemy import delete as sa_delete
from sqlalchemy import event, func
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlmodel import Session, select

from bot.ledger import handovers, rollups, writes
from bot.ledger.db import make_engine, upgrade
from bot.ledger.events import NewEvent, record_events
from bot.ledger.models import (
    Conversation,
    Escalation,
    HandoverFact,
    OnboardingEvent,
    OutcomeChange,
    OutcomeHour,
    OutcomeOrgDay,
    OutcomeOrgMonth,
    OutcomeOrgMonthTotal,
    PersonReply,
    Turn,
    UnknownEventChange,
    UnknownEventDay,
)
from bot.ledger.rollups import compact_changes, compact_outcome_changes
from bot.reports import kpis
from bot.reports.onboarding_states import refresh_until_settled
from bot.reports.periods import Period, parse_tz
from bot.reports.queries import Filters
from tests.reports.conftest import QUIET, converse
from tests.reports.test_kpis_random import NOW, START, generate

pytestmark = pytest.mark.integration
UTC = timezone.utc
ZONES = ("Asia/Tokyo", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns")  # +9, +5:30, +5:45, −3:30
FILTERS = (Filters(), Filters(channel="slack"), Filters(locale="en"), Filters(org_id="org2"))


def change_counted_conversations(session: Session, rng: random.Random, after: datetime) -> None:
    """Writes that move conversations already counted to another class, and that change what is
    known of their hand-overs (a person's reply, a close, a first question after a hand-over)."""
    conversations = list(session.exec(select(Conversation)))
    for conversation in [c for c in conversations if c.turn_count == 0]:
        at = max(conversation.last_activity_at, after) + timedelta(minutes=rng.randint(1, 3000))
        writes.record_escalation(session=session, conversation=conversation, reason="a person, please", destinations=["webhook"], now=at)
        writes.record_turn(session=session, conversation=conversation, question="hello?", answer_text=None, answered=False, now=at + timedelta(minutes=1))
    conversations = [c for c in conversations if c.turn_count > 0]
    for conversation in rng.sample(conversations, k=len(conversations) // 2):
        at = max(conversation.last_activity_at, after) + timedelta(minutes=rng.randint(1, 3000))
        escalation = handovers.latest_escalation(session=session, conversation_id=conversation.id)
        action = rng.choice(["reopen", "vote", "escalate", "quiet", *(["reply", "close"] if escalation is not None else [])])
        if action == "reply":
            handovers.record_reply(session=session, escalation=escalation, text="done for you", via="api", now=at)
        elif action == "close":
            handovers.close_escalation(session=session, escalation_id=escalation.id, now=at)
        elif action == "reopen":
            writes.record_turn(session=session, conversation=conversation, question="again", answer_text="a", answered=rng.random() < 0.5, now=at)
        elif action == "vote":
            last = session.exec(select(Turn).where(Turn.conversation_id == conversation.id, ~Turn.quiet).order_by(Turn.seq.desc())).first()
            if last is not None:
                writes.record_feedback(session=session, conversation=conversation, turn_id=last.id, helpful=rng.random() < 0.5, now=at)
        elif action == "escalate":
            writes.record_escalation(session=session, conversation=conversation, reason="a person, please", destinations=["webhook"], now=at)
        else:
            writes.record_turn(session=session, conversation=conversation, question="thanks", answer_text=None, answered=False, quiet=True, now=at)
    # Events counted already (unknown names by day): moved to another day, renamed, deleted; and new ones.
    events = list(session.exec(select(OnboardingEvent)))
    for e in rng.sample(events, k=len(events) // 3):
        change = rng.choice(["move", "rename", "delete"])
        if change == "delete":
            session.delete(e)
        elif change == "move":
            e.occurred_at += timedelta(hours=rng.randint(-30, 30))
        else:
            e.name = rng.choice(["page.viewed", "report.opened", "jiso.nudge.shown"])
        session.commit()
    fresh = [NewEvent(f"later-{i}", f"u{i}", "org1", rng.choice(["page.viewed", "report.opened"]), after + timedelta(minutes=rng.randint(0, 60 * 24 * 40))) for i in range(20)]
    record_events(session=session, events=fresh, known_names=frozenset())


def report(session: Session, checklist, now: datetime, zone: str, filters: Filters, *, rollups: bool) -> dict:
    period = Period.of(date(2026, 10, 25), date(2026, 11, 30), parse_tz(zone))
    scope = kpis.ReportScope(session, checklist, period, filters, now, QUIET, rollups=rollups)
    # Periods whose ends are read as a month minus its other days (before, after, within one month).
    others = [
        kpis.ReportScope(session, checklist, Period.of(first, last, parse_tz(zone)), filters, now, QUIET, rollups=rollups)
        for first, last in ((date(2026, 11, 3), date(2026, 12, 27)), (date(2026, 11, 2), date(2026, 11, 27)))
    ]
    summary = kpis.summary(scope)
    return {
        "summary": summary["conversations"],
        "unknown_events": summary["unknown_events"],
        "weeks": kpis.timeseries(scope, "week")["buckets"],
        "months": kpis.timeseries(scope, "month")["buckets"],
        "organizations": [kpis.organizations(s)["organizations"] for s in (scope, *others)],
    }


def assert_rollup_matches_rows(session: Session, checklist, nows: tuple[datetime, ...]) -> None:
    for now in nows:
        for zone in ZONES:
            for filters in FILTERS:
                assert report(session, checklist, now, zone, filters, rollups=True) == report(session, checklist, now, zone, filters, rollups=False), (now, zone, filters)


def rolled_up_totals(database) -> tuple[dict, dict]:
    """Per table and key: the compacted counts plus the pending changes, and the same counted from
    the conversations themselves."""
    hours, days, months, totals, changes = OutcomeHour.__table__, OutcomeOrgDay.__table__, OutcomeOrgMonth.__table__, OutcomeOrgMonthTotal.__table__, OutcomeChange.__table__
    got: dict = {}
    with database.connect() as connection:
        for name, rows in (
            ("hours", sa_select(hours.c.hour, hours.c.channel, hours.c.locale, hours.c.settled, hours.c.n)),
            ("days", sa_select(days.c.day, days.c.org_id, days.c.channel, days.c.locale, days.c.settled, days.c.n)),
            ("months", sa_select(months.c.month, months.c.org_id, months.c.channel, months.c.locale, months.c.settled, months.c.n)),
            ("totals", sa_select(totals.c.month, totals.c.org_id, totals.c.settled, totals.c.n)),
            ("changes", sa_select(changes.c.hour, changes.c.org_id, changes.c.channel, changes.c.locale, changes.c.settled, changes.c.n)),
        ):
            for *key, n in connection.execute(rows):
                if name == "changes":  # pending: counted in each table once folded
                    month = key[0].replace(day=1, hour=0)
                    keys = [("hours", (key[0], *key[2:])), ("days", (key[0].replace(hour=0), *key[1:])), ("months", (month, *key[1:])), ("totals", (month, key[1], key[4]))]
                else:
                    keys = [(name, tuple(key))]
                for table, k in keys:
                    got[table, k] = got.get((table, k), 0) + int(n)
    expected: dict = {}
    with Session(database) as session:
        for c in session.exec(select(Conversation).where(Conversation.turn_count > 0)):
            settled = "escalated" if c.escalated_at else "resolved_confirmed" if c.confirmed_at else "resolved_assumed" if c.last_turn_answered and not c.last_turn_not_helpful else "unanswered"
            hour = c.created_at.replace(minute=0, second=0, microsecond=0)
            org_key = (c.org_id or "", c.channel, c.locale or "", settled)
            month = hour.replace(day=1, hour=0)
            keys = (("hours", (hour, c.channel, c.locale or "", settled)), ("days", (hour.replace(hour=0), *org_key)), ("months", (month, *org_key)), ("totals", (month, c.org_id or "", settled)))
            for key in keys:
                expected[key] = expected.get(key, 0) + 1
    return {k: n for k, n in got.items() if n}, expected


def unknown_event_totals(database) -> tuple[dict, dict]:
    """Per UTC day and name: the folded count plus the pending changes, and the same counted from the events."""
    got: dict = {}
    with Session(database) as session:
        for row in [*session.exec(select(UnknownEventDay)), *session.exec(select(UnknownEventChange))]:
            got[row.day, row.name] = got.get((row.day, row.name), 0) + row.n
        expected: dict = {}
        for e in session.exec(select(OnboardingEvent).where(~OnboardingEvent.known)):
            if not e.name.startswith("jiso."):
                key = (e.occurred_at.replace(hour=0, minute=0, second=0, microsecond=0), e.name)
                expected[key] = expected.get(key, 0) + 1
    return {k: n for k, n in got.items() if n}, expected


def handover_facts(database) -> tuple[list, list]:
    """The hand-over facts the triggers kept, and the same read from the hand-overs, their
    conversations and replies."""
    with Session(database) as session:
        got = sorted(
            (f.escalation_id, f.conversation_id, f.created_at, f.closed_at, f.first_reply_at, f.started_at, f.org_id, f.channel, f.locale, f.asked, f.escalated_at, f.sole)
            for f in session.exec(select(HandoverFact))
        )
        conversations = {c.id: c for c in session.exec(select(Conversation))}
        replies = list(session.exec(select(PersonReply)))
        escalations = list(session.exec(select(Escalation)))
        expected = []
        for x in escalations:
            c = conversations[x.conversation_id]
            first_reply = min((r.created_at for r in replies if r.escalation_id == x.id), default=None)
            sole = sum(other.conversation_id == c.id for other in escalations) == 1
            expected.append((x.id, c.id, x.created_at, x.closed_at, first_reply, c.created_at, c.org_id, c.channel, c.locale, c.turn_count > 0, c.escalated_at, sole))
    return got, sorted(expected)


@pytest.mark.parametrize("seed", [4, 5])
def test_reports_from_the_rollup_equal_the_row_by_row_counts(db_engine, checklist, seed: int) -> None:
    rng = random.Random(seed)
    mid = START + timedelta(days=20)  # a `now` inside the data: recent conversations are open, later ones not yet begun
    with Session(db_engine) as session:
        generate(session, checklist, rng)
        assert_rollup_matches_rows(session, checklist, (NOW, mid))  # nothing compacted yet: all in the changes
        assert compact_outcome_changes(db_engine) > 0
        assert_rollup_matches_rows(session, checklist, (NOW, mid))
        change_counted_conversations(session, rng, after=START)
        assert_rollup_matches_rows(session, checklist, (NOW + timedelta(days=3), mid))  # compacted counts plus changes
        assert unknown_event_totals(db_engine)[0] == unknown_event_totals(db_engine)[1]
        compact_changes(db_engine)
        assert_rollup_matches_rows(session, checklist, (NOW + timedelta(days=3),))
    got, expected = rolled_up_totals(db_engine)
    assert got == expected
    got, expected = unknown_event_totals(db_engine)
    assert {name for _, name in got} == {"page.viewed", "report.opened"} and got == expected
    got, expected = handover_facts(db_engine)
    assert any(fact[4] for fact in got) and any(fact[3] for fact in got)  # replied to, closed
    assert any(fact[11] for fact in got) and not all(fact[11] for fact in got)  # sole hand-overs and conversations with several
    assert got == expected


def test_compacting_while_conversations_are_written_loses_and_doubles_nothing(db_engine) -> None:
    def write(worker: int) -> None:
        rng = random.Random(worker)
        with Session(db_engine) as session:
            for i in range(25):
                at = START + timedelta(minutes=rng.randint(0, 600))
                converse(session, at, [("ask", rng.random() < 0.5, 1), ("vote", rng.random() < 0.5, 2)] if i % 2 else [("ask", True, 1), ("escalate", None, 3)], channel=rng.choice(["web", "slack"]))

    stop = threading.Event()

    def compact() -> None:
        while not stop.is_set():
            compact_outcome_changes(db_engine)

    compactor = threading.Thread(target=compact)
    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    compactor.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    compactor.join()
    got, expected = rolled_up_totals(db_engine)
    assert sum(n for (table, _), n in expected.items() if table == "hours") == 75
    assert got == expected
    compact_outcome_changes(db_engine)
    assert rolled_up_totals(db_engine)[0] == expected


def test_upgrading_a_ledger_counts_the_conversations_it_already_has(tmp_path, checklist) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0007_job_queue")
    database = make_engine(url)
    with Session(database) as session:
        converse(session, datetime(2026, 11, 2, 3, 30, tzinfo=UTC), [("ask", True, 1)])
        converse(session, datetime(2026, 11, 2, 3, 50, tzinfo=UTC), [("ask", False, 1), ("escalate", None, 2)], channel="slack", locale="ja", org="org1")
        converse(session, datetime(2026, 11, 3, tzinfo=UTC), [])  # no question: not counted
    upgrade(url)
    got, expected = rolled_up_totals(database)
    assert sum(n for (table, _), n in got.items() if table == "hours") == 2
    assert got == expected
    with Session(database) as session:
        scope = kpis.ReportScope(session, checklist, Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("Asia/Kolkata")), Filters(), NOW, QUIET)
        talk = kpis.summary(scope)["conversations"]
    assert (talk["conversations"], talk["resolved_assumed"], talk["escalated"]) == (2, 1, 1)
    database.dispose()


def test_upgrading_to_the_month_rollup_sums_the_days_already_folded(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0009_onboarding_states")
    database = make_engine(url)
    with Session(database) as session:
        for i in range(6):
            converse(session, datetime(2026, 10, 30, tzinfo=UTC) + timedelta(days=i), [("ask", i % 2 == 0, 1)], org=f"org{i % 2}")
    assert compact_outcome_changes(database) == 6  # folded into the days by the previous version
    with Session(database) as session:
        converse(session, datetime(2026, 11, 20, tzinfo=UTC), [("ask", True, 1)], org="org1")  # still a change
    upgrade(url)
    got, expected = rolled_up_totals(database)
    assert sum(n for (table, _), n in got.items() if table == "months") == 7
    assert got == expected
    compact_outcome_changes(database)
    assert rolled_up_totals(database) == (expected, expected)
    database.dispose()


def test_a_fold_by_another_instance_during_the_upgrade_waits_and_is_counted_once(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0009_onboarding_states")
    database = make_engine(url)
    with Session(database) as session:
        converse(session, datetime(2026, 11, 2, tzinfo=UTC), [("ask", True, 1)], org="org1")
    compact_outcome_changes(database)  # a day count, folded by the previous version
    with Session(database) as session:
        converse(session, datetime(2026, 11, 3, tzinfo=UTC), [("ask", True, 1)], org="org1")  # pending: folded during the upgrade
    folder: list[threading.Thread] = []
    execute = op.execute

    def fold_before_the_month_sum(sql, *args, **kwargs):  # noqa: ANN001, ANN202
        if isinstance(sql, str) and sql.startswith("INSERT INTO outcome_org_months") and "FROM outcome_org_days" in sql:
            folder.append(threading.Thread(target=compact_outcome_changes, args=(database,)))
            folder[0].start()
            folder[0].join(1.0)  # were the upgrade not holding the write lock, the fold would be done by now
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(op, "execute", fold_before_the_month_sum)
    upgrade(url)
    folder[0].join()
    got, expected = rolled_up_totals(database)
    assert sum(n for (table, _), n in got.items() if table == "months") == 2
    assert got == expected
    database.dispose()


def test_upgrading_to_the_hand_over_facts_copies_the_hand_overs_already_recorded(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0010_outcome_org_months")
    database = make_engine(url)
    with Session(database) as session:
        at = datetime(2026, 11, 2, tzinfo=UTC)
        converse(session, at, [("ask", False, 1), ("escalate", None, 2), ("reply", None, 30), ("reply", None, 40), ("close", None, 50)], org="org1", channel="slack", locale="ja")
        converse(session, at, [("escalate", None, 1)])  # no question yet
    upgrade(url)
    got, expected = handover_facts(database)
    assert len(got) == 2 and got == expected
    with Session(database) as session:  # kept from now on by the triggers
        converse(session, at, [("ask", True, 1), ("escalate", None, 2), ("reply", None, 3)])
    got, expected = handover_facts(database)
    assert len(got) == 3 and got == expected
    database.dispose()


def test_upgrading_to_the_unknown_event_days_counts_the_events_already_recorded(tmp_path, checklist) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0015_report_indexes")
    database = make_engine(url)
    at = datetime(2026, 11, 10, 12, tzinfo=UTC)
    names = ["page.viewed", "page.viewed", "report.opened", "jiso.nudge.shown", "workspace.created"]
    with Session(database) as session:
        record_events(session=session, events=[NewEvent(f"e{i}", "u1", "org1", name, at + timedelta(hours=i)) for i, name in enumerate(names)], known_names=checklist.event_names)
    upgrade(url)
    period = Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("Asia/Tokyo"))
    expected = [{"name": "page.viewed", "count": 2}, {"name": "report.opened", "count": 1}]
    with Session(database) as session:
        assert kpis.summary(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET))["unknown_events"] == expected
        assert compact_changes(database) > 0
        record_events(session=session, events=[NewEvent("later", "u2", "org2", "report.opened", at)], known_names=checklist.event_names)  # kept from now on by the triggers
        expected[1]["count"] = 2
        assert kpis.summary(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET))["unknown_events"] == expected
    got, expected_days = unknown_event_totals(database)
    assert got == expected_days == {(at.replace(hour=0), "page.viewed"): 2, (at.replace(hour=0), "report.opened"): 2}
    database.dispose()


def test_upgrading_to_sole_hand_overs_marks_the_conversations_handed_over_once(tmp_path, checklist) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0012_onboarding_state_orgs")
    database = make_engine(url)
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with Session(database) as session:
        twice = converse(session, at, [("ask", False, 1), ("escalate", None, 2), ("close", None, 3), ("ask", False, 4), ("escalate", None, 5)])
        once = converse(session, at, [("ask", False, 1), ("escalate", None, 2), ("close", None, 3)])
        twice_id, once_id = twice.id, once.id
    upgrade(url)
    got, expected = handover_facts(database)
    assert got == expected and sorted(fact[11] for fact in got) == [False, False, True]
    with Session(database) as session:
        converse(session, at, [("ask", False, 1), ("escalate", None, 2), ("close", None, 3)])
        writes.record_escalation(session=session, conversation=session.get(Conversation, once_id), reason="again", destinations=["webhook"], now=at + timedelta(minutes=9))
        session.execute(sa_delete(Escalation).where(Escalation.id == handovers.latest_escalation(session=session, conversation_id=twice_id).id))
        session.commit()
    got, expected = handover_facts(database)
    assert got == expected and sorted(fact[11] for fact in got) == [False, False, True, True]
    with Session(database) as session:  # `twice` has one closed hand-over left, the third is closed, `once` has an open one
        period = Period.of(date(2026, 11, 1), date(2026, 11, 30), parse_tz("UTC"))
        scope = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET)
        assert kpis.summary(scope)["conversations"]["resolved_by_person"] == 2
    database.dispose()


def write_behind(holder: Session, write: Callable[[], None]) -> None:
    """Run `write` in another thread while `holder`'s writes are uncommitted (it waits for them),
    then commit them and let `write` finish."""
    behind = threading.Thread(target=write)
    behind.start()
    behind.join(0.5)
    holder.commit()
    holder.close()
    behind.join()


def test_two_hand_overs_of_one_conversation_at_once_are_neither_sole(db_engine) -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with Session(db_engine) as session:
        conversation = converse(session, at, [("ask", False, 1)])
    first = Session(db_engine)
    writes._lock(first, first.get(Conversation, conversation.id))  # as record_escalation does first
    first.add(Escalation(conversation_id=conversation.id, reason="first", destinations=[], delivery={}, created_at=at + timedelta(minutes=2)))
    first.flush()  # the first hand-over's fact says sole; not committed yet

    def hand_over_again() -> None:
        with Session(db_engine) as session:
            writes.record_escalation(session=session, conversation=session.get(Conversation, conversation.id), reason="second", destinations=[], now=at + timedelta(minutes=3))

    write_behind(first, hand_over_again)  # waits for the conversation (PostgreSQL: its row lock; SQLite: the write lock)
    got, expected = handover_facts(db_engine)
    assert got == expected and [fact[11] for fact in got] == [False, False]


def test_a_reply_written_while_another_is_uncommitted_keeps_the_earlier_one_first(db_engine) -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with Session(db_engine) as session:
        conversation = converse(session, at, [("ask", False, 1), ("escalate", None, 2)])
        escalation = handovers.latest_escalation(session=session, conversation_id=conversation.id)
    first = Session(db_engine)
    first.add(PersonReply(conversation_id=conversation.id, escalation_id=escalation.id, text="first", via="api", created_at=at + timedelta(minutes=5)))
    first.flush()  # the trigger has moved the fact's first reply; not committed yet

    def reply_later() -> None:
        with Session(db_engine) as session:
            handovers.record_reply(session=session, escalation=escalation, text="second", via="api", now=at + timedelta(minutes=10))

    write_behind(first, reply_later)  # waits for the first writer (PostgreSQL: the fact's row lock; SQLite: the write lock)
    got, expected = handover_facts(db_engine)
    assert got == expected and got[0][4] == at + timedelta(minutes=5)


def test_a_close_waiting_for_a_first_question_keeps_the_question(db_engine) -> None:
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with Session(db_engine) as session:
        conversation = converse(session, at, [("escalate", None, 1)], locale=None)  # no question yet
        escalation = handovers.latest_escalation(session=session, conversation_id=conversation.id)
    asking = Session(db_engine)
    asking.execute(sa_update(Conversation).where(Conversation.id == conversation.id).values(turn_count=1, locale="ja"))  # its trigger holds the fact

    def close() -> None:
        with Session(db_engine) as session:
            handovers.close_escalation(session=session, escalation_id=escalation.id, now=at + timedelta(hours=1))

    write_behind(asking, close)  # PostgreSQL: the close's trigger waits for the fact's row; SQLite: for the write lock
    got, expected = handover_facts(db_engine)
    assert got == expected and (got[0][8], got[0][9]) == ("ja", True)


def test_an_organization_with_nothing_in_the_period_but_in_its_months_is_not_listed(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        converse(session, datetime(2026, 11, 1, 6, tzinfo=UTC), [("ask", True, 1)], org="early")  # the day taken away
        converse(session, datetime(2026, 11, 10, 6, tzinfo=UTC), [("ask", True, 1)], org="org1")
        compact_outcome_changes(db_engine)
        period = Period.of(date(2026, 11, 2), date(2026, 11, 27), parse_tz("UTC"))  # November minus four days
        reports = [kpis.organizations(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET, rollups=rollups))["organizations"] for rollups in (True, False)]
    assert reports[0] == reports[1] and [row["org_id"] for row in reports[0]] == ["org1"]


def test_unknown_events_at_the_edges_of_days_and_periods_count_once(db_engine, checklist) -> None:
    midnight = datetime(2026, 11, 10, tzinfo=UTC)
    times = {"before": midnight - timedelta(microseconds=1), "at": midnight, "next": midnight + timedelta(days=1)}
    with Session(db_engine) as session:
        record_events(session=session, events=[NewEvent(key, "u1", "org1", "page.viewed", at) for key, at in times.items()], known_names=checklist.event_names)
        record_events(session=session, events=[NewEvent("learned", "u2", "org2", "report.opened", midnight)], known_names=checklist.event_names)
        record_events(session=session, events=[NewEvent("made", "u2", "org2", "workspace.created", midnight + timedelta(hours=12))], known_names=checklist.event_names)

        def names(first: date, last: date, zone: str) -> list[tuple[str, int]]:
            reports = [
                kpis.summary(kpis.ReportScope(session, checklist, Period.of(first, last, parse_tz(zone)), Filters(), NOW, QUIET, rollups=rollups))["unknown_events"] for rollups in (True, False)
            ]
            assert reports[0] == reports[1], (first, last, zone)
            return [(row["name"], row["count"]) for row in reports[0]]

        day, next_day = date(2026, 11, 10), date(2026, 11, 11)
        for _ in range(2):  # as changes, then folded
            assert names(day, day, "UTC") == [("page.viewed", 1), ("report.opened", 1)]  # one whole UTC day: the event at its midnight, not the one before
            assert names(day, next_day, "UTC") == [("page.viewed", 2), ("report.opened", 1)]
            assert names(day, day, "Asia/Tokyo") == [("page.viewed", 2), ("report.opened", 1)]  # 15:00 to 15:00 UTC: no whole UTC day inside
            assert names(day, next_day, "Asia/Tokyo") == [("page.viewed", 3), ("report.opened", 1)]  # a whole UTC day and the hours each side
            assert names(day, day, "America/St_Johns") == [("page.viewed", 1)]  # from 03:30 UTC: midnight's events are the day before's
            compact_changes(db_engine)
        # The checklist learns a name (its events become known) and forgets another.
        session.execute(sa_update(OnboardingEvent).where(OnboardingEvent.name == "report.opened").values(known=True))
        session.execute(sa_update(OnboardingEvent).where(OnboardingEvent.name == "workspace.created").values(known=False))
        session.commit()
        for _ in range(2):  # as changes, then folded
            assert names(day, next_day, "UTC") == [("page.viewed", 2), ("workspace.created", 1)]
            compact_changes(db_engine)
    got, expected = unknown_event_totals(db_engine)
    assert got == expected
    assert got == {(midnight - timedelta(days=1), "page.viewed"): 1, (midnight, "page.viewed"): 1, (midnight, "workspace.created"): 1, (midnight + timedelta(days=1), "page.viewed"): 1}


def test_a_backlog_is_folded_in_batches_that_add_up(db_engine, monkeypatch) -> None:
    monkeypatch.setattr(rollups, "SQLITE_BATCH", 7)  # SQLite folds a backlog in steps (it holds the write lock)
    with Session(db_engine) as session:
        for i in range(30):
            converse(session, START + timedelta(minutes=37 * i), [("ask", i % 3 != 0, 1)], org=f"org{i % 4}")
    assert rollups.compact_outcome_changes(db_engine) == 30
    got, expected = rolled_up_totals(db_engine)
    assert got == expected
    with db_engine.connect() as connection:
        assert connection.execute(sa_select(func.count()).select_from(OutcomeChange.__table__)).scalar_one() == 0


def test_sqlite_reads_the_medians_and_open_hand_overs_off_their_indexes(tmp_path, checklist) -> None:
    """The report indexes (migration 0015) hold the same expressions the reports sort by and the
    columns they read: a change to either would silently bring back a sort or a lookup of every
    row of the period."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        generate(session, checklist, random.Random(4))
    refresh_until_settled(engine, checklist)
    statements: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cursor, statement, parameters, _ctx, _many: statements.append((statement, parameters)))
    period = Period.of(date(2026, 10, 25), date(2026, 11, 30), parse_tz("Asia/Tokyo"))
    with Session(engine) as session:
        scope = kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET)
        summary = kpis.summary(scope)
        assert any(row["open_escalations"] for row in kpis.organizations(scope)["organizations"])
        assert summary["onboarding"]["median_time_to_complete_hours"] is not None and summary["conversations"]["median_time_to_close_hours"] is not None
        plans = [list(session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)) for statement, parameters in statements if not statement.startswith("EXPLAIN")]
    engine.dispose()

    def below(plan: list, node: int) -> list[str]:
        """The steps of `plan` under the step `node`."""
        children = [row for row in plan if row[1] == node]
        return [step for row in children for step in (row[-1], *below(plan, row[0]))]

    # Each hand-over median: its index scanned in order, nothing sorted.
    ranks = [below(plan, row[0]) for plan in plans for row in plan if row[-1].startswith("CO-ROUTINE")]
    for index in ("ix_handover_facts_to_close", "ix_handover_facts_to_reply"):
        (rank,) = [steps for steps in ranks if f"SCAN handover_facts USING COVERING INDEX {index}" in steps]
        assert "USE TEMP B-TREE FOR ORDER BY" not in rank, rank
    # Each onboarding percentile: the settled users in index order, merged with the live ones.
    assert sum(below(plan, 0) == ["SCAN handover_facts USING COVERING INDEX ix_handover_facts_org_open"] for plan in plans) == 2  # by organization, and in all
    merges = [below(plan, row[0]) for plan in plans for row in plan if row[-1] == "MERGE (UNION ALL)"]
    assert len(merges) == 2
    for merge in merges:
        settled = merge[: merge.index("RIGHT")]
        assert "SCAN onboarding_states USING COVERING INDEX ix_onboarding_states_to_complete" in settled and "USE TEMP B-TREE FOR ORDER BY" not in settled, merge


def test_postgresql_can_read_the_hand_over_medians_off_their_indexes(db_engine, checklist) -> None:
    """The hours indexes of migration 0017 are on the expressions the medians order by and hold
    every column they filter on: with sorts and heap reads priced out (a small ledger is cheaper
    to sort; a large one is not), each median is an index-only scan in hours order. A change to
    `hours_between` or to the conditions would silently bring back a sort of every fact."""
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite's plans: test_sqlite_reads_the_medians_and_open_hand_overs_off_their_indexes")
    with Session(db_engine) as session:
        generate(session, checklist, random.Random(4))
    statements: list[tuple[str, object]] = []
    event.listen(db_engine, "before_cursor_execute", lambda _c, _cursor, statement, parameters, _ctx, _many: statements.append((statement, parameters)))
    period = Period.of(date(2026, 10, 25), date(2026, 11, 30), parse_tz("Asia/Tokyo"))
    with Session(db_engine) as session:
        talk = kpis.summary(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET))["conversations"]
        assert talk["median_time_to_close_hours"] is not None and talk["median_time_to_first_human_reply_hours"] is not None
        (statement, parameters), *_ = [(s, p) for s, p in statements if "first_reply_at" in s and "OFFSET" in s]
        connection = session.connection()
        for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
            connection.exec_driver_sql(f"SET LOCAL {setting} = off")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
    for index in ("ix_handover_facts_to_close", "ix_handover_facts_to_reply"):
        assert f"Index Only Scan using {index}" in plan, plan
    assert "Sort Key" not in plan, plan
