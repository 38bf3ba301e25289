"""Hand-over to humans: what travels (Handover), where it goes (Destination), and how (Dispatcher).

The user's request only records the escalation and, in the same transaction, one job per
destination in the job queue every instance shares (bot/jobs.py); a worker in any instance
delivers it, retried with exponential back-off, and the result per destination is written to the
escalation (`delivered`, or `failed: <why>` after the last attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, runtime_checkable

import httpx
from sqlalchemy.engine import Engine as DatabaseEngine
from sqlmodel import Session, select

from bot.conversations import transcript
from bot.jobs import JobQueue
from bot.ledger import writes
from bot.ledger.models import Conversation, Escalation, Job, utcnow

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Jiso-Signature"
TIMESTAMP_HEADER = "X-Jiso-Timestamp"


@dataclass(frozen=True)
class Handover:
    """What travels to humans."""

    escalation_id: str
    conversation_id: str
    channel: str
    reason: str
    org_id: str | None
    user_id: str | None
    locale: str | None
    transcript: list[dict]  # each: question, answer, answered, quiet, confidence, sources
    link: str | None  # where a human can read the conversation
    contact_email: str | None = None  # an anonymous visitor's address, when they left one


@dataclass(frozen=True)
class HandoverEvent:
    """What happened on a hand-over after it went out: the user wrote again (`follow_up`), a person
    replied (`reply`), or closed it (`closed`: `text` is the note, `author` who closed it); `via`
    says where the person did it (slack or api). Receivers deduplicate by `event_id`."""

    kind: Literal["follow_up", "reply", "closed"]
    event_id: str  # the quiet turn's or the reply's id; for a close, the escalation's
    escalation_id: str
    conversation_id: str
    channel: str  # where the user is: web | slack
    user_id: str | None
    text: str
    created_at: str  # ISO 8601, UTC
    author: str | None = None  # the person's name (a reply)
    via: str | None = None  # where the person wrote the reply

    @classmethod
    def on(
        cls, conversation: Conversation, *, kind: Literal["follow_up", "reply", "closed"], event_id: str, escalation_id: str, text: str, at: datetime, author: str | None = None, via: str | None = None
    ) -> HandoverEvent:
        """An event on one of `conversation`'s hand-overs (where its user is comes from the conversation)."""
        return cls(kind, event_id, escalation_id, conversation.id, conversation.channel, conversation.user_id, text, at.isoformat(), author, via)


class Destination(Protocol):
    name: str

    def deliver(self, handover: Handover) -> None:
        """Deliver or raise; the dispatcher retries."""


@runtime_checkable
class EventDestination(Protocol):
    """A destination that also takes what is said on a hand-over after it went out."""

    name: str

    def takes(self, event: HandoverEvent) -> bool:
        """Whether this event is for this destination (a reply is not sent back where it was written)."""

    def deliver_event(self, event: HandoverEvent) -> None:
        """Deliver or raise; the dispatcher retries."""


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookDestination:
    """A JSON POST, signed: `X-Jiso-Signature: sha256=<hex HMAC-SHA256 of the body>`. Receivers
    should compare in constant time and deduplicate by `escalation_id` (retries resend it)."""

    name = "webhook"

    def __init__(self, url: str, secret: str, *, timeout: float = 10.0) -> None:
        if not secret:
            raise ValueError("the escalation webhook needs a signing secret (JISO_ESCALATION_WEBHOOK_SECRET)")
        self.url = url
        self._secret = secret
        self._client = httpx.Client(timeout=timeout)

    def deliver(self, handover: Handover) -> None:
        self._post({"type": "jiso.handover", **asdict(handover)})

    def takes(self, event: HandoverEvent) -> bool:
        return event.kind == "follow_up" or event.via != "api"  # an API reply or close came from the receiver itself

    def deliver_event(self, event: HandoverEvent) -> None:
        """`jiso.handover.follow_up` (the user wrote again), `jiso.handover.reply` or `jiso.handover.closed`, signed like a hand-over."""
        self._post({"type": f"jiso.handover.{event.kind}", **asdict(event)})

    def _post(self, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body), TIMESTAMP_HEADER: str(int(time.time()))}
        response = self._client.post(self.url, content=body, headers=headers)
        response.raise_for_status()

    def close(self) -> None:
        self._client.close()


def build_handover(*, session: Session, conversation: Conversation, escalation: Escalation, link: str | None, user_id: str | None = None) -> Handover:
    """`user_id`: who asked for the person, when not the conversation's user (a shared Slack thread)."""
    return Handover(
        escalation_id=escalation.id,
        conversation_id=conversation.id,
        channel=conversation.channel,
        reason=escalation.reason,
        org_id=conversation.org_id,
        user_id=user_id or conversation.user_id,
        locale=conversation.locale,
        transcript=transcript(session=session, conversation=conversation),
        link=link,
        contact_email=escalation.contact_email,
    )


HANDOVER_JOB = "handover"
EVENT_JOB = "handover_event"


class Dispatcher:
    """Delivers hand-overs off the request path: one job per destination in the shared queue
    (bot/jobs.py), so any instance delivers it, retried with back-off, each outcome recorded;
    and what is said on a hand-over afterwards (HandoverEvent), as jobs of their own.
    It runs the queue's workers (`queue`: one configured by the caller, on which other kinds of
    work may be registered) and stops them on close."""

    def __init__(
        self,
        database: DatabaseEngine,
        destinations: Sequence[Destination],
        *,
        attempts: int = 6,
        backoff: float = 2.0,
        max_delay: float = 300.0,
        followers: Sequence[EventDestination] = (),
        queue: JobQueue | None = None,
    ) -> None:
        self.destinations = list(destinations)
        self.followers = list(followers)  # take events only (e.g. a person's reply into the asker's Slack thread)
        self.attempts = attempts
        self.queue = queue or JobQueue(database)
        self.queue.register(HANDOVER_JOB, self._deliver, on_done=self._delivered, on_failed=self._failed, backoff=backoff, max_delay=max_delay)
        self.queue.register(EVENT_JOB, self._deliver_event, on_failed=self._event_failed, backoff=backoff, max_delay=max_delay)
        self.queue.start()

    @property
    def names(self) -> list[str]:
        return [destination.name for destination in self.destinations]

    def dispatch(self, handover: Handover, only: set[str] | None = None) -> None:
        """Queue the hand-over for each destination (once: a destination already queued is skipped)."""
        for destination in self.destinations:
            if only is None or destination.name in only:
                self.queue.enqueue(kind=HANDOVER_JOB, key=_handover_key(handover, destination), payload=_handover_payload(handover, destination), max_attempts=self.attempts)

    def add(self, session: Session, handover: Handover) -> None:
        """Queue a new hand-over for each destination in the caller's transaction (the one that
        records it): a recorded hand-over always has its jobs. `queue.wake()` after the commit."""
        for destination in self.destinations:
            self.queue.add(session, kind=HANDOVER_JOB, key=_handover_key(handover, destination), payload=_handover_payload(handover, destination), max_attempts=self.attempts)

    def _deliver(self, payload: dict) -> None:
        destination = next((destination for destination in self.destinations if destination.name == payload["destination"]), None)
        if destination is None:
            raise LookupError(f"this instance has no {payload['destination']} destination configured")
        destination.deliver(Handover(**payload["handover"]))

    def dispatch_event(self, event: HandoverEvent) -> None:
        """What was said on a hand-over, to every destination and follower that takes it, retried
        like a hand-over. A failure is logged: the ledger holds what was said either way."""
        for destination in [*self.destinations, *self.followers]:
            if isinstance(destination, EventDestination) and destination.takes(event):
                payload = {"destination": destination.name, "event": asdict(event)}
                self.queue.enqueue(kind=EVENT_JOB, key=f"{event.kind}:{event.event_id}:{destination.name}", payload=payload, max_attempts=self.attempts)

    def _deliver_event(self, payload: dict) -> None:
        destination = next((d for d in [*self.destinations, *self.followers] if d.name == payload["destination"]), None)
        if not isinstance(destination, EventDestination):
            raise LookupError(f"this instance has no {payload['destination']} destination configured")
        destination.deliver_event(HandoverEvent(**payload["event"]))

    def _event_failed(self, session: Session, payload: dict, error: str) -> None:
        event = payload["event"]
        log.error("%s %s of hand-over %s was not delivered to %s: %s", event["kind"], event["event_id"], event["escalation_id"], payload["destination"], error)

    def _delivered(self, session: Session, payload: dict) -> None:
        writes.record_delivery(session=session, escalation_id=payload["handover"]["escalation_id"], destination=payload["destination"], status="delivered")

    def _failed(self, session: Session, payload: dict, error: str) -> None:
        writes.record_delivery(session=session, escalation_id=payload["handover"]["escalation_id"], destination=payload["destination"], status=f"failed: {error}"[:500])

    def drain(self, timeout: float = 60.0) -> None:
        """Wait for the deliveries due within `timeout` (tests; orderly shutdown)."""
        self.queue.drain(timeout)

    def close(self) -> None:
        self.queue.close()
        for destination in [*self.destinations, *self.followers]:
            close = getattr(destination, "close", None)
            if callable(close):
                close()


def _handover_key(handover: Handover, destination: Destination) -> str:
    return f"handover:{handover.escalation_id}:{destination.name}"


def _handover_payload(handover: Handover, destination: Destination) -> dict:
    return {"destination": destination.name, "handover": asdict(handover)}


def resume_pending(*, database: DatabaseEngine, dispatcher: Dispatcher, link_for: Callable[[str], str | None], within: timedelta = timedelta(days=7)) -> int:
    """Queue what is `pending` without a job (recorded by a version that queued it after the
    commit, by a process stopped in between); returns how many. Run by every instance at start:
    a queued job is not queued twice."""
    resumed = 0
    with Session(database) as session:
        for escalation in session.exec(select(Escalation).where(Escalation.created_at >= utcnow() - within)):
            pending = {name for name, status in escalation.delivery.items() if status == "pending"} & set(dispatcher.names)
            queued = set(session.exec(select(Job.key).where(Job.key.in_([f"handover:{escalation.id}:{name}" for name in pending]))).all()) if pending else set()
            missing = {name for name in pending if f"handover:{escalation.id}:{name}" not in queued}
            conversation = session.get(Conversation, escalation.conversation_id)
            if not missing or conversation is None:
                continue
            dispatcher.dispatch(build_handover(session=session, conversation=conversation, escalation=escalation, link=link_for(conversation.id)), only=missing)
            resumed += 1
    if resumed:
        log.info("queued %d hand-over(s) left without a job by a stopped process", resumed)
    return resumed


def escalate(
    *,
    session: Session,
    conversation: Conversation,
    reason: str,
    dispatcher: Dispatcher,
    link: str | None,
    turn_id: str | None = None,
    user_id: str | None = None,
    delivery_key: str | None = None,
    contact_email: str | None = None,
) -> Escalation:
    """Record the hand-over (the bot goes quiet) and send it to every destination in the background.
    A hand-over already recorded under `delivery_key` is returned and not sent again."""
    if delivery_key is not None:
        existing = writes.find_escalation(session=session, delivery_key=delivery_key)
        if existing is not None:
            return existing

    def queue_deliveries(escalation: Escalation) -> None:  # in the transaction that records it
        dispatcher.add(session, build_handover(session=session, conversation=conversation, escalation=escalation, link=link, user_id=user_id))

    escalation = writes.record_escalation(
        session=session, conversation=conversation, reason=reason, destinations=dispatcher.names, turn_id=turn_id, delivery_key=delivery_key,
        contact_email=contact_email, with_escalation=queue_deliveries,
    )  # fmt: skip
    if not dispatcher.destinations:
        log.warning(
            "conversation %s was handed over but no destination is configured (JISO_ESCALATION_WEBHOOK_URL, JISO_SLACK_ESCALATION_CHANNEL): it is in the ledger only",
            conversation.id,
        )
    dispatcher.queue.wake()
    return escalation
