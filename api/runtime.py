"""Turning settings into the objects the product runs on (used by the CLI and the app factory)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine as Database

from api.settings import Settings
from api.transcript_links import TranscriptLinks
from bot.confidence import load_calibration
from bot.engine import Companion, Engine, Policy
from bot.escalation import Destination, Dispatcher, EventDestination, WebhookDestination, resume_pending
from bot.jobs import JobQueue
from indexer.content import KnowledgeScan, scan_knowledge
from indexer.embedder import Embedders, companion_key
from indexer.pipeline import LocaleConfig
from indexer.store import IndexUnavailable, load_build, load_index

if TYPE_CHECKING:  # Slack's modules load only where Slack is used
    from slack_bolt import App as SlackApp
    from slack_bolt.adapter.socket_mode import SocketModeHandler


def locale_configs(settings: Settings) -> dict[str, LocaleConfig]:
    return {locale: LocaleConfig(settings.model_for(locale), settings.lexical_for(locale), settings.companion_for(locale)) for locale in settings.locales}


def embedders(settings: Settings) -> Embedders:
    models = {locale: settings.model_for(locale) for locale in settings.locales}
    models.update({companion_key(locale): companion for locale in settings.locales if (companion := settings.companion_for(locale))})
    return Embedders(models)


def companions(settings: Settings) -> dict[str, Companion]:
    return {
        locale: Companion(
            weight=getattr(settings, f"companion_weight_{locale}"),
            lexical_weight=getattr(settings, f"companion_lexical_weight_{locale}"),
            sentence_weight=getattr(settings, f"companion_sentence_weight_{locale}"),
            faq_bonus=getattr(settings, f"companion_faq_bonus_{locale}"),
        )
        for locale in settings.locales
        if settings.companion_for(locale)
    }


def policy(settings: Settings, *, calibrated: bool = True) -> Policy:
    """The ranking weights and, unless `calibrated` is False (to fit a calibration), each locale's
    calibration; a missing one raises CalibrationMissing, naming the command that fits it."""
    return Policy(
        calibrations={locale: load_calibration(settings.calibration_dir, locale, settings.ranking_for(locale)) for locale in settings.locales} if calibrated else {},
        target_precision=settings.target_precision,
        lexical_weights={locale: settings.lexical_weight_for(locale) for locale in settings.locales},
        sentence_weights={locale: settings.sentence_weight_for(locale) for locale in settings.locales},
        faq_bonuses={locale: settings.faq_bonus_for(locale) for locale in settings.locales},
        companions=companions(settings),
    )


def scan(settings: Settings) -> KnowledgeScan:
    return scan_knowledge(settings.knowledge_dir, max_bytes=settings.max_file_bytes, locales=tuple(settings.locales))


def load_engine(settings: Settings, shared_embedders: Embedders, build: Path | None = None) -> Engine:
    """An engine over `build`, or over the index's current build (falling back to the last good one)."""
    index = load_build(build) if build is not None else load_index(settings.index_dir)
    for locale, built in index.locales.items():
        wanted = (settings.model_for(locale), settings.companion_for(locale)) if locale in settings.locales else (built.model, built.companion)
        if (built.model, built.companion) != wanted:
            ranking = "+".join(filter(None, (built.model, built.companion)))
            raise IndexUnavailable(f"index build {index.name} ranks {locale} with {ranking}, the settings with {settings.ranking_for(locale)}: run `jiso index`")
    return Engine(index, shared_embedders, policy(settings), settings.default_locale)


def escalation_destinations(settings: Settings, database: Database) -> list[Destination]:
    """Where hand-overs go: the signed JSON webhook and/or Slack, whichever is configured."""
    destinations: list[Destination] = []
    if settings.escalation_webhook_url:
        destinations.append(WebhookDestination(settings.escalation_webhook_url, settings.escalation_webhook_secret))
    if settings.slack_bot_token and settings.slack_escalation_channel:
        from bot.channels.slack import SlackChannelDestination, make_web_client

        destinations.append(SlackChannelDestination(make_web_client(settings.slack_bot_token, settings.slack_api_url), settings.slack_escalation_channel, database))
    return destinations


def reply_followers(settings: Settings, database: Database) -> list[EventDestination]:
    """Who else hears what is said on a hand-over: with Slack, the asker's thread gets people's replies."""
    if not settings.slack_bot_token:
        return []
    from bot.channels.slack import SlackAskerRelay, make_web_client

    return [SlackAskerRelay(make_web_client(settings.slack_bot_token, settings.slack_api_url), database)]


def hand_over_dispatcher(settings: Settings, database: Database, links: TranscriptLinks) -> Dispatcher:
    """The hand-over deliveries on the job queue every instance shares, with what a stopped process
    recorded but did not queue queued now (with a fresh link)."""
    queue = JobQueue(database, workers=settings.job_workers, lease=settings.job_lease_seconds, poll=settings.job_poll_seconds)
    dispatcher = Dispatcher(
        database,
        escalation_destinations(settings, database),
        attempts=settings.escalation_retry_attempts,
        backoff=settings.escalation_retry_backoff,
        followers=reply_followers(settings, database),
        queue=queue,
    )
    resume_pending(database=database, dispatcher=dispatcher, link_for=links.link)
    return dispatcher


def slack_app(
    settings: Settings, engine: Callable[[], Engine | None], database: Database, dispatcher: Dispatcher, *, socket_mode: bool = False, listener_executor: Executor | None = None
) -> SlackApp | None:
    """The Slack app, or None when Slack is not configured (HTTP mode needs the signing secret)."""
    from bot.channels.slack import build_app, make_web_client

    if not settings.slack_bot_token or not (settings.slack_signing_secret or socket_mode):
        return None
    return build_app(
        client=make_web_client(settings.slack_bot_token, settings.slack_api_url),
        signing_secret=settings.slack_signing_secret,
        engine=engine,
        database=database,
        dispatcher=dispatcher,
        workspace_orgs=settings.slack_workspace_orgs,
        knowledge_url=settings.knowledge_url or f"{settings.public_url.rstrip('/')}/knowledge",
        locales=tuple(settings.locales),
        listener_executor=listener_executor,
        gap_similarity=settings.gap_similarities(),
    )


def slack_socket_mode(settings: Settings, engine: Callable[[], Engine | None], database: Database, dispatcher: Dispatcher) -> SocketModeHandler:
    """Socket Mode (`jiso slack`): the built-in client connects out through the app's Web API client."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app = slack_app(settings, engine, database, dispatcher, socket_mode=True)
    if app is None or not settings.slack_app_token:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN")
    return SocketModeHandler(app, settings.slack_app_token)
