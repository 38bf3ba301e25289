"""Onboarding states under concurrency on PostgreSQL (row locks): two event batches naming the
same users in different orders (two product backends, a retry), and two refreshes (two
instances) that both come to a user — one through its stale row, one through a mark written
meanwhile. Neither may fail a request or a batch."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from sqlmodel import Session

from bot.ledger.events import NewEvent, record_events
from bot.reports.onboarding_states import refresh_onboarding_states
from tests.reports.conftest import event

pytestmark = pytest.mark.integration
USERS = [f"u{i:03d}" for i in range(2000)]
AT = datetime(2026, 11, 2, tzinfo=timezone.utc)


def test_concurrent_event_batches_do_not_fail(db_engine, checklist) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    with Session(db_engine) as session:  # the users exist and are marked (as after any earlier event)
        record_events(session=session, events=[NewEvent(f"seed-{u}", u, "org1", "project.created", AT) for u in USERS], known_names=checklist.event_names)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    for round_ in range(5):
        run_round(db_engine, checklist, barrier, errors, round_)
    assert not errors, [type(e).__name__ + ": " + str(e).splitlines()[0] for e in errors]


def run_round(db_engine, checklist, barrier, errors, round_) -> None:

    def ingest(tag: str, users: list[str]) -> None:
        with Session(db_engine) as session:
            barrier.wait()
            try:
                record_events(session=session, events=[NewEvent(f"{tag}{round_}-{u}", u, "org1", "project.created", AT) for u in users], known_names=checklist.event_names)
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=ingest, args=("a", USERS)), threading.Thread(target=ingest, args=("b", USERS[::-1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_stale_user_marked_dirty_during_a_refresh_does_not_fail_another_refresh(db_engine, checklist) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    with Session(db_engine) as session:
        event(session, checklist, "e1", "u1", "org1", "workspace.created", AT)
        assert refresh_onboarding_states(session, checklist) == 1  # settled under the first checklist
    changed = replace(checklist, steps=tuple(replace(step, required=i == 0) for i, step in enumerate(checklist.steps)))
    errors: list[BaseException] = []
    other_done = threading.Event()

    def other_instance() -> None:
        try:
            with Session(db_engine) as session:
                refresh_onboarding_states(session, changed)  # takes u1 through its new dirty mark
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        other_done.set()

    thread = threading.Thread(target=other_instance)

    def meanwhile(_session: Session) -> None:
        with Session(db_engine) as writer:  # a new event for u1 commits: u1 is marked dirty
            event(writer, checklist, "e2", "u1", "org1", "integration.slack.connected", AT)
        thread.start()
        other_done.wait(1.0)  # the other refresh now waits on this one's onboarding_states row

    with Session(db_engine) as session:
        assert refresh_onboarding_states(session, changed, on_computed=meanwhile) == 1  # u1 as a stale row
    thread.join()
    assert not errors, [type(e).__name__ + ": " + str(e).splitlines()[0] for e in errors]
