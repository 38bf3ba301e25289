"""The weekly review (the PDCA page): last full week against the week before for deflection,
self-serve completion and time to complete, the top content gaps, and the organizations with
the most stuck members. Posted by the server's weekly digest job (api/weekly_digest.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.onboarding import Checklist
from bot.reports import kpis
from bot.reports.members import stuck_by_organization
from bot.reports.periods import Period, local_today
from bot.reports.queries import Filters
from indexer.embedder import Embedder

TOP = 3


def last_full_week(now: datetime, tz: ZoneInfo) -> Period:
    """The local Monday–Sunday week before the one `now` is in."""
    today = local_today(now, tz)
    monday = today - timedelta(days=today.weekday() + 7)
    return Period.of(monday, monday + timedelta(days=6), tz)


def _headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "conversations": summary["conversations"]["conversations"],
        "deflection_rate": summary["conversations"]["deflection_rate"],
        "users_started": summary["onboarding"]["users_started"],
        "self_serve_completion_rate": summary["onboarding"]["self_serve_completion_rate"],
        "median_time_to_complete_hours": summary["onboarding"]["median_time_to_complete_hours"],
    }


def weekly_review(
    session: Session,
    checklist: Checklist,
    week: Period,
    now: datetime,
    quiet: timedelta,
    embedder_for: Callable[[str], Embedder],
    min_similarity: Mapping[str, float],
    answered_now: Callable[[str, str], bool] | None = None,
) -> dict[str, Any]:
    """`answered_now`: as for `kpis.gaps` (the gaps the knowledge answers now are left out, as on the dashboard)."""
    before = Period.of(week.first - timedelta(days=7), week.last - timedelta(days=7), week.tz)
    this = kpis.ReportScope(session, checklist, week, Filters(), now, quiet)
    last = kpis.ReportScope(session, checklist, before, Filters(), now, quiet)
    gaps = kpis.gaps(this, embedder_for, min_similarity=min_similarity, top=TOP, answered_now=answered_now)["clusters"]
    stuck = sorted(stuck_by_organization(session, checklist, now, quiet).items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return {
        **this.header(),
        "this_week": _headline(kpis.summary(this)),
        "last_week": {**_headline(kpis.summary(last)), "period": before.to_json()},
        "gaps": [{"label": gap["label"], "count": gap["count"]} for gap in gaps],
        "stuck_organizations": [{"org_id": org_id, "stuck_members": count} for org_id, count in stuck],
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value:g} h"


def _change(now: float | None, before: float | None, show: Callable[[float | None], str]) -> str:
    return f"{show(now)} (last week {show(before)})"


def weekly_text(review: Mapping[str, Any]) -> str:
    this, last, period = review["this_week"], review["last_week"], review["period"]
    lines = [
        f"*jiso weekly review* {period['from']} → {period['to']} ({period['tz']})  [{review['kpi_version']}]",
        f"Deflection          {_change(this['deflection_rate'], last['deflection_rate'], _pct)}  · {this['conversations']} conversations",
        f"Self-serve complete {_change(this['self_serve_completion_rate'], last['self_serve_completion_rate'], _pct)}  · {this['users_started']} users started",
        f"Time to complete    {_change(this['median_time_to_complete_hours'], last['median_time_to_complete_hours'], _hours)} (median)",
        "",
        "Top content gaps: " + ("; ".join(f"{gap['label']} ({gap['count']})" for gap in review["gaps"]) or "none"),
        "Most stuck members: " + (", ".join(f"{row['org_id']} ({row['stuck_members']})" for row in review["stuck_organizations"]) or "nobody is stuck"),
    ]
    return "\n".join(lines)
