"""Keeping the reports' aggregates current while the server runs (docs/kpis.md, "Rollups").

The reports are exact without this loop (they add what was not folded in yet); it keeps that part
small so they stay fast. Every instance runs it: concurrent runs are safe (bot/ledger/rollups.py).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import Engine as Database
from starlette.concurrency import run_in_threadpool

from bot.ledger.rollups import compact_outcome_changes

log = logging.getLogger(__name__)
UPKEEP_EVERY_SECONDS = 10.0


async def keep_reports_current(database: Database, interval: float = UPKEEP_EVERY_SECONDS) -> None:
    while True:
        try:
            await run_in_threadpool(compact_outcome_changes, database)
        except Exception:  # the reports stay exact, only slower; the next round tries again
            log.exception("folding the outcome changes into the rollup failed")
        await asyncio.sleep(interval)
