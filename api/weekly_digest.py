"""The weekly review, posted to Slack by the server itself (no cron): off until
JISO_WEEKLY_DIGEST_CHANNELS names channels. Every instance checks every
JISO_WEEKLY_DIGEST_CHECK_SECONDS; a database claim per channel and week (bot.ledger.digests)
lets exactly one of them post it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session

from api.blocking_step import run_blocking_step
from api.settings import Settings
from bot.engine import Engine
from bot.ledger.digests import claim_digest, finish_digest
from bot.ledger.models import utcnow
from bot.onboarding import Checklist
from bot.reports import kpis
from bot.reports.periods import parse_tz
from bot.reports.weekly import last_full_week, weekly_review, weekly_text
from indexer.embedder import Embedder

log = logging.getLogger(__name__)


def post_due_digests(
    database: Database, settings: Settings, checklist: Checklist, embedder_for: Callable[[str], Embedder], client: WebClient, now: datetime, engine: Engine | None = None
) -> list[str]:
    """Post last week's review to every configured channel not claimed yet; the channels posted to.
    `engine`: the knowledge served now (its gaps leave out what it answers, as the dashboard's do)."""
    week = last_full_week(now, parse_tz(settings.weekly_digest_tz))
    posted = []
    text = None
    for channel in settings.weekly_digest_channels:
        with Session(database) as session:
            if not claim_digest(session, channel, week.first):
                continue
            try:
                if text is None:  # built once, and only when a channel is due
                    answered_now = kpis.answered_now_by(engine) if engine is not None else None
                    review = weekly_review(session, checklist, week, now, settings.assume_resolved_after, embedder_for, settings.gap_similarities(), answered_now)
                    text = weekly_text(review)
                client.chat_postMessage(channel=channel, text=text, mrkdwn=True)
                status = "posted"
                posted.append(channel)
            except SlackApiError as error:
                status = f"failed: {error.response.get('error', 'unknown error')}"
                log.error("the weekly digest for %s was not posted to %s (%s): check SLACK_BOT_TOKEN and invite the bot to the channel", week.first, channel, status)
            except Exception as error:  # the claim must end posted or failed: a week left "claimed" is never posted nor reported
                session.rollback()
                status = f"failed: {type(error).__name__}: {error}"[:500]
                log.error("the weekly digest for %s was not posted to %s (%s): check JISO_SLACK_API_URL and the network", week.first, channel, status)
            finish_digest(session, channel, week.first, status)
    return posted


async def post_weekly(
    database: Database, settings: Settings, checklist: Callable[[], Checklist], embedder_for: Callable[[str], Embedder], client: WebClient, engine: Callable[[], Engine | None]
) -> None:
    while True:
        try:
            await run_blocking_step(post_due_digests, database, settings, checklist(), embedder_for, client, utcnow(), engine())
        except Exception:  # a bad week must not stop next week's digest
            log.exception("the weekly digest check failed; retrying in %s s", settings.weekly_digest_check_seconds)
        await asyncio.sleep(settings.weekly_digest_check_seconds)
