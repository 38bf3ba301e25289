"""Dashboard sign-in: POST a manager key once, get an HttpOnly session cookie (see api.sign_in)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from api.auth import CHALLENGE, UNKNOWN_KEY
from api.deps import SessionDep, SettingsDep, limit_by_ip
from api.sign_in import COOKIE, SESSION_ENDED, SignedIn, is_https, sign_ins
from bot.apikeys import verify_key

router = APIRouter(prefix="/session", tags=["dashboard sign-in"])


class SignIn(BaseModel):
    key: str = Field(min_length=1, max_length=256, description="A manager key from `jiso keys create --role manager` (or JISO_ADMIN_API_KEY).")


class SessionOut(BaseModel):
    role: str
    org_id: str | None = Field(description="The organization the key is limited to; null: every organization.")
    expires_at: datetime


def _out(signed_in: SignedIn) -> SessionOut:
    return SessionOut(role=signed_in.principal.role, org_id=signed_in.principal.org_id, expires_at=signed_in.expires_at)


@router.post("", response_model=SessionOut, dependencies=[Depends(limit_by_ip)], responses={401: {"description": "Unknown or revoked key"}, 403: {"description": "Not a manager key"}})
def sign_in(body: SignIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep) -> SessionOut:
    """Exchange a manager key for a session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS),
    valid for JISO_SESSION_VALID_FOR; the reports API then accepts the cookie instead of the key."""
    principal = verify_key(session=session, presented=body.key.strip(), admin_key=settings.admin_api_key)
    if principal is None:
        raise HTTPException(status_code=401, detail=UNKNOWN_KEY, headers=CHALLENGE)
    if not principal.can("manager"):
        raise HTTPException(status_code=403, detail=f"this key's role is '{principal.role}'; the dashboard needs a 'manager' key: jiso keys create --role manager")
    signs = sign_ins(request)
    token, ends = signs.token(principal)
    response.set_cookie(COOKIE, token, max_age=int(signs.valid_for.total_seconds()), path="/", secure=is_https(request), httponly=True, samesite="strict")
    return _out(SignedIn(principal, ends))


@router.get("", response_model=SessionOut, responses={401: {"description": "Not signed in, or the session ended"}})
def current_session(request: Request, session: SessionDep) -> SessionOut:
    """Who is signed in, until when (the dashboard cannot read its HttpOnly cookie)."""
    token = request.cookies.get(COOKIE)
    if token is None:
        raise HTTPException(status_code=401, detail="not signed in: POST a manager key to /api/v1/session")
    signed_in = sign_ins(request).read(session, token)
    if signed_in is None:
        raise HTTPException(status_code=401, detail=SESSION_ENDED)
    return _out(signed_in)


@router.delete("", status_code=204)
def sign_out(request: Request) -> Response:
    """Sign out: the browser drops the cookie."""
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", secure=is_https(request), httponly=True, samesite="strict")
    return response
