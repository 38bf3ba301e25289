"""Bearer API keys for the ingest and reporting APIs (see bot.apikeys); the reports also accept the
dashboard's session cookie (see api.sign_in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep, SettingsDep
from api.sign_in import COOKIE, SESSION_ENDED, sign_ins
from bot.apikeys import Principal, verify_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `jiso keys create` (or JISO_ADMIN_API_KEY).")
CHALLENGE = {"WWW-Authenticate": "Bearer"}
UNKNOWN_KEY = "unknown or revoked API key: check that it was copied whole, or create one with `jiso keys create --role manager`"


def require(role: str) -> Callable[..., Principal]:
    def dependency(request: Request, session: SessionDep, settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if credentials is None and role == "manager" and COOKIE in request.cookies:
            signed_in = sign_ins(request).read(session, request.cookies[COOKIE])
            if signed_in is None:
                raise HTTPException(status_code=401, detail=SESSION_ENDED, headers=CHALLENGE)
            principal: Principal | None = signed_in.principal
        elif credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise HTTPException(status_code=401, detail="an API key is required: Authorization: Bearer <key>", headers=CHALLENGE)
        else:
            principal = verify_key(session=session, presented=credentials.credentials, admin_key=settings.admin_api_key)
        if principal is None:
            raise HTTPException(status_code=401, detail=UNKNOWN_KEY, headers=CHALLENGE)
        if not principal.can(role):
            raise HTTPException(status_code=403, detail=f"this key's role is '{principal.role}'; this needs a '{role}' key")
        return principal

    return dependency


def scoped_org(principal: Principal, requested: str | None) -> str | None:
    """The organization a request may see: an org-scoped key sees only its own."""
    if principal.org_id is None:
        return requested
    if requested is not None and requested != principal.org_id:
        raise HTTPException(status_code=403, detail="this key is limited to another organization")
    return principal.org_id


ManagerDep = Annotated[Principal, Depends(require("manager"))]
IngestDep = Annotated[Principal, Depends(require("ingest"))]
AgentDep = Annotated[Principal, Depends(require("agent"))]
