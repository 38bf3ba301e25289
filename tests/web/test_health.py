"""/health tells the truth about the index: `degraded`, with the reason and the build in service,
whenever a published build was refused and an older one answers instead."""

from __future__ import annotations

import pytest

from api import runtime
from api.index_reload import reload_if_changed
from indexer import store
from indexer.pipeline import index_knowledge

from .knowledge import build_settings

pytestmark = pytest.mark.integration


def publish_damaged(settings) -> str:
    """A new build (one more FAQ entry) published, then damaged on disk."""
    page = settings.knowledge_dir / "en" / "faq" / "login.md"
    page.write_text("---\ntype: faq\nlocale: en\ntitle: Login\n---\n\n## How do I log in?\n\nWith your email.\n", encoding="utf-8")
    index_knowledge(runtime.scan(settings), settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings))
    build = store.current_build(settings.index_dir)
    (build / "entries.json").write_text("{}", encoding="utf-8")
    return build.name


def test_health_is_degraded_while_a_refused_build_is_published(make_client, tmp_path, database_url) -> None:
    client = make_client(index_reload_seconds=3600)
    good = client.get("/health").json()
    assert good["status"] == "ok" and good["reason"] is None and good["index"] == good["published"]

    refused = publish_damaged(build_settings(tmp_path, database_url))
    assert reload_if_changed(client.app, client.app.state.settings) is False
    health = client.get("/health").json()
    assert health["status"] == "degraded"
    assert health["index"] == good["index"] and health["published"] == refused
    assert refused in health["reason"] and f"serving {good['index']}" in health["reason"]


def test_health_is_degraded_when_the_server_starts_on_a_fallback_build(make_client, tmp_path, database_url) -> None:
    first = make_client().get("/health").json()["index"]
    refused = publish_damaged(build_settings(tmp_path, database_url))
    health = make_client().get("/health").json()
    assert health["status"] == "degraded" and health["index"] == first and health["published"] == refused
    assert f"index build {refused} refused" in health["reason"] and f"last good build {first}" in health["reason"]
