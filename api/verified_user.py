"""The verified user: one check, one answer, for every route that takes one (conversations,
onboarding progress, widget events). A wrong hash, or a server without JISO_IDENTITY_SECRET,
is 401; a malformed user (a field missing or too long) is 422, from validation."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SettingsDep
from api.settings import Settings
from bot.identity import verify_identity

NOT_VERIFIED = {401: {"description": "The user's hash is wrong, or this server has no JISO_IDENTITY_SECRET"}}


class VerifiedUser(BaseModel):
    """Your backend signs `id:org_id` with JISO_IDENTITY_SECRET: hash = hex HMAC-SHA256."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    org_id: str = Field(min_length=1, max_length=128)
    hash: str = Field(min_length=1, max_length=128)


def verified(settings: Settings, user: VerifiedUser) -> VerifiedUser:
    """`user`, if its hash is the HMAC of `id:org_id` with the server's secret; otherwise 401."""
    if not settings.identity_secret:
        raise HTTPException(401, detail="verified users are not enabled on this server (set JISO_IDENTITY_SECRET)")
    if not verify_identity(settings.identity_secret, user.id, user.org_id, user.hash):
        raise HTTPException(401, detail="the user's hash does not match: it must be the hex HMAC-SHA256 of 'id:org_id' with the server's identity secret")
    return user


def verified_query_user(
    settings: SettingsDep,
    user_id: Annotated[str, Query(min_length=1, max_length=128)],
    org_id: Annotated[str, Query(min_length=1, max_length=128)],
    hash: Annotated[str, Query(min_length=1, max_length=128)],
) -> VerifiedUser:
    """The user of a GET, named by query parameters (`user_id`, `org_id`, `hash`)."""
    return verified(settings, VerifiedUser(id=user_id, org_id=org_id, hash=hash))


VerifiedQueryUser = Annotated[VerifiedUser, Depends(verified_query_user)]
