"""Claims on the weekly digest: one row per channel and week. The unique key makes the first
instance to insert it the one that posts; every other instance (or a second run) finds it."""

from __future__ import annotations

from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.ledger.models import DigestDelivery


def claim_digest(session: Session, channel: str, week_start: date) -> bool:
    """True for the one caller that may post this week's digest to `channel`."""
    session.add(DigestDelivery(channel=channel, week_start=week_start.isoformat()))
    try:
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def finish_digest(session: Session, channel: str, week_start: date, status: str) -> None:
    """`posted`, or `failed: <why>` (not retried: a digest twice is worse than one missing)."""
    row = session.exec(select(DigestDelivery).where(DigestDelivery.channel == channel, DigestDelivery.week_start == week_start.isoformat())).one()
    row.status = status[:500]
    session.add(row)
    session.commit()
