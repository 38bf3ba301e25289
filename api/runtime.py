"""Turning settings into the objects the product runs on (used by the CLI and the app factory)."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from bot.engine import Engine, Policy
from bot.escalation import Destination, WebhookDestination
from indexer.content import KnowledgeScan, scan_knowledge
from indexer.embedder import Embedders
from indexer.pipeline import LocaleConfig
from indexer.store import load_build, load_index


def locale_configs(settings: Settings) -> dict[str, LocaleConfig]:
    return {locale: LocaleConfig(settings.model_for(locale), settings.lexical_for(locale)) for locale in settings.locales}


def embedders(settings: Settings) -> Embedders:
    return Embedders({locale: settings.model_for(locale) for locale in settings.locales})


def policy(settings: Settings) -> Policy:
    return Policy(
        thresholds={locale: settings.threshold_for(locale) for locale in settings.locales},
        lexical_weights={locale: settings.lexical_weight_for(locale) for locale in settings.locales},
        faq_bonus=settings.faq_bonus,
    )


def scan(settings: Settings) -> KnowledgeScan:
    return scan_knowledge(settings.knowledge_dir, max_bytes=settings.max_file_bytes, locales=tuple(settings.locales))


def load_engine(settings: Settings, shared_embedders: Embedders, build: Path | None = None) -> Engine:
    """An engine over `build`, or over the index's current build (falling back to the last good one)."""
    index = load_build(build) if build is not None else load_index(settings.index_dir)
    return Engine(index, shared_embedders, policy(settings), settings.default_locale)


def escalation_destinations(settings: Settings) -> list[Destination]:
    """Where hand-overs go: the signed JSON webhook and/or Slack, whichever is configured."""
    destinations: list[Destination] = []
    if settings.escalation_webhook_url:
        destinations.append(WebhookDestination(settings.escalation_webhook_url, settings.escalation_webhook_secret))
    return destinations
