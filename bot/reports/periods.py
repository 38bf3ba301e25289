"""Report periods in the manager's timezone, as UTC instants the database compares against.

SQLite has no timezone database, so no SQL does timezone math: local midnights are computed here
with zoneinfo (DST-correct) and turned into half-open UTC ranges [start, end). Consecutive
buckets share their boundary, so every instant falls in exactly one bucket whatever the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = Literal["week", "month"]
DEFAULT_DAYS = 30  # the period a report covers when none is given: the API, the dashboard and `jiso report`


class BadPeriod(ValueError):
    pass


def parse_tz(name: str) -> ZoneInfo:
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadPeriod(f"unknown timezone '{name}': use an IANA name such as UTC, Asia/Tokyo or America/Los_Angeles") from None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


@dataclass(frozen=True)
class Period:
    """Local days `first`..`last` (inclusive), as the UTC range [start, end)."""

    first: date
    last: date
    tz: ZoneInfo
    start: datetime
    end: datetime

    @classmethod
    def of(cls, first: date, last: date, tz: ZoneInfo) -> Period:
        if last < first:
            raise BadPeriod(f"'to' ({last}) is before 'from' ({first})")
        if (last - first).days > 3660:
            raise BadPeriod("the period is longer than ten years")
        return cls(first, last, tz, local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz))

    def to_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "tz": self.tz.key, "start_utc": iso(self.start), "end_utc": iso(self.end)}


@dataclass(frozen=True)
class Bucket:
    label: date  # the local first day of the week (Monday) or month
    start: datetime
    end: datetime


def _period_start(day: date, interval: Interval) -> date:
    return day - timedelta(days=day.weekday()) if interval == "week" else day.replace(day=1)


def _next(day: date, interval: Interval) -> date:
    if interval == "week":
        return day + timedelta(days=7)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def buckets(period: Period, interval: Interval) -> list[Bucket]:
    """Whole local weeks (Monday first) or months covering the period, contiguous in UTC."""
    if interval not in ("week", "month"):
        raise BadPeriod("interval must be week or month")
    days = [_period_start(period.first, interval)]
    while days[-1] <= period.last:
        days.append(_next(days[-1], interval))
    edges = [local_midnight(day, period.tz) for day in days]
    return [Bucket(days[i], edges[i], edges[i + 1]) for i in range(len(days) - 1)]


def parse_since(text: str, now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """`7d`, `4w` or `1m` (30 days) back from today, today included; or an ISO date."""
    today = local_today(now, tz)
    units = {"d": 1, "w": 7, "m": 30}
    if text[:-1].isdigit() and text[-1:] in units and int(text[:-1]) > 0:
        return today - timedelta(days=int(text[:-1]) * units[text[-1]] - 1), today
    try:
        return date.fromisoformat(text), today
    except ValueError:
        raise BadPeriod(f"--since '{text}': use e.g. 7d, 4w, 1m or a date like 2026-11-01") from None


def iso(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
