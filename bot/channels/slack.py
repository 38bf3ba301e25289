"""The Slack channel: a slack-bolt `App` that answers mentions, DMs and `/jiso`, records every
question in the ledger (channel `slack`) and hands conversations over to people.

Slack wants an answer within 3 s. An event (a mention, a DM, a message in a hand-over thread) is
acked once it is a job in the queue every instance shares (bot/jobs.py), keyed by its event id:
any instance answers it, also when the one that acked dies at once, and Slack's redeliveries of
the event, to whichever instance, add nothing. Commands and buttons ack at once and do the work
in a lazy listener. A question goes through the same use case as the web's
(`bot.conversations.ask`), with its delivery key (the unique constraint on `turns.delivery_key`
keeps it one turn); the job posts the answer, again if a run died after recording the turn.

Nothing here is built at import: `build_app` takes everything it needs as arguments.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from pydantic import BaseModel
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session

from bot import closing, conversations, person_replies
from bot.channels.slack_blocks import ACTION_IDS, CHOOSE, FALLBACK_CHARS, HELPFUL, NOT_HELPFUL, SHARE, ButtonRef, State, answer_message, text
from bot.engine import Engine
from bot.escalation import Dispatcher, Handover, HandoverEvent, escalate
from bot.ledger import handovers, writes
from bot.ledger.models import Conversation, Escalation, Turn
from bot.slack_format import escape, link, mentions, plain_question, plain_text, to_mrkdwn
from indexer.language import detect_locale

log = logging.getLogger(__name__)
CHANNEL = "slack"
COMMAND = "/jiso"
RATE_LIMIT_RETRIES = 3
# Plain user messages; edits, deletions, joins and bot posts are not questions.
QUESTION_SUBTYPES = (None, "file_share", "thread_broadcast")
RESOLVE = "jiso_resolve"  # "Mark resolved" on a hand-over message; its value is the escalation id
ESCALATION_ID = re.compile(r"^[0-9a-f]{32}$")
EVENT_JOB = "slack_event"
EVENT_ATTEMPTS = 3  # an answer retried much later would be late: the turn is recorded either way


def make_web_client(token: str, base_url: str) -> WebClient:
    """The Web API client: `base_url` may point at a proxy or a test server; 429s are retried
    after the `Retry-After` Slack sends, connection resets once."""
    return WebClient(token=token, base_url=base_url, retry_handlers=_retry_handlers())


def _retry_handlers() -> list:
    return [ConnectionErrorRetryHandler(), RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def slack_user_id(team: str, user: str) -> str:
    return f"slack:{team}:{user}"


class SlackQuestion(BaseModel):
    """A message that may be a question to jiso, from an `app_mention` or `message.im` event."""

    event_id: str
    team: str
    channel: str
    user: str
    text: str
    ts: str
    thread_ts: str | None = None
    is_dm: bool = False

    @property
    def thread_root(self) -> str:
        return self.thread_ts or self.ts

    @property
    def external_key(self) -> str:
        return f"{self.team}:{self.channel}:{self.thread_root}"

    def is_new_question(self, bot_user_id: str | None) -> bool:
        """Slack's "new question" rule: a mention of jiso, or a message that starts a thread. In a
        DM thread after a hand-over, a message without a mention is for the person."""
        return not self.is_dm or not self.thread_ts or mentions(self.text, bot_user_id)

    @classmethod
    def from_event(cls, body: dict[str, Any], team: str | None) -> SlackQuestion | None:
        """None for what is not a person's question: other bots, edits, deletions, joins."""
        event = body.get("event") or {}
        if event.get("bot_id") or event.get("subtype") not in QUESTION_SUBTYPES or not event.get("user"):
            return None
        is_dm = event.get("type") == "message"
        if is_dm and event.get("channel_type") != "im":
            return None  # in channels we answer mentions only (the app_mention event)
        return cls(
            event_id=body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}",
            team=team or body.get("team_id") or "",
            channel=event["channel"],
            user=event["user"],
            text=event.get("text") or "",
            ts=event["ts"],
            thread_ts=event.get("thread_ts"),
            is_dm=is_dm,
        )


class SlackChannelDestination:
    """Posts a hand-over into a Slack channel where the support team works. The message's thread
    is where people reply to the user (recorded by `SlackBot`), and where the user's follow-ups
    and replies written elsewhere (the API) are posted."""

    name = "slack"

    def __init__(self, client: WebClient, channel: str, database: Database) -> None:
        self.client = client
        self.channel = channel
        self.database = database

    def deliver(self, handover: Handover) -> None:
        """Raises on failure, so the caller can record where the hand-over got to."""
        message = handover_message(handover)
        posted = self.client.chat_postMessage(channel=self.channel, text=message["text"], blocks=message["blocks"], unfurl_links=False)
        with Session(self.database) as session:  # the channel's id, as thread replies name it
            handovers.record_slack_message(session=session, escalation_id=handover.escalation_id, channel=posted["channel"], ts=posted["ts"])

    def takes(self, event: HandoverEvent) -> bool:
        return event.kind == "follow_up" or event.via != "slack"  # what was done in Slack is there already

    def deliver_event(self, event: HandoverEvent) -> None:
        with Session(self.database) as session:
            escalation = session.get(Escalation, event.escalation_id)
        if escalation is None or escalation.slack_ts is None:
            raise LookupError(f"the hand-over {event.escalation_id} is not posted in Slack yet")  # retried: it may be on its way
        if event.kind == "follow_up":
            shown = f":speech_balloon: *The user wrote:* {escape(event.text)}"
        elif event.kind == "closed":
            shown = ":white_check_mark: Resolved through the API" + (f": {escape(event.text)}" if event.text else "")
        else:
            shown = f":outbox_tray: *{escape(event.author or 'A person')}* replied through the API: {escape(event.text)}"
        self.client.chat_postMessage(channel=escalation.slack_channel, thread_ts=escalation.slack_ts, text=shown[:FALLBACK_CHARS], unfurl_links=False)


class SlackAskerRelay:
    """A person's reply, posted to the user where they asked on Slack: in their thread, or only to
    them (ephemeral) for a `/jiso` question, which has no thread."""

    name = "slack_asker"

    def __init__(self, client: WebClient, database: Database) -> None:
        self.client = client
        self.database = database

    def takes(self, event: HandoverEvent) -> bool:
        return event.kind == "reply" and event.channel == CHANNEL

    def deliver_event(self, event: HandoverEvent) -> None:
        with Session(self.database) as session:
            conversation = session.get(Conversation, event.conversation_id)
        if conversation is None or not conversation.external_key:
            return
        _team, channel, thread = conversation.external_key.split(":", 2)
        author = event.author or text("someone", conversation.locale)
        shown = text("person_reply", conversation.locale, author=escape(author), text=escape(event.text))[:FALLBACK_CHARS]
        if thread.startswith("command:"):
            user = (conversation.user_id or "").rsplit(":", 1)[-1]
            self.client.chat_postEphemeral(channel=channel, user=user, text=shown)
        else:
            self.client.chat_postMessage(channel=channel, thread_ts=thread, text=shown, unfurl_links=False)


def handover_message(handover: Handover, max_turns: int = 5, max_chars: int = 600) -> dict[str, Any]:
    user = str(handover.user_id or "an anonymous visitor")
    if user.startswith("slack:") and user.count(":") == 2:
        user = f"<@{user.rsplit(':', 1)[1]}>"  # a Slack user: mention them so the team can DM them
    else:
        user = escape(user)
    org = escape(handover.org_id) if handover.org_id else "no organization"
    lines = [f":raising_hand: *Hand-over* from {user} ({org}, via {escape(handover.channel)}, {escape(handover.locale or '?')})", f"*Why:* {escape(handover.reason)}"]
    if handover.contact_email:
        lines.append(f"*Contact:* {escape(handover.contact_email)} (no live chat: reply by e-mail, or here and they see it when they come back)")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]
    for turn in handover.transcript[-max_turns:]:
        answer = turn.get("answer") if turn.get("answered") else None
        tried = to_mrkdwn(answer)[:max_chars] + ("…" if len(answer or "") > max_chars else "") if answer else "_no answer: the bot was not confident_"
        question = escape(str(turn.get("question", "")))[:max_chars]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Question:* {question}\n*Answer tried:* {tried}"}})
    where = link(handover.link, "Open the conversation") if handover.link else "_No link: the answer was only visible to the user._"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{where} · conversation `{handover.conversation_id}` · reply in this thread to answer the user"}]})
    resolve = {"type": "button", "action_id": RESOLVE, "value": handover.escalation_id, "style": "primary", "text": {"type": "plain_text", "text": "Mark resolved"}}
    blocks.append({"type": "actions", "block_id": "jiso_handover", "elements": [resolve]})
    return {"text": f"Hand-over from {user} ({org}): {escape(handover.reason)}", "blocks": blocks}


def resolved_message(blocks: list[dict[str, Any]], escalation: Escalation) -> list[dict[str, Any]]:
    """The hand-over message once resolved: its button replaced by who resolved it (and the note)."""
    by = escalation.closed_by or ""
    who = f"<@{by.rsplit(':', 1)[1]}>" if by.startswith("slack:") else escape(by or "someone")
    shown = f":white_check_mark: Resolved by {who}" + (f": {escape(escalation.close_note)}" if escalation.close_note else "")
    return [block for block in blocks if block.get("block_id") != "jiso_handover"] + [{"type": "context", "elements": [{"type": "mrkdwn", "text": shown[:FALLBACK_CHARS]}]}]


class SlackBot:
    """The listeners. Each `on_*` method runs as a lazy listener, after the ack."""

    def __init__(
        self,
        *,
        client: WebClient,
        engine: Callable[[], Engine | None],
        database: Database,
        dispatcher: Dispatcher,
        workspace_orgs: dict[str, str],
        knowledge_url: str = "",
        locales: tuple[str, ...] = ("en", "ja"),
        gap_similarity: dict[str, float] | None = None,
    ) -> None:
        self.client = client
        self.engine = engine
        self.gap_similarity = gap_similarity or {}  # the content gaps' thresholds, for FAQ drafts' similar questions
        self.database = database
        self.dispatcher = dispatcher
        self.workspace_orgs = workspace_orgs
        self.knowledge_url = knowledge_url
        self.locales = locales

    # -- questions ---------------------------------------------------------------------------

    def queue_event(self, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """Ack once the event is queued: from then on it survives this instance. Without the ack
        (the database is away) Slack delivers it again."""
        event = body.get("event") or {}
        event_id = body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}"
        payload = {"body": body, "team_id": context.team_id, "bot_user_id": context.bot_user_id}
        self.dispatcher.queue.enqueue(kind=EVENT_JOB, key=f"slack:event:{event_id}", payload=payload, max_attempts=EVENT_ATTEMPTS)
        ack()

    def run_event(self, payload: dict[str, Any]) -> None:
        """A queued event, in whichever instance's job worker claimed it."""
        context = BoltContext(team_id=payload["team_id"], bot_user_id=payload["bot_user_id"])
        self.on_event(payload["body"], context, self.client)

    def on_event(self, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        if self._in_handover_thread(body, context):
            return
        question = SlackQuestion.from_event(body, context.team_id)
        if question is None:
            return
        new_question = question.is_new_question(context.bot_user_id)
        asked = plain_question(question.text, context.bot_user_id)
        if not asked and not new_question:
            return  # an empty message in a DM thread (a file alone): nothing to record
        if not asked:  # a bare "@jiso": say how to ask, record nothing
            try:
                client.chat_postEphemeral(channel=question.channel, user=question.user, text=text("usage", detect_locale(question.text, self.locales)), thread_ts=question.thread_root)
            except Exception:
                log.exception("Slack chat.postEphemeral failed (team=%s channel=%s event=%s)", question.team, question.channel, question.event_id)
            return
        # An event is one job: a turn already recorded under its key is this job's, from a run that
        # died before it could post (so the answer is posted at least once, as deliveries are).
        turn = self._ask(
            asked, team=question.team, user=question.user, external_key=question.external_key, delivery_key=f"slack:event:{question.event_id}",
            new_question=new_question, post_recorded=True,
        )  # fmt: skip
        if turn is None:
            return
        # In a channel we answer in the thread; in a DM beside the question, threaded only if it was.
        thread_ts = question.thread_ts if question.is_dm else question.thread_root
        message = answer_message(turn, asker=question.user, knowledge_url=self.knowledge_url)
        try:
            client.chat_postMessage(channel=question.channel, thread_ts=thread_ts, unfurl_links=False, **message)
        except Exception:  # the turn is recorded; what failed is only the post
            log.exception("Slack chat.postMessage failed (team=%s channel=%s event=%s turn=%s)", question.team, question.channel, question.event_id, turn.id)

    def ack_command(self, ack: Ack, command: dict[str, Any]) -> None:
        if command.get("text", "").strip():
            ack()
        else:
            ack(text=text("usage", "en") + "\n" + text("usage", "ja"))

    def on_command(self, command: dict[str, Any], context: BoltContext) -> None:
        asked = plain_question(command.get("text", ""), context.bot_user_id)
        if not asked:
            return
        team, channel, trigger = context.team_id or command["team_id"], command["channel_id"], command["trigger_id"]
        turn = self._ask(asked, team=team, user=command["user_id"], external_key=f"{team}:{channel}:command:{trigger}", delivery_key=f"slack:command:{trigger}", new_question=True)
        if turn is None:
            return
        message = answer_message(turn, asker=command["user_id"], knowledge_url=self.knowledge_url, show_question=True, via_response_url=True, shareable=True)
        _respond(command["response_url"], {**message, "response_type": "ephemeral"}, context=f"team={team} channel={channel} turn={turn.id}")

    def _in_handover_thread(self, body: dict[str, Any], context: BoltContext) -> bool:
        """A message in the thread of a hand-over message (in the escalation channel): a person's
        reply to the user, recorded and passed on (bot.person_replies); never a question for the
        bot. Our own posts there (the user's follow-ups) and other bots' are not replies."""
        event = body.get("event") or {}
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        if not thread_ts or not channel or event.get("channel_type") == "im" or thread_ts == event.get("ts"):
            return False
        with Session(self.database) as session:
            escalation = handovers.escalation_at_slack_message(session=session, channel=channel, ts=thread_ts)
            if escalation is None:
                return False
            user = event.get("user")
            is_reply = event.get("type") == "message" and event.get("subtype") in QUESTION_SUBTYPES and not event.get("bot_id") and user and user != context.bot_user_id
            reply = plain_text(event.get("text") or "", context.bot_user_id) if is_reply else ""
            if not reply:
                return True  # the bot's own posts, edits, an @jiso mention (its message event is the reply)
            conversation = session.get(Conversation, escalation.conversation_id)
            profile = event.get("user_profile") or {}
            team = context.team_id or body.get("team_id") or ""
            person_replies.reply(
                session=session, conversation=conversation, text=reply, via=CHANNEL, dispatcher=self.dispatcher, escalation=escalation,
                author_name=profile.get("display_name") or profile.get("real_name") or None, author_ref=slack_user_id(team, user),
                delivery_key=f"slack:event:{body.get('event_id') or channel + ':' + str(event.get('ts'))}",
            )  # fmt: skip
        return True

    def _ask(self, asked: str, *, team: str, user: str, external_key: str, delivery_key: str, new_question: bool, post_recorded: bool = False) -> Turn | None:
        """Record and answer through the one conversation use case. The turn to post, or None:
        when the bot stays quiet, or the question was recorded already (unless `post_recorded`)."""
        locale = detect_locale(asked, self.locales)
        with Session(self.database) as session:
            conversation = writes.open_conversation(
                session=session,
                channel=CHANNEL,
                external_key=external_key,
                locale=locale,
                user_id=slack_user_id(team, user),
                org_id=self.workspace_orgs.get(team),
            )
            asked_turn = conversations.ask(
                session=session, engine=self.engine(), conversation=conversation, text=asked, locale=locale,
                new_question=new_question, delivery_key=delivery_key,
            )  # fmt: skip
            # After a hand-over the message goes on to the person; queued once, also when a run
            # that died after recording the turn is done again.
            person_replies.follow_up(session=session, conversation=conversation, turn=asked_turn.turn, dispatcher=self.dispatcher)
            session.expunge(asked_turn.turn)
        if asked_turn.created:
            return asked_turn.turn if asked_turn.answer is not None else None
        return asked_turn.turn if post_recorded and not asked_turn.turn.quiet else None

    # -- buttons -----------------------------------------------------------------------------

    def on_action(self, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        ref = ButtonRef.decode(action.get("value", ""))
        team, user = context.team_id or "", body["user"]["id"]
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        where = f"team={team} channel={channel} user={user} action={action.get('action_id')}"
        if ref is None:
            log.warning("Slack button with an unreadable value ignored (%s)", where)
            return
        with Session(self.database) as session:
            conversation = session.get(Conversation, ref.c)
            turn = session.get(Turn, ref.t)
            if conversation is None or turn is None or turn.conversation_id != conversation.id or conversation.channel != CHANNEL:
                log.warning("Slack button for an unknown conversation or turn ignored (%s)", where)
                return
            if user != ref.u:
                try:
                    client.chat_postEphemeral(channel=channel, user=user, text=text("not_yours", turn.locale, user=f"<@{ref.u}>"))
                except Exception:
                    log.exception("Slack chat.postEphemeral failed (%s)", where)
                return
            action_id = action["action_id"]
            state: State
            if action_id == SHARE:
                self._share(turn, ref.u, body["response_url"], where)
                return
            picked: Turn | None = None
            choice = ref.e
            if action_id.startswith(CHOOSE):
                try:
                    chosen = conversations.choose(session=session, engine=self.engine(), conversation=conversation, turn_id=turn.id, entry_id=ref.e or None)
                except conversations.NotAClarification:
                    return  # handed over since: the choices are the person's to follow up
                picked = chosen.turn if chosen.created else None  # a second click: the first pick stands…
                choice = chosen.turn.entry_id or ""  # …and is what the message shows
                state = "picked"
            elif action_id in (HELPFUL, NOT_HELPFUL):
                writes.record_feedback(session=session, conversation=conversation, turn_id=turn.id, helpful=action_id == HELPFUL)
                state = "helpful" if action_id == HELPFUL else "not_helpful"
            else:
                self._hand_over(session, conversation, turn, user_id=slack_user_id(team, user), client=client, channel=channel, thread_ts=None if ref.r else _thread_of(body))
                state = "handed_over"
            message = answer_message(turn, asker=ref.u, state=state, knowledge_url=self.knowledge_url, show_question=ref.r, via_response_url=ref.r, choice=choice)
            answer = answer_message(picked, asker=ref.u, knowledge_url=self.knowledge_url, via_response_url=ref.r) if picked is not None else None
        if ref.r:
            _respond(body["response_url"], {**message, "replace_original": True}, context=where)
            if answer is not None:
                _respond(body["response_url"], {**answer, "response_type": "ephemeral", "replace_original": False}, context=where)
            return
        if answer is not None:  # the picked entry's answer first, as a new message in the same thread
            try:
                client.chat_postMessage(channel=channel, thread_ts=_thread_of(body), unfurl_links=False, **answer)
            except Exception:
                log.exception("Slack chat.postMessage of a picked answer failed (%s)", where)
        try:
            client.chat_update(channel=channel, ts=container["message_ts"], **message)
        except Exception:
            log.exception("Slack chat.update failed (%s)", where)

    def _share(self, turn: Turn, asker: str, response_url: str, where: str) -> None:
        """An ephemeral slash answer, posted for the whole channel (the private copy goes)."""
        message = answer_message(turn, asker=asker, knowledge_url=self.knowledge_url, show_question=True, via_response_url=True)
        if _respond(response_url, {"delete_original": True}, context=where):
            _respond(response_url, {**message, "response_type": "in_channel"}, context=where)

    def on_resolve(self, body: dict[str, Any], action: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        """ "Mark resolved" on a hand-over message: the hand-over closes (once; a second click
        shows the first close) and the message says who resolved it."""
        escalation_id = action.get("value", "")
        container = body.get("container") or {}
        where = f"team={context.team_id} channel={container.get('channel_id')} user={body['user']['id']} action={RESOLVE}"
        if not ESCALATION_ID.match(escalation_id):
            log.warning("Slack resolve button with an unreadable value ignored (%s)", where)
            return
        with Session(self.database) as session:
            try:
                escalation, _ = closing.close_handover(
                    session=session, escalation_id=escalation_id, closed_by=slack_user_id(context.team_id or "", body["user"]["id"]), via=CHANNEL,
                    dispatcher=self.dispatcher, engine=self.engine(), gap_similarity=self.gap_similarity,
                )  # fmt: skip
            except writes.NotFound:
                log.warning("Slack resolve button for an unknown hand-over ignored (%s)", where)
                return
            session.expunge(escalation)
        blocks = resolved_message((body.get("message") or {}).get("blocks") or [], escalation)
        try:
            client.chat_update(channel=container["channel_id"], ts=container["message_ts"], text=(body.get("message") or {}).get("text") or "Hand-over resolved", blocks=blocks)
        except Exception:
            log.exception("Slack chat.update of a resolved hand-over failed (%s)", where)

    def _hand_over(self, session: Session, conversation: Conversation, turn: Turn, *, user_id: str, client: WebClient, channel: str | None, thread_ts: str | None) -> None:
        """The same hand-over as the web's: to every destination (the escalation channel, the
        webhook), retried with back-off in the background and resumed after a restart."""
        if conversation.handed_over:
            return  # already with a person (a second click); nothing new was asked since
        reason = "asked for a person" if turn.answered else "asked for a person after the bot could not answer"
        link = _permalink(client, channel, thread_ts)
        escalate(session=session, conversation=conversation, reason=reason, dispatcher=self.dispatcher, link=link, turn_id=turn.id, user_id=user_id)


def _thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked answer lives in (its root), or the answer itself at top level."""
    message = body.get("message") or {}
    return message.get("thread_ts") or (body.get("container") or {}).get("message_ts")


def _permalink(client: WebClient, channel: str | None, ts: str | None) -> str | None:
    if not channel or not ts:
        return None
    try:
        return client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception:  # a hand-over without a link still reaches the team
        log.warning("Slack chat.getPermalink failed (channel=%s ts=%s)", channel, ts, exc_info=True)
        return None


def _respond(response_url: str, payload: dict[str, Any], *, context: str) -> bool:
    """Post to a response_url (ephemeral and slash answers), retrying 429s like the Web API."""
    try:
        response = WebhookClient(response_url, retry_handlers=_retry_handlers()).send_dict(payload)
    except Exception:
        log.exception("Slack response_url call failed (%s)", context)
        return False
    if response.status_code != 200:
        log.error("Slack response_url answered %s %s (%s)", response.status_code, response.body, context)
        return False
    return True


class _SameTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns it is unused because we pass a client; when
    the client carries that very token the warning is noise."""

    def __init__(self, token: str | None) -> None:
        super().__init__()
        self.same = bool(token) and os.environ.get("SLACK_BOT_TOKEN") == token

    def filter(self, record: logging.LogRecord) -> bool:
        return not (self.same and "`token` will be unused" in record.getMessage())


def bolt_logger() -> logging.Logger:
    """The base of Bolt's loggers (each copies its level when the App is built). At INFO Bolt logs
    the whole body of every request with a bad signature: anyone on the internet could write
    into our logs. Warnings and errors are kept."""
    logger = logging.getLogger("slack_bolt.App")
    logger.setLevel(logging.WARNING)
    return logger


def _ack(ack: Ack) -> None:
    ack()


def build_app(
    *,
    client: WebClient,
    signing_secret: str,
    engine: Callable[[], Engine | None],
    database: Database,
    dispatcher: Dispatcher,
    workspace_orgs: dict[str, str] | None = None,
    knowledge_url: str = "",
    locales: tuple[str, ...] = ("en", "ja"),
    listener_executor: Executor | None = None,
    gap_similarity: dict[str, float] | None = None,
) -> App:
    """The Bolt app. `client` carries the bot token and the Web API base URL; `engine` is read at
    each question, so a reindexed engine swapped into the web app is used at once; `dispatcher`
    delivers hand-overs, as it does the web's, and its queue carries Slack's events."""
    if SlackChannelDestination.name not in dispatcher.names:
        log.warning("JISO_SLACK_ESCALATION_CHANNEL is not set: hand-overs asked for in Slack are not posted to a Slack channel")
    bot = SlackBot(
        client=client, engine=engine, database=database, dispatcher=dispatcher, workspace_orgs=workspace_orgs or {}, knowledge_url=knowledge_url, locales=locales, gap_similarity=gap_similarity,
    )  # fmt: skip
    bolt_log = bolt_logger()
    quiet = _SameTokenNotice(client.token)
    bolt_log.addFilter(quiet)
    try:
        app = App(
            client=client,
            signing_secret=signing_secret,
            process_before_response=False,
            # Start-up must not depend on reaching Slack: auth.test runs on the first request instead.
            token_verification_enabled=False,
            listener_executor=listener_executor,
            logger=bolt_log,
        )
    finally:
        bolt_log.removeFilter(quiet)
    dispatcher.queue.register(EVENT_JOB, bot.run_event)
    app.event("app_mention")(bot.queue_event)
    app.event("message")(bot.queue_event)
    app.command(COMMAND)(ack=bot.ack_command, lazy=[bot.on_command])
    app.action(re.compile("^(" + "|".join(ACTION_IDS) + ")$"))(ack=_ack, lazy=[bot.on_action])
    app.action(RESOLVE)(ack=_ack, lazy=[bot.on_resolve])
    return app
