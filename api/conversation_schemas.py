"""Typed payloads of the web chat API (what the widget sends and gets)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.verified_user import VerifiedUser
from bot.ledger.outcomes import Outcome

LocaleCode = Literal["en", "ja"]


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locale: LocaleCode | None = None
    visitor_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$", description="An anonymous id the widget keeps per browser (rate limits).")
    user: VerifiedUser | None = None


class ConversationCreated(BaseModel):
    id: str


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="The question; at most JISO_MAX_QUESTION_CHARS characters.")
    new_question: bool = Field(default=False, description="After a hand-over the bot stays quiet; true asks it a new question.")
    locale: LocaleCode | None = Field(default=None, description="Answer in this locale instead of detecting it from the text.")


class SourceOut(BaseModel):
    id: str
    title: str
    path: str
    heading: str
    line: int
    score: float
    url: str  # the knowledge page, at the cited line


class ChoiceOut(BaseModel):
    id: str
    title: str  # the entry's question, shown as the choice
    path: str
    line: int
    url: str


class AnswerOut(BaseModel):
    text: str  # the writers' markdown, "Did you mean…", or the "I don't know" message
    html: str  # `text` rendered and sanitized: the only thing the widget inserts as HTML
    sources: list[SourceOut]  # `score` is the ranking score (not a probability)
    confident: bool  # decision == "answer"
    decision: Literal["answer", "clarify", "decline"]
    confidence: float  # the probability that the best entry is right (a picked choice: 1, the user's own pick)
    choices: list[ChoiceOut]  # when asking which entry is meant
    picked: str | None = None  # in a transcript: the choice the user made (an entry id; "" for none of these)


class ChoiceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turn_id: str = Field(min_length=1, max_length=64, description="The turn that asked which entry is meant.")
    entry_id: str | None = Field(max_length=255, description="One of that turn's choices, or null for 'None of these'.")


class MessageOut(BaseModel):
    turn_id: str
    answer: AnswerOut | None  # None when the bot stayed quiet after a hand-over
    quiet: bool


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turn_id: str = Field(min_length=1, max_length=64)
    helpful: bool


class FeedbackOut(BaseModel):
    turn_id: str
    helpful: bool
    outcome: Outcome


EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\".]{2,}$")


class EscalationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    email: str | None = Field(default=None, max_length=254, description="How an anonymous visitor can be reached (travels with the hand-over).")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        if not EMAIL.match(value):
            raise ValueError("is not an e-mail address: write it as name@example.com, or leave it out")
        return value


class EscalationOut(BaseModel):
    escalation_id: str
    destinations: list[str]
    outcome: Outcome


class TurnOut(BaseModel):
    role: Literal["user"] = "user"  # a question and what the bot showed
    id: str
    seq: int
    question: str
    answer: AnswerOut | None
    feedback: bool | None  # the user's vote: helpful, not helpful, or none
    created_at: datetime


class PersonReplyOut(BaseModel):
    role: Literal["person"] = "person"  # a person's reply after a hand-over (Slack thread or API)
    id: str
    text: str  # plain text: shown as text, never as HTML
    author: str | None  # the person's name, when known
    created_at: datetime


class RepliesOut(BaseModel):
    replies: list[PersonReplyOut]  # in time order


class EscalationSummary(BaseModel):
    id: str
    reason: str
    created_at: datetime
    delivery: dict[str, str]  # destination → pending | delivered | failed: <why>


class ConversationOut(BaseModel):
    id: str
    channel: str
    locale: str | None
    created_at: datetime
    outcome: Outcome
    handed_over: bool  # the bot is quiet until the user asks a new question
    turns: list[TurnOut | PersonReplyOut]  # in time order; `role` tells them apart
    escalations: list[EscalationSummary]
