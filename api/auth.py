"""Bearer API keys for the ingest and reporting APIs (see bot.apikeys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.deps import SessionDep, SettingsDep
from bot.apikeys import Principal, verify_key

_bearer = HTTPBearer(auto_error=False, description="An API key from `jiso keys create` (or JISO_ADMIN_API_KEY).")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def require(role: str) -> Callable[..., Principal]:
    def dependency(session: SessionDep, settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
            raise HTTPException(status_code=401, detail="an API key is required: Authorization: Bearer <key>", headers=CHALLENGE)
        principal = verify_key(session=session, presented=credentials.credentials, admin_key=settings.admin_api_key)
        if principal is None:
            raise HTTPException(status_code=401, detail="unknown or revoked API key", headers=CHALLENGE)
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
