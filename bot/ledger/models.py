"""Ledger tables (SQLModel). Schema changes go through Alembic migrations in `migrations/`."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal, Optional

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, UniqueConstraint, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite keeps no zone, so we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use an aware UTC datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: str = Field(primary_key=True, max_length=128)
    name: Optional[str] = Field(default=None, max_length=256)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EndUser(SQLModel, table=True):
    """A customer's user, as their product identifies them (verified with an HMAC) or Slack does."""

    __tablename__ = "end_users"
    id: str = Field(primary_key=True, max_length=128)
    org_id: Optional[str] = Field(default=None, foreign_key="organizations.id", index=True, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Conversation(SQLModel, table=True):
    """One conversation on one channel. The state columns are kept by `writes` so that the
    outcome is one SQL expression over this table (see `outcomes`)."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "external_key", name="uq_conversation_channel_key"),
        Index("ix_conversations_created", "created_at"),
        Index("ix_conversations_org_created", "org_id", "created_at"),
        Index("ix_conversations_last_activity", "last_activity_at"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    channel: str = Field(max_length=16)  # web | slack
    external_key: Optional[str] = Field(default=None, max_length=255)  # e.g. Slack team:channel:thread
    locale: Optional[str] = Field(default=None, max_length=8)
    visitor_id: Optional[str] = Field(default=None, max_length=128, index=True)
    user_id: Optional[str] = Field(default=None, max_length=128, index=True)
    org_id: Optional[str] = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_activity_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    turn_count: int = 0
    last_turn_answered: bool = False
    last_turn_not_helpful: bool = False
    confirmed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    escalated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    handed_over: bool = False  # the bot stays quiet until the user asks a new question
    reopened_count: int = 0


TurnKind = Literal["answered", "clarify", "declined", "quiet"]


class Turn(SQLModel, table=True):
    """A question and what the bot showed for it: a confident answer (`answered`), "Did you mean…"
    with the plausible entries (`clarify`: `choices`), the "I don't know, talk to a person?"
    message (declined), or nothing (`quiet`: after a hand-over the message is for the team). The
    state is stored, never inferred from an empty answer text. A turn that answers a clarification
    (the user picked an entry, or "None of these") names it in `picked_from`."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_turn_seq"),
        UniqueConstraint("delivery_key", name="uq_turn_delivery_key"),
        Index("ix_turns_created", "created_at"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(foreign_key="conversations.id", index=True, max_length=32)
    seq: int
    question: str
    answer_text: Optional[str] = None  # what the user was shown; None only for a quiet turn
    answered: bool = False  # confident answer shown
    quiet: bool = False  # the bot said nothing (a message for the team after a hand-over)
    confidence: float = 0.0
    entry_id: Optional[str] = Field(default=None, max_length=255, index=True)
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    locale: Optional[str] = Field(default=None, max_length=8)
    delivery_key: Optional[str] = Field(default=None, max_length=255)  # e.g. slack:event:<event_id>
    choices: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # when asking which entry is meant
    picked_from: Optional[str] = Field(default=None, max_length=32, index=True)  # the clarify turn this one answers
    read_with: Optional[str] = Field(default=None, max_length=32)  # a short follow-up: the turn it was read together with
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def kind(self) -> TurnKind:
        if self.quiet:
            return "quiet"
        if self.answered:
            return "answered"
        return "clarify" if self.choices else "declined"


class PhrasingDecision(SQLModel, table=True):
    """A writer's decision on a suggested alternative phrasing of an entry (bot/suggestions.py)."""

    __tablename__ = "phrasing_decisions"
    __table_args__ = (UniqueConstraint("entry_id", "phrasing_key", name="uq_phrasing_decision"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    entry_id: str = Field(max_length=255)
    phrasing_key: str = Field(max_length=1000)  # the phrasing, normalized (case, width, spacing)
    phrasing: str = Field(max_length=1000)
    accepted: bool
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Feedback(SQLModel, table=True):
    """The user's latest vote on a turn (a changed vote replaces the earlier one)."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("turn_id", name="uq_feedback_turn"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(foreign_key="conversations.id", index=True, max_length=32)
    turn_id: str = Field(foreign_key="turns.id", max_length=32)
    helpful: bool
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Escalation(SQLModel, table=True):
    """A hand-over to humans, with why and where it went."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("delivery_key", name="uq_escalation_delivery_key"), Index("ix_escalations_slack_thread", "slack_channel", "slack_ts"))
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(foreign_key="conversations.id", index=True, max_length=32)
    turn_id: Optional[str] = Field(default=None, foreign_key="turns.id", max_length=32)
    reason: str = Field(max_length=2000)
    destinations: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    delivery: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # destination → status
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    delivery_key: Optional[str] = Field(default=None, max_length=255)  # e.g. the request's Idempotency-Key
    contact_email: Optional[str] = Field(default=None, max_length=254)  # how an anonymous visitor can be reached
    slack_channel: Optional[str] = Field(default=None, max_length=64)  # the hand-over message in the escalation channel:
    slack_ts: Optional[str] = Field(default=None, max_length=32)  # its thread is where people reply
    closed_by: Optional[str] = Field(default=None, max_length=255)  # who marked it resolved (a Slack user, an API key)
    close_note: Optional[str] = Field(default=None, max_length=2000)


class PersonReply(SQLModel, table=True):
    """A person's answer on a handed-over conversation (from the Slack hand-over thread or the
    API). Kept apart from turns: it is not a question, so it changes no outcome and no gap."""

    __tablename__ = "person_replies"
    __table_args__ = (
        UniqueConstraint("delivery_key", name="uq_person_reply_delivery_key"),
        Index("ix_person_replies_conversation_created", "conversation_id", "created_at"),
    )
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=32)
    escalation_id: str = Field(foreign_key="escalations.id", index=True, max_length=32)
    text: str
    author_name: Optional[str] = Field(default=None, max_length=255)
    author_ref: Optional[str] = Field(default=None, max_length=255)  # slack:<team>:<user>, or key:<api key id>
    via: str = Field(max_length=16)  # slack | api
    delivery_key: Optional[str] = Field(default=None, max_length=255)  # slack:event:<id>, or the Idempotency-Key's
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


DraftStatus = Literal["proposed", "accepted", "rejected"]


class FaqDraft(SQLModel, table=True):
    """A FAQ entry proposed from a closed hand-over's person reply, for writers to accept or reject."""

    __tablename__ = "faq_drafts"
    __table_args__ = (UniqueConstraint("escalation_id", name="uq_faq_draft_escalation"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    escalation_id: str = Field(foreign_key="escalations.id", max_length=32)
    conversation_id: str = Field(foreign_key="conversations.id", max_length=32)
    question: str
    alternatives: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    answer: str
    locale: str = Field(max_length=8)
    onboarding_step: Optional[str] = Field(default=None, max_length=255)
    status: str = Field(default="proposed", max_length=16, index=True)
    entry_id: Optional[str] = Field(default=None, max_length=255)  # once accepted: the entry written
    path: Optional[str] = Field(default=None, max_length=1000)  # …and the file it was written into
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class IdempotentResponse(SQLModel, table=True):
    """The first response to a write request that carried an Idempotency-Key."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    scope: str = Field(max_length=255)  # method + path
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    body: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)  # when reserved (the lease starts here)


class OnboardingEvent(SQLModel, table=True):
    """A product event of a user (ingested); idempotent by event_id."""

    __tablename__ = "onboarding_events"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_onboarding_event_id"),
        Index("ix_onboarding_events_user_time", "user_id", "occurred_at"),
        Index("ix_onboarding_events_org", "org_id"),
        Index("ix_onboarding_events_known_time_name", "known", "occurred_at", "name"),  # migration 0018
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255)
    user_id: str = Field(max_length=128)
    org_id: Optional[str] = Field(default=None, max_length=128)
    name: str = Field(max_length=255, index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    known: bool = True  # the checklist names this event
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiKey(SQLModel, table=True):
    """A reporting or ingest credential; only a hash of the secret is stored."""

    __tablename__ = "api_keys"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    prefix: str = Field(max_length=16, index=True)
    secret_hash: str = Field(max_length=128)
    role: str = Field(max_length=16)  # manager | ingest | agent | admin
    org_id: Optional[str] = Field(default=None, max_length=128)
    name: Optional[str] = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class Job(SQLModel, table=True):
    """Background work shared by every instance (bot/jobs.py): a hand-over to one destination, …
    Claimed with a lease, so one instance works on it at a time and any other takes it over when
    the lease runs out (the instance died)."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("key", name="uq_job_key"), Index("ix_jobs_due", "status", "run_at"))
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=64)
    key: str = Field(max_length=255)  # one job per key: enqueueing the same work again is a no-op
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending, done, failed
    attempts: int = 0  # claims so far, counted when claimed (so a job that kills its worker ends)
    max_attempts: int = 6
    run_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)  # not claimed before
    lease_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    lease_owner: Optional[str] = Field(default=None, max_length=64)
    last_error: Optional[str] = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class DigestDelivery(SQLModel, table=True):
    """One weekly digest to one channel: the row is the claim, so that several server instances
    post each week's digest once (the unique key refuses the second claim)."""

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("channel", "week_start", name="uq_digest_channel_week"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=255)
    week_start: str = Field(max_length=10)  # the local Monday of the week reviewed, YYYY-MM-DD
    status: str = Field(default="claimed", max_length=500)  # claimed | posted | failed: …
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutcomeHour(SQLModel, table=True):
    """How many conversations that began in this UTC hour (on this channel, in this locale) are in
    each settled class, as of the last compaction (bot/ledger/rollups.py). Kept by database
    triggers on `conversations`, through `outcome_changes`; the reports add the changes not yet
    compacted and the conversations still inside the quiet window (docs/kpis.md, "Rollups")."""

    __tablename__ = "outcome_hours"
    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    locale: str = Field(max_length=8, primary_key=True)  # '' for a conversation without a locale
    settled: str = Field(max_length=24, primary_key=True)  # escalated | resolved_confirmed | resolved_assumed | unanswered
    n: int = 0


class OutcomeOrgDay(SQLModel, table=True):
    """`outcome_hours` per organization and UTC day instead of hour (the organizations report)."""

    __tablename__ = "outcome_org_days"
    day: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    org_id: str = Field(max_length=128, primary_key=True)  # '' for a conversation without one
    channel: str = Field(max_length=16, primary_key=True)
    locale: str = Field(max_length=8, primary_key=True)
    settled: str = Field(max_length=24, primary_key=True)
    n: int = 0


class HandoverFact(SQLModel, table=True):
    """A hand-over with what the reports ask of it, its conversation and its replies, in one row
    (kept by triggers on escalations, person_replies and conversations, migration 0011): the
    hand-over results read these alone instead of joining every hand-over to its conversation.
    SQLite also indexes them by their hours to a close and to a reply, and by organization with
    what "open" reads (expression indexes, migration 0015)."""

    __tablename__ = "handover_facts"
    __table_args__ = (
        Index("ix_handover_facts_started", "started_at"),
        Index("ix_handover_facts_org_started", "org_id", "started_at"),
        Index("ix_handover_facts_conversation", "conversation_id"),
        Index("ix_handover_facts_shared", "started_at", postgresql_where=text("NOT sole"), sqlite_where=text("NOT sole")),
    )
    escalation_id: str = Field(primary_key=True, max_length=32)
    conversation_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)  # the hand-over's
    closed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    first_reply_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # its first person's reply
    started_at: datetime = Field(sa_type=UTCDateTime)  # the conversation's created_at
    org_id: Optional[str] = Field(default=None, max_length=128)
    channel: str = Field(max_length=16)
    locale: Optional[str] = Field(default=None, max_length=8)
    asked: bool = False  # the conversation has a question (turn_count > 0)
    escalated_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # the conversation's first hand-over
    sole: bool = True  # the conversation's only hand-over (its trigger marks several false, migration 0013)


class OutcomeOrgMonth(SQLModel, table=True):
    """`outcome_org_days` summed per UTC month (kept by triggers on it, migration 0010)."""

    __tablename__ = "outcome_org_months"
    month: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    org_id: str = Field(max_length=128, primary_key=True)
    channel: str = Field(max_length=16, primary_key=True)
    locale: str = Field(max_length=8, primary_key=True)
    settled: str = Field(max_length=24, primary_key=True)
    n: int = 0


class OutcomeOrgMonthTotal(SQLModel, table=True):
    """`outcome_org_months` summed over channels and locales (kept by triggers on it, migration 0014)."""

    __tablename__ = "outcome_org_month_totals"
    month: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    org_id: str = Field(max_length=128, primary_key=True)
    settled: str = Field(max_length=24, primary_key=True)
    n: int = 0


class OutcomeChange(SQLModel, table=True):
    """+1 / -1 to an `outcome_hours` and an `outcome_org_days` count, appended by the triggers
    (appends never wait on a lock; updating shared counters would make writers queue or deadlock)."""

    __tablename__ = "outcome_changes"
    id: Optional[int] = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True))
    hour: datetime = Field(sa_type=UTCDateTime)
    org_id: str = Field(max_length=128)
    channel: str = Field(max_length=16)
    locale: str = Field(max_length=8)
    settled: str = Field(max_length=24)
    n: int


class UnknownEventDay(SQLModel, table=True):
    """Per UTC day, the events of a name the checklist did not know (not jiso's own), folded from
    `unknown_event_changes` (migration 0016)."""

    __tablename__ = "unknown_event_days"
    day: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    name: str = Field(max_length=255, primary_key=True)
    n: int = 0


class UnknownEventChange(SQLModel, table=True):
    """+1 / -1 to an `unknown_event_days` count, appended by the triggers on onboarding_events."""

    __tablename__ = "unknown_event_changes"
    id: Optional[int] = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True))
    day: datetime = Field(sa_type=UTCDateTime)
    name: str = Field(max_length=255)
    n: int


class OnboardingState(SQLModel, table=True):
    """A user's onboarding as `queries.user_rows` computes it from all their facts (events,
    conversations), kept by `bot.reports.onboarding_states`. Valid for a report at `now` when
    computed under the report's checklist, the user is not in `onboarding_dirty`, and
    `facts_until` (their latest fact's instant) is <= now. No index on the checklist key (one value:
    it misleads SQLite's planner): the reports read every row (and an organization's through
    end_users); on SQLite the completed ones also by their hours to completion (migration 0015)."""

    __tablename__ = "onboarding_states"
    user_id: str = Field(primary_key=True, max_length=128)
    checklist_key: str = Field(max_length=64)  # Checklist.fingerprint
    started_at: datetime = Field(sa_type=UTCDateTime)
    completed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    self_serve: bool
    involved: bool  # any conversation with a question (any channel, locale)
    steps_done: int = Field(sa_type=BigInteger)  # bit i: checklist step i is done
    facts_until: datetime = Field(sa_type=UTCDateTime)
    org_id: Optional[str] = Field(default=None, max_length=128)  # end_users.org_id, kept by triggers (migration 0012)


class OnboardingDirty(SQLModel, table=True):
    """Users whose onboarding facts changed since their state was computed: written by database
    triggers on onboarding_events and conversations (migration 0009), `version` bumped on each write."""

    __tablename__ = "onboarding_dirty"
    user_id: str = Field(primary_key=True, max_length=128)
    version: int
