"""Onboarding reports for the people who act on them: the champion's view of one organization
(its members, its overview against all organizations), how onboarding relates to retention, and
how nudges relate to users doing the step. Same keys and formats as `reports`."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from api.auth import ManagerDep, scoped_org
from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.routes.reports import Bom, Format, ScopeDep, csv_response, entry_catalog
from bot.ledger.models import Organization, utcnow
from bot.reports import kpis
from bot.reports.members import STUCK_AFTER, members
from bot.reports.nudge_report import nudge_report
from bot.reports.periods import iso
from bot.reports.queries import Filters
from bot.reports.retention import BadWeeks, parse_weeks, retention

router = APIRouter(prefix="/reports", tags=["reports"])
MIN_BENCHMARK_ORGS = 3  # an organization's key sees the all-organizations median only when this many others make it up


@router.get("/organizations/{org_id}/members")
def organization_members(
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    principal: ManagerDep,
    org_id: Annotated[str, Path(min_length=1, max_length=128)],
    stuck: Annotated[bool | None, Query(description="true: only members stuck on a required step; false: only the others")] = None,
    format: Format = "json",
    bom: Bom = False,
) -> Any:
    """One row per member who started onboarding: steps done, completion, whether they are stuck."""
    scoped_org(principal, org_id)
    if session.get(Organization, org_id) is None:
        raise HTTPException(status_code=404, detail=f"no organization '{org_id}': jiso has seen no event or conversation of it")
    now = utcnow()
    rows = [member.to_json() for member in members(session, checklist, org_id, now, settings.assume_resolved_after)]
    if stuck is not None:
        rows = [row for row in rows if (row["stuck_step"] is not None) == stuck]
    if format == "csv":
        return csv_response([{**row, "steps_done": " ".join(row["steps_done"])} for row in rows], f"members-{org_id}", bom)
    return {"kpi_version": kpis.KPI_VERSION, "org_id": org_id, "as_of": iso(now), "stuck_after_days": STUCK_AFTER.days, "members": rows}


@router.get("/retention")
def retention_report(
    scope: ScopeDep, weeks: Annotated[str, Query(max_length=100, description="Week numbers after the start, e.g. 4,8,12")] = "4,8,12", format: Format = "json", bom: Bom = False
) -> Any:
    """Users who started in the period, as self_serve / with_help / not_completed, and the share
    of each still active in their k-th week."""
    try:
        report = retention(scope, parse_weeks(weeks))
    except BadWeeks as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    if format == "csv":
        rows = [
            {"group": name, "users": group["users"], "week": int(k), "eligible": group["eligible"][k], "retained": group["retained"][k]}
            for name, group in report["groups"].items()
            for k in group["eligible"]
        ]
        return csv_response(rows, "retention", bom)
    return report


@router.get("/nudges")
def nudges_report(request: Request, scope: ScopeDep, format: Format = "json", bom: Bom = False) -> Any:
    """Per step: nudges shown, opened, dismissed, and who did the step within 7 days after opening
    one, after dismissing one, or never nudged; per step-tagged FAQ entry, after it was shown.
    An observational comparison (`caveat`), not a causal effect."""
    report = nudge_report(scope, entry_catalog(request))
    if format == "csv":
        rows = []
        for step in report["steps"]:
            row = {key: value for key, value in step.items() if not isinstance(value, dict)}
            for group in ("after_opened", "after_dismissed", "never_nudged"):
                row |= {f"{group}.{key}": value for key, value in step[group].items()}
            rows.append(row)
        return csv_response(rows, "nudges", bom)
    return report


# The path names it `organization`: `org_id` is the report scope's query parameter.
@router.get("/organizations/{organization}/overview")
def organization_overview(scope: ScopeDep, principal: ManagerDep, organization: Annotated[str, Path(min_length=1, max_length=128)], lang: Annotated[str, Query(pattern="^(en|ja)$")] = "en") -> Any:
    """One organization's onboarding KPIs and funnel in the period, and, as its benchmark, the
    median time to complete over all organizations' users."""
    org_id = scoped_org(principal, organization)
    own = kpis.summary(replace(scope, filters=Filters(org_id=org_id)), lang)
    everyone = replace(scope, filters=Filters())
    others = sum(1 for row in kpis.organizations(everyone)["organizations"] if row["users_completed"] and row["org_id"] != org_id)
    # A key limited to one organization must not read another one's numbers off a benchmark of two or three.
    shown = principal.org_id is None or others >= MIN_BENCHMARK_ORGS
    median = kpis.summary(everyone, lang)["onboarding"]["median_time_to_complete_hours"] if shown else None
    return {
        **own,
        "org_id": org_id,
        "all_organizations": {"median_time_to_complete_hours": median, "other_organizations_with_completions": others, "hidden": not shown},
    }
