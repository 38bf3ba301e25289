"""The reporting API: JSON by default, `format=csv` for spreadsheets. Manager (or admin) keys;
an organization's key sees only that organization."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from api.auth import ManagerDep, scoped_org
from api.deps import ChecklistDep, SessionDep, SettingsDep
from api.transcript_links import TranscriptLinksDep
from bot.ledger.models import utcnow
from bot.ledger.outcomes import Outcome
from bot.reports import kpis
from bot.reports.conversation_list import conversation_page
from bot.reports.periods import DEFAULT_DAYS, BadPeriod, Period, local_today, parse_tz
from bot.reports.queries import MAX_BUCKETS, Filters
from bot.suggestions import suggestions

router = APIRouter(prefix="/reports", tags=["reports"])
Format = Literal["json", "csv"]
# Excel reads a CSV file as the system's code page (Shift_JIS on Japanese Windows) unless it starts with a byte order mark.
Bom = Annotated[bool, Query(description="With format=csv: start the file with a UTF-8 byte order mark, so Excel shows Japanese (and any non-ASCII) text correctly.")]


def report_scope(
    session: SessionDep,
    settings: SettingsDep,
    checklist: ChecklistDep,
    principal: ManagerDep,
    from_: Annotated[date | None, Query(alias="from", description="First local day (YYYY-MM-DD); default: 29 days before `to`.")] = None,
    to: Annotated[date | None, Query(description="Last local day, included (YYYY-MM-DD); default: today.")] = None,
    tz: Annotated[str, Query(description="IANA timezone the days are in.")] = "UTC",
    org_id: Annotated[str | None, Query(max_length=128)] = None,
    channel: Annotated[Literal["web", "slack"] | None, Query()] = None,
    locale: Annotated[str | None, Query(pattern="^(en|ja)$")] = None,
) -> kpis.ReportScope:
    now = utcnow()
    try:
        zone = parse_tz(tz)
        last = to or local_today(now, zone)
        period = Period.of(from_ or last - timedelta(days=DEFAULT_DAYS - 1), last, zone)
    except BadPeriod as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    filters = Filters(org_id=scoped_org(principal, org_id), channel=channel, locale=locale)
    return kpis.ReportScope(session, checklist, period, filters, now, settings.assume_resolved_after)


ScopeDep = Annotated[kpis.ReportScope, Depends(report_scope)]


def _cell(value: Any) -> Any:
    # Questions are user-written: keep spreadsheets from running them as formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_response(rows: list[dict[str, Any]], name: str, bom: bool = False) -> Response:
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="jiso-{name}.csv"'})


def _flatten(data: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{name}."))
        elif isinstance(value, list):
            for item in value:
                label = item.get("step") or item.get("name") if isinstance(item, dict) else None
                rows.extend(_flatten({k: v for k, v in item.items() if k not in ("step", "name")}, f"{name}.{label}."))
        else:
            rows.append({"metric": name, "value": value})
    return rows


@router.get("/summary")
def summary(scope: ScopeDep, format: Format = "json", bom: Bom = False, lang: Annotated[str, Query(pattern="^(en|ja)$")] = "en") -> Any:
    report = kpis.summary(scope, lang)
    return csv_response(_flatten(report), "summary", bom) if format == "csv" else report


@router.get("/timeseries")
def timeseries(scope: ScopeDep, interval: Literal["week", "month"] = "week", format: Format = "json", bom: Bom = False) -> Any:
    span = (scope.period.last - scope.period.first).days
    if span / (7 if interval == "week" else 28) > MAX_BUCKETS - 2:
        raise HTTPException(status_code=422, detail=f"too many {interval}s: at most {MAX_BUCKETS - 2} in one report")
    report = kpis.timeseries(scope, interval)
    return csv_response(report["buckets"], f"timeseries-{interval}", bom) if format == "csv" else report


@router.get("/organizations")
def organizations(scope: ScopeDep, format: Format = "json", bom: Bom = False) -> Any:
    report = kpis.organizations(scope)
    return csv_response(report["organizations"], "organizations", bom) if format == "csv" else report


@router.get("/gaps")
def gaps(request: Request, scope: ScopeDep, settings: SettingsDep, format: Format = "json", bom: Bom = False, top: Annotated[int, Query(ge=1, le=200)] = 50) -> Any:
    """Questions the bot could not answer, grouped by meaning; a group the knowledge indexed now
    answers with confidence is left out (counted in `covered`)."""
    engine = request.app.state.engine
    report = kpis.gaps(scope, request.app.state.embedders, min_similarity=settings.gap_similarities(), top=top, answered_now=kpis.answered_now_by(engine) if engine is not None else None)
    if format == "csv":
        rows = [{**{k: v for k, v in c.items() if k != "examples"}, "examples": " | ".join(c["examples"])} for c in report["clusters"]]
        return csv_response(rows, "gaps", bom)
    return report


def entry_catalog(request: Request) -> dict[str, dict[str, Any]]:
    engine = request.app.state.engine
    if engine is None:
        return {}
    return {e.id: {"title": e.title, "path": e.path, "kind": e.kind, "locale": e.locale, "onboarding_step": e.meta.get("onboarding_step")} for e in engine.index.entries}


@router.get("/entries")
def entries(request: Request, scope: ScopeDep, format: Format = "json", bom: Bom = False) -> Any:
    report = kpis.entries(scope, entry_catalog(request))
    return csv_response(report["entries"], "entries", bom) if format == "csv" else report


@router.get("/suggestions")
def phrasing_suggestions(request: Request, session: SessionDep, principal: ManagerDep, entry_id: Annotated[str | None, Query(max_length=255)] = None, format: Format = "json", bom: Bom = False) -> Any:
    """Users' questions confirmed for an entry ("This solved it", or a "Did you mean…" pick) that
    the entry does not have as a phrasing yet: for writers to accept with `jiso suggestions accept`."""
    if principal.org_id is not None:
        raise HTTPException(status_code=403, detail="suggestions come from every organization's questions: use a manager key that is not limited to one")
    engine = request.app.state.engine
    found = [s.to_json() for s in suggestions(session, engine.index.entries if engine is not None else [], entry_id=entry_id)]
    return csv_response(found, "suggestions", bom) if format == "csv" else {"suggestions": found}


@router.get("/conversations")
def conversation_list(
    scope: ScopeDep,
    links: TranscriptLinksDep,
    outcome: Outcome | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Text the user wrote in the conversation (case-insensitive).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    format: Format = "json",
    bom: Bom = False,
) -> Any:
    """The conversations of the period, newest first, each with a signed link to its transcript
    (valid for JISO_LINK_VALID_FOR): the conversations behind the KPIs."""
    page = conversation_page(scope.session, scope.window, outcome=outcome, search=(q or "").strip() or None, limit=limit, offset=offset)
    rows = [{**row, "transcript_url": links.path(row["id"], scope.now)} for row in page.rows]
    if format == "csv":
        return csv_response(rows, "conversations", bom)
    return {**scope.header(), "outcome": outcome, "q": q, "total": page.total, "limit": limit, "offset": offset, "conversations": rows}
