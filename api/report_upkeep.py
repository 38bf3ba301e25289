"""Keeping the reports' aggregates current while the server runs (docs/kpis.md, "How it is
computed"): fold the outcome and unknown event changes into the rollups, and settle the
onboarding states of the users written to since.

The reports are exact without this loop (they compute what is not settled yet); it keeps that part
small so they stay fast. Every instance runs it: concurrent runs are safe (bot/ledger/rollups.py,
bot/reports/onboarding_states.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine as Database

from api.blocking_step import run_blocking_step
from bot.ledger.rollups import compact_changes
from bot.onboarding import Checklist
from bot.reports.onboarding_states import refresh_until_settled

log = logging.getLogger(__name__)
UPKEEP_EVERY_SECONDS = 10.0
SETTLE_FOR = timedelta(seconds=5)  # then the loop sleeps, so a backlog (a bulk import) is worked off in steps


async def keep_reports_current(database: Database, checklist: Callable[[], Checklist], interval: float = UPKEEP_EVERY_SECONDS) -> None:
    while True:
        for what, work in (
            ("folding the outcome and unknown event changes into the rollups", lambda: compact_changes(database)),
            ("settling the onboarding states", lambda: refresh_until_settled(database, checklist(), budget=SETTLE_FOR)),
        ):
            try:
                await run_blocking_step(work)
            except Exception:  # the reports stay exact, only slower; the next round tries again
                log.exception("%s failed", what)
        await asyncio.sleep(interval)
