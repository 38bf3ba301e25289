"""Stateless question answering (the conversation API records outcomes; this one does not).
Public like the widget's routes, so it has their per-address limit and question length."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import EngineDep, SettingsDep, limit_by_ip, require_question_length

router = APIRouter(tags=["answers"], dependencies=[Depends(limit_by_ip)])


class AskRequest(BaseModel):
    question: str = Field(min_length=1)
    locale: str | None = Field(default=None, pattern="^(en|ja)$")


@router.post("/ask")
async def ask(body: AskRequest, engine: EngineDep, settings: SettingsDep) -> dict:
    require_question_length(body.question, settings)
    answer = await run_in_threadpool(engine.answer, body.question, body.locale)
    return answer.to_json()
