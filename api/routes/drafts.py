"""FAQ drafts proposed from people's answers after hand-overs (bot/drafts.py), for writers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from api.auth import ManagerDep
from api.deps import SessionDep
from bot import drafts

router = APIRouter(tags=["reports"])


@router.get("/drafts")
def list_drafts(session: SessionDep, principal: ManagerDep) -> dict[str, Any]:
    """Open drafts, oldest first: `{"drafts": [{"id", "question", "answer", "locale", "alternatives",
    "onboarding_step", ...}]}`. Accept one with `jiso drafts accept ID` (it is written into the knowledge)."""
    if principal.org_id is not None:
        raise HTTPException(status_code=403, detail="drafts come from every organization's hand-overs: use a manager key that is not limited to one")
    return {"drafts": [drafts.to_json(draft) for draft in drafts.open_drafts(session)]}
