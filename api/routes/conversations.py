"""The web chat API: conversations, messages, feedback, hand-over, transcript with outcome."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlmodel import Session, select

from api.conversation_schemas import (
    AnswerOut,
    ChoiceCreate,
    ChoiceOut,
    ConversationCreate,
    ConversationCreated,
    ConversationOut,
    EscalationCreate,
    EscalationOut,
    EscalationSummary,
    FeedbackCreate,
    FeedbackOut,
    MessageCreate,
    MessageOut,
    PersonReplyOut,
    RepliesOut,
    SourceOut,
    TurnOut,
)
from api.deps import DispatcherDep, OptionalEngineDep, RateLimitsDep, SessionDep, SettingsDep, limit_by_ip, require_question_length
from api.idempotency import IdempotencyKey, run_idempotent
from api.settings import Settings
from api.transcript_links import TranscriptLinksDep
from api.verified_user import NOT_VERIFIED, verified
from bot import conversations, person_replies
from bot.escalation import escalate
from bot.formatting import render_markdown
from bot.ledger import handovers, writes
from bot.ledger.models import Conversation, Escalation, Feedback, PersonReply, Turn, utcnow
from bot.ledger.outcomes import Outcome, outcome_of

router = APIRouter(tags=["web chat"], dependencies=[Depends(limit_by_ip)])
CHANNEL = "web"
ID = re.compile(r"^[0-9a-f]{32}$")
NOT_FOUND = {404: {"description": "No such conversation (or turn)"}}


def _conversation(session: Session, conversation_id: str) -> Conversation:
    """The web conversation with this id, or 404 for anything else (malformed ids included)."""
    conversation = session.get(Conversation, conversation_id) if ID.match(conversation_id) else None
    if conversation is None or conversation.channel != CHANNEL:
        raise HTTPException(404, detail=f"conversation {conversation_id[:64]!r} not found")
    return conversation


def _visitor_key(conversation: Conversation) -> str:
    """Who the per-visitor rate limit counts: the verified user, else the widget's visitor id."""
    if conversation.user_id:
        return f"user:{conversation.org_id}:{conversation.user_id}"
    return conversation.visitor_id or f"conversation:{conversation.id}"


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _answer_of(turn: Turn, base: str, picked: str | None = None) -> AnswerOut | None:
    if turn.quiet or turn.answer_text is None:
        return None
    sources = [SourceOut(**source, url=_knowledge_url(base, source)) for source in turn.sources]
    choices = [ChoiceOut(id=c["id"], title=c["title"], path=c["path"], line=c["line"], url=_knowledge_url(base, c)) for c in turn.choices]
    html = render_markdown(turn.answer_text, source_path=conversations.answer_source_path(turn), link_base=base)
    decision = {"answered": "answer", "clarify": "clarify"}.get(turn.kind, "decline")
    return AnswerOut(text=turn.answer_text, html=html, sources=sources, confident=turn.answered, decision=decision, confidence=turn.confidence, choices=choices, picked=picked)


def _message_of(turn: Turn, request: Request) -> dict:
    """A question's or a pick's turn as the widget gets it."""
    return MessageOut(turn_id=turn.id, answer=_answer_of(turn, _base_url(request)), quiet=turn.quiet).model_dump(mode="json")


def _knowledge_url(base: str, source: dict) -> str:
    return f"{base}/knowledge/{source['path']}#L{source['line']}"


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.idempotency_lease_seconds)


def _outcome(conversation: Conversation, settings: Settings) -> Outcome:
    return outcome_of(conversation, utcnow(), settings.assume_resolved_after)


@router.post("/conversations", status_code=201, response_model=ConversationCreated, responses=NOT_VERIFIED)
def create_conversation(body: ConversationCreate, request: Request, session: SessionDep, settings: SettingsDep, rate_limits: RateLimitsDep, key: IdempotencyKey = None):
    """Start a conversation. A verified `user` needs hash = hex HMAC-SHA256(JISO_IDENTITY_SECRET, "id:org_id")."""
    user = verified(settings, body.user) if body.user is not None else None
    visitor = f"user:{user.org_id}:{user.id}" if user else body.visitor_id
    if visitor:
        rate_limits.check_visitor(visitor)

    def action(delivery_key: str | None) -> tuple[int, dict]:
        conversation = writes.open_conversation(
            session=session, channel=CHANNEL, locale=body.locale, visitor_id=body.visitor_id,
            user_id=user.id if user else None, org_id=user.org_id if user else None, external_key=delivery_key,
        )  # fmt: skip
        return 201, ConversationCreated(id=conversation.id).model_dump(mode="json")

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=_lease(settings), action=action)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut, responses=NOT_FOUND)
def post_message(
    conversation_id: str,
    body: MessageCreate,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    engine: OptionalEngineDep,
    rate_limits: RateLimitsDep,
    dispatcher: DispatcherDep,
    key: IdempotencyKey = None,
):
    """Ask a question. `answer.decision` says what jiso did: `answer` (the writers' text, with
    `confidence` = the probability it is right), `clarify` ("Did you mean…" with `choices`, answered
    by POST …/choose), or `decline` ("I don't know" and the offer of a person; `confident: false`).
    After a hand-over the bot stays quiet (`quiet: true`) unless `new_question` is true; the
    message goes on to the people as a follow-up (the Slack hand-over thread, the webhook)."""
    conversation = _conversation(session, conversation_id)
    text = body.text.strip()
    if not text:
        raise HTTPException(422, detail="the question is empty")
    require_question_length(text, settings)
    rate_limits.check_visitor(_visitor_key(conversation))

    def action(delivery_key: str | None) -> tuple[int, dict]:
        asked = conversations.ask(
            session=session, engine=engine, conversation=conversation, text=text, locale=body.locale, new_question=body.new_question, delivery_key=delivery_key,
        )  # fmt: skip
        # Also when a retry finds the turn: the request that wrote it may have died before queueing this.
        person_replies.follow_up(session=session, conversation=conversation, turn=asked.turn, dispatcher=dispatcher)
        return 200, _message_of(asked.turn, request)

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=_lease(settings), action=action)


@router.post("/conversations/{conversation_id}/choose", response_model=MessageOut, responses={**NOT_FOUND, 409: {"description": "The turn did not ask which entry is meant"}})
def post_choice(
    conversation_id: str, body: ChoiceCreate, request: Request, session: SessionDep, settings: SettingsDep, engine: OptionalEngineDep, rate_limits: RateLimitsDep, key: IdempotencyKey = None
):
    """Answer "Did you mean…": `entry_id` one of the turn's `choices`, or null for "None of these"
    (the "I don't know" message and the offer of a person). Recorded once per clarification."""
    conversation = _conversation(session, conversation_id)
    rate_limits.check_visitor(_visitor_key(conversation))

    def action(_: str | None) -> tuple[int, dict]:  # one pick per clarification: the pick itself is the key
        try:
            turn = conversations.choose(session=session, engine=engine, conversation=conversation, turn_id=body.turn_id, entry_id=body.entry_id).turn
        except writes.NotFound as error:
            raise HTTPException(404, detail=str(error)) from None
        except conversations.NotAClarification as error:
            raise HTTPException(409, detail=str(error)) from None
        except conversations.NotAChoice as error:
            raise HTTPException(422, detail=str(error)) from None
        return 200, _message_of(turn, request)

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=_lease(settings), action=action)


@router.post("/conversations/{conversation_id}/feedback", response_model=FeedbackOut, responses=NOT_FOUND)
def post_feedback(conversation_id: str, body: FeedbackCreate, request: Request, session: SessionDep, settings: SettingsDep, key: IdempotencyKey = None):
    """ "This solved it" (helpful: true) or "Not helpful" on a turn; voting again changes the vote."""
    conversation = _conversation(session, conversation_id)

    def action(_: str | None) -> tuple[int, dict]:  # a vote is a state: recording it again changes nothing
        try:
            writes.record_feedback(session=session, conversation=conversation, turn_id=body.turn_id, helpful=body.helpful)
        except writes.NotFound as error:
            raise HTTPException(404, detail=str(error)) from None
        session.refresh(conversation)
        return 200, FeedbackOut(turn_id=body.turn_id, helpful=body.helpful, outcome=_outcome(conversation, settings)).model_dump(mode="json")

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=_lease(settings), action=action)


@router.post("/conversations/{conversation_id}/escalate", status_code=201, response_model=EscalationOut, responses=NOT_FOUND)
def post_escalation(
    conversation_id: str, body: EscalationCreate, request: Request, session: SessionDep, settings: SettingsDep, dispatcher: DispatcherDep, links: TranscriptLinksDep, key: IdempotencyKey = None
):
    """Hand the conversation over to people (Slack and/or the webhook, in the background), with
    the visitor's `email` when they left one. `destinations` empty: none is configured, nobody is
    notified (the widget says so)."""
    conversation = _conversation(session, conversation_id)

    def action(delivery_key: str | None) -> tuple[int, dict]:
        reason = body.reason.strip() or body.reason
        escalation = escalate(
            session=session, conversation=conversation, reason=reason, dispatcher=dispatcher, link=links.link(conversation.id), delivery_key=delivery_key, contact_email=body.email,
        )  # fmt: skip
        session.refresh(conversation)
        out = EscalationOut(escalation_id=escalation.id, destinations=escalation.destinations, outcome=_outcome(conversation, settings))
        return 201, out.model_dump(mode="json")

    return run_idempotent(session=session, request=request, key=key, payload=body, lease=_lease(settings), action=action)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, responses=NOT_FOUND)
def get_conversation(conversation_id: str, request: Request, session: SessionDep, settings: SettingsDep) -> ConversationOut:
    """The transcript and the current outcome (the quiet window is JISO_ASSUME_RESOLVED_AFTER)."""
    conversation = _conversation(session, conversation_id)
    base = _base_url(request)
    votes = {vote.turn_id: vote.helpful for vote in session.exec(select(Feedback).where(Feedback.conversation_id == conversation.id))}
    escalations = session.exec(select(Escalation).where(Escalation.conversation_id == conversation.id).order_by(Escalation.created_at))
    turns = writes.turns_of(session=session, conversation_id=conversation.id)
    picks = {turn.picked_from: turn.entry_id or "" for turn in turns if turn.picked_from}  # clarification → what was picked
    shown: list[TurnOut | PersonReplyOut] = [
        TurnOut(id=turn.id, seq=turn.seq, question=turn.question, answer=_answer_of(turn, base, picks.get(turn.id)), feedback=votes.get(turn.id), created_at=turn.created_at) for turn in turns
    ]
    replies = [_reply_of(reply) for reply in handovers.replies_of(session=session, conversation_id=conversation.id)]
    return ConversationOut(
        id=conversation.id,
        channel=conversation.channel,
        locale=conversation.locale,
        created_at=conversation.created_at,
        outcome=_outcome(conversation, settings),
        handed_over=conversation.handed_over,
        turns=sorted(shown + replies, key=lambda item: (item.created_at, item.role == "person")),  # stable: turns keep their order
        escalations=[EscalationSummary(id=e.id, reason=e.reason, created_at=e.created_at, delivery=e.delivery) for e in escalations],
    )


def _reply_of(reply: PersonReply) -> PersonReplyOut:
    return PersonReplyOut(id=reply.id, text=reply.text, author=reply.author_name, created_at=reply.created_at)


@router.get("/conversations/{conversation_id}/replies", response_model=RepliesOut, responses=NOT_FOUND)
def get_replies(conversation_id: str, session: SessionDep) -> RepliesOut:
    """People's replies after a hand-over, in time order: what the widget polls while handed over
    (read from the ledger, so any server instance answers the same)."""
    conversation = _conversation(session, conversation_id)
    return RepliesOut(replies=[_reply_of(reply) for reply in handovers.replies_of(session=session, conversation_id=conversation.id)])
