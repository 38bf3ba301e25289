"""Stateless question answering (the conversation API records outcomes; this one does not)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep

router = APIRouter(tags=["answers"])


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=1000)
    locale: str | None = Field(default=None, pattern="^(en|ja)$")


@router.post("/ask")
async def ask(body: AskRequest, engine: EngineDep) -> dict:
    answer = await run_in_threadpool(engine.answer, body.question, body.locale)
    return answer.to_json()
