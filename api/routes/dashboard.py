"""The managers' dashboard: static files that read only the reporting API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

router = APIRouter(tags=["dashboard"], include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {"charts.js": "text/javascript", "dashboard.js": "text/javascript", "dashboard.css": "text/css", "organization.js": "text/javascript"}
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


@router.get("/dashboard")
def dashboard() -> FileResponse:
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/dashboard/organization")
def organization_page() -> FileResponse:
    """One organization: its members, funnel, time to completion and retention (`?org_id=`)."""
    return FileResponse(STATIC / "organization.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/dashboard/{name}")
def dashboard_file(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(status_code=404)
    return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)
