"""The hand-over API for helpdesks and custom tools (an `agent` key): reply to the user, close the
hand-over. The web widget and Slack show the reply; see bot/person_replies.py and bot/closing.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.auth import AgentDep
from api.deps import DispatcherDep, OptionalEngineDep, SessionDep, SettingsDep
from api.idempotency import IdempotencyKey, run_idempotent
from bot import closing, person_replies
from bot.apikeys import Principal
from bot.ledger.models import Conversation

router = APIRouter(tags=["hand-over"])
ID = re.compile(r"^[0-9a-f]{32}$")
MAX_REPLY_CHARS = 4000
RESPONSES = {
    404: {"description": "No such conversation (or not this key's organization)"},
    409: {"description": "The conversation was not handed over to a person"},
}


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, description="Shown to the user beside the reply.")


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS)
    author: Author | None = None


class ReplyOut(BaseModel):
    role: str = "person"
    id: str
    conversation_id: str
    escalation_id: str
    text: str
    author: str | None
    created_at: datetime


class CloseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000, description="Why or how it was resolved (kept with the hand-over).")


class CloseOut(BaseModel):
    escalation_id: str
    closed_at: datetime
    closed_by: str | None
    note: str | None
    closed_now: bool  # false when it was closed already (closing is idempotent)


def _conversation(session: Session, principal: Principal, conversation_id: str) -> Conversation:
    """Any channel's conversation; an organization's key sees only its own (others are 404)."""
    conversation = session.get(Conversation, conversation_id) if ID.match(conversation_id) else None
    if conversation is None or (principal.org_id is not None and conversation.org_id != principal.org_id):
        raise HTTPException(404, detail=f"conversation {conversation_id[:64]!r} not found")
    return conversation


def _who(principal: Principal) -> str:
    return f"key:{principal.key_id}" if principal.key_id else "key:admin"


@router.post("/conversations/{conversation_id}/replies", status_code=201, response_model=ReplyOut, responses=RESPONSES)
def post_reply(conversation_id: str, body: ReplyCreate, request: Request, principal: AgentDep, session: SessionDep, settings: SettingsDep, dispatcher: DispatcherDep, key: IdempotencyKey = None):
    """A person's reply to a handed-over conversation: shown in the widget, posted into the user's
    Slack thread when the conversation is on Slack. Retries with the same Idempotency-Key add one reply."""
    conversation = _conversation(session, principal, conversation_id)
    text = body.text.strip()
    if not text:
        raise HTTPException(422, detail="the reply is empty")

    def action(delivery_key: str | None) -> tuple[int, dict]:
        try:
            reply, _ = person_replies.reply(
                session=session, conversation=conversation, text=text, via="api", dispatcher=dispatcher,
                author_name=body.author.name.strip() if body.author else None, author_ref=_who(principal), delivery_key=delivery_key,
            )  # fmt: skip
        except person_replies.NotHandedOver as error:
            raise HTTPException(409, detail=str(error)) from None
        out = ReplyOut(id=reply.id, conversation_id=reply.conversation_id, escalation_id=reply.escalation_id, text=reply.text, author=reply.author_name, created_at=reply.created_at)
        return 201, out.model_dump(mode="json")

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=timedelta(seconds=settings.idempotency_lease_seconds), action=action)


@router.post("/conversations/{conversation_id}/close", response_model=CloseOut, responses=RESPONSES)
def post_close(
    conversation_id: str,
    principal: AgentDep,
    session: SessionDep,
    settings: SettingsDep,
    engine: OptionalEngineDep,
    dispatcher: DispatcherDep,
    body: Annotated[CloseCreate | None, Body()] = None,
) -> CloseOut:
    """Mark the conversation's hand-over resolved by a person, with an optional note. Closing a
    closed hand-over changes nothing and answers 200 with the first close. The close is posted into
    the Slack hand-over thread; a hand-over with a person's reply becomes a FAQ draft (`GET /api/v1/drafts`)."""
    conversation = _conversation(session, principal, conversation_id)
    note = (body.note or "").strip() if body else ""
    try:
        escalation, closed_now = closing.close_conversation(
            session=session, conversation=conversation, closed_by=_who(principal), via="api", dispatcher=dispatcher, engine=engine, note=note or None,
            gap_similarity=settings.gap_similarities(),
        )  # fmt: skip
    except person_replies.NotHandedOver as error:
        raise HTTPException(409, detail=str(error)) from None
    return CloseOut(escalation_id=escalation.id, closed_at=escalation.closed_at, closed_by=escalation.closed_by, note=escalation.close_note, closed_now=closed_now)
