"""Stopping the reports' upkeep (the server shutting down) waits for the step its thread runs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.report_upkeep import keep_reports_current
from bot.ledger.models import OnboardingDirty
from bot.onboarding import Checklist
from tests.reports.conftest import event

pytestmark = pytest.mark.integration


def test_stopping_the_upkeep_waits_for_the_step_in_progress(db_engine: Engine, checklist: Checklist) -> None:
    with Session(db_engine) as session:
        event(session, checklist, "e1", "u1", "o1", "workspace.created", datetime(2025, 1, 6, tzinfo=timezone.utc))
        assert session.scalar(select(func.count()).select_from(OnboardingDirty)) == 1
    settling, release = threading.Event(), threading.Event()

    def held_checklist() -> Checklist:  # read in the thread, as the settling step starts
        settling.set()
        assert release.wait(2)
        return checklist

    async def shut_down_while_settling() -> None:
        upkeep = asyncio.create_task(keep_reports_current(db_engine, held_checklist, interval=60))
        assert await asyncio.to_thread(settling.wait, 2)
        upkeep.cancel()
        try:
            stopped, _ = await asyncio.wait([upkeep], timeout=0.2)
            assert not stopped, "the upkeep stopped while its thread was still settling"
        finally:
            release.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(upkeep, 2)

    with ThreadPoolExecutor(1) as own_loop:  # Playwright (the browser tests) keeps an event loop running in this thread
        own_loop.submit(asyncio.run, shut_down_while_settling()).result()
    assert db_engine.pool.checkedout() == 0  # nothing left running for dispose() to race with
    with Session(db_engine) as session:
        assert session.scalar(select(func.count()).select_from(OnboardingDirty)) == 0  # the step ran to its end
