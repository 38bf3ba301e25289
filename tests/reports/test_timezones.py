"""Buckets in −08:00, +00:00 and +09:00: every conversation lands in exactly one bucket, events
on a local midnight belong to the day that starts there."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlmodel import Session

from bot.reports import kpis
from bot.reports.periods import Period, parse_tz
from bot.reports.queries import Filters
from tests.reports.conftest import QUIET, converse

pytestmark = pytest.mark.integration
UTC = timezone.utc
NOW = datetime(2026, 12, 20, tzinfo=UTC)

# Instants (UTC) at and next to the local midnights that start Monday Nov 9 in each zone:
# +09:00 → Nov 8 15:00Z, +00:00 → Nov 9 00:00Z, −08:00 → Nov 9 08:00Z.
INSTANTS = [
    datetime(2026, 11, 8, 14, 59, 59, 999999, tzinfo=UTC),  # 1: Tokyo Sun 23:59:59.999999
    datetime(2026, 11, 8, 15, 0, tzinfo=UTC),  # 2: Tokyo Mon 00:00 (boundary)
    datetime(2026, 11, 8, 23, 59, 59, tzinfo=UTC),  # 3: UTC Sun 23:59:59
    datetime(2026, 11, 9, 0, 0, tzinfo=UTC),  # 4: UTC Mon 00:00 (boundary)
    datetime(2026, 11, 9, 7, 59, 59, 999999, tzinfo=UTC),  # 5: −08:00 Sun 23:59:59.999999
    datetime(2026, 11, 9, 8, 0, tzinfo=UTC),  # 6: −08:00 Mon 00:00 (boundary)
    datetime(2026, 11, 30, 15, 0, tzinfo=UTC),  # 7: Tokyo Tue Dec 1; elsewhere Mon Nov 30
    datetime(2026, 11, 30, 7, 59, tzinfo=UTC),  # 8: −08:00 Sun Nov 29 23:59; elsewhere Mon Nov 30
]

# Expected weekly counts, worked out by hand from the comments above: week label → conversations.
EXPECTED = {
    "Etc/GMT+8": {"2026-11-02": 5, "2026-11-09": 1, "2026-11-23": 1, "2026-11-30": 1},  # 1–5 | 6 | 8 | 7
    "UTC": {"2026-11-02": 3, "2026-11-09": 3, "2026-11-30": 2},  # 1–3 | 4–6 | 7, 8
    "Asia/Tokyo": {"2026-11-02": 1, "2026-11-09": 5, "2026-11-30": 2},  # 1 | 2–6 | 7, 8
}


@pytest.mark.parametrize("tz", list(EXPECTED))
def test_weekly_buckets_by_timezone(db_engine, checklist, tz: str) -> None:
    with Session(db_engine) as session:
        for at in INSTANTS:
            converse(session, at, [("ask", True, 0)])
        period = Period.of(date(2026, 11, 2), date(2026, 12, 6), parse_tz(tz))
        report = kpis.timeseries(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET), "week")
    counts = {row["bucket"]: row["conversations"] for row in report["buckets"] if row["conversations"]}
    assert counts == EXPECTED[tz]
    assert sum(counts.values()) == len(INSTANTS)  # nothing dropped, nothing counted twice
    edges = [(row["start_utc"], row["end_utc"]) for row in report["buckets"]]
    assert all(edges[i][1] == edges[i + 1][0] for i in range(len(edges) - 1))


def test_monthly_buckets_follow_local_months(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        for at in INSTANTS:
            converse(session, at, [("ask", True, 0)])
        period = Period.of(date(2026, 11, 1), date(2026, 12, 31), parse_tz("Asia/Tokyo"))
        report = kpis.timeseries(kpis.ReportScope(session, checklist, period, Filters(), NOW, QUIET), "month")
    assert [(row["bucket"], row["conversations"]) for row in report["buckets"]] == [("2026-11-01", 7), ("2026-12-01", 1)]  # only 7 is in December in Tokyo
    assert report["buckets"][0]["start_utc"] == "2026-10-31T15:00:00Z"


def test_summary_period_in_timezone(db_engine, checklist) -> None:
    with Session(db_engine) as session:
        for at in INSTANTS:
            converse(session, at, [("ask", True, 0)])
        day = Period.of(date(2026, 11, 8), date(2026, 11, 8), parse_tz("Etc/GMT+8"))  # Sun Nov 8 at −08:00
        report = kpis.summary(kpis.ReportScope(session, checklist, day, Filters(), NOW, QUIET))
    # [Nov 8 08:00Z, Nov 9 08:00Z): instants 1–5; 6 is the next day's first instant.
    assert report["conversations"]["conversations"] == 5
    assert report["period"]["start_utc"] == "2026-11-08T08:00:00Z"
