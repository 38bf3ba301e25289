"""A running server picks up a new build and refuses a damaged one, keeping the index in service."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI

from api import runtime
from api.index_reload import reload_if_changed
from api.settings import Settings
from indexer import store
from indexer.pipeline import index_knowledge
from tests.support import FAKE_THRESHOLDS, write_calibrations

pytestmark = pytest.mark.unit


def publish(settings: Settings, body: str) -> str:
    (settings.knowledge_dir / "en" / "faq").mkdir(parents=True, exist_ok=True)
    (settings.knowledge_dir / "en" / "faq" / "a.md").write_text(f"---\nlocale: en\n---\n# FAQ\n\n## How do I log in?\n\n{body}\n", encoding="utf-8")
    index_knowledge(runtime.scan(settings), settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings))
    return store.current_build(settings.index_dir).name


def test_new_build_is_served_and_damaged_build_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        knowledge_dir=tmp_path / "knowledge",
        index_dir=tmp_path / "index",
        model_en="fake-hashing",
        model_ja="fake-hashing",
        companion_model_en="",
        calibration_dir=write_calibrations(tmp_path / "calibrations", "fake-hashing", FAKE_THRESHOLDS),
    )
    publish(settings, "With your email.")
    app = FastAPI()
    app.state.embedders = runtime.embedders(settings)
    app.state.engine = runtime.load_engine(settings, app.state.embedders)
    app.state.rejected_builds = set()
    assert reload_if_changed(app, settings) is False  # nothing new

    second = publish(settings, "With single sign-on.")
    assert reload_if_changed(app, settings) is True
    assert app.state.engine.index.name == second
    assert app.state.engine.index.entries[0].body == "With single sign-on."

    third = publish(settings, "With a passkey.")
    (settings.index_dir / "builds" / third / "entries.json").write_text("{}", encoding="utf-8")
    assert reload_if_changed(app, settings) is False
    assert app.state.engine.index.name == second  # still serving the last good build
    assert third in app.state.rejected_builds
