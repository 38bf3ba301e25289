"""The real models on the sample knowledge: what a new user gets from `jiso ask`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import runtime
from api.cli import app
from api.settings import REPO_ROOT, Settings
from indexer.pipeline import index_knowledge

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(knowledge_dir=REPO_ROOT / "knowledge", index_dir=tmp_path_factory.mktemp("index"))
    scan = runtime.scan(settings)
    assert scan.problems == [], "the sample knowledge must lint clean"
    report = index_knowledge(scan, settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings))
    assert report.refused_files == []
    return settings


@pytest.fixture(scope="module")
def engine(settings: Settings):
    return runtime.load_engine(settings, runtime.embedders(settings))


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("how can I add my colleagues to our workspace", "invite-member"),
        ("where do I get the invoice PDF", "download-invoice"),
        ("チームメイトを招待したい", "ja-invite-member"),
        ("請求書をダウンロードする方法", "ja-download-invoice"),
    ],
)
def test_answers_with_the_writers_text_and_its_source(engine, question: str, entry_id: str) -> None:
    answer = engine.answer(question)
    assert answer.confident, (question, answer.confidence, answer.sources)
    assert answer.entry is not None and answer.entry.id == entry_id
    assert answer.text == answer.entry.body  # extractive: the writers' own words
    source = answer.sources[0]
    assert source.id == entry_id
    assert (REPO_ROOT / "knowledge" / source.path).is_file()
    question_line = (REPO_ROOT / "knowledge" / source.path).read_text(encoding="utf-8").splitlines()[source.line - 1]
    assert question_line == f"## {answer.entry.title}"


@pytest.mark.parametrize(("question", "locale"), [("What is the capital of Australia?", "en"), ("美味しいカレーの作り方は？", "ja")])
def test_off_topic_questions_get_i_dont_know(engine, question: str, locale: str) -> None:
    answer = engine.answer(question)
    assert not answer.confident
    assert answer.locale == locale
    assert answer.entry is None


def test_ask_command_prints_json(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JISO_INDEX_DIR", str(settings.index_dir))
    result = CliRunner().invoke(app, ["ask", "How do I turn on single sign-on with Okta?", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["confident"] is True
    assert payload["locale"] == "en"
    assert payload["sources"][0]["heading"].startswith(("Integrations ›", "Single sign-on"))
    assert set(payload["sources"][0]) == {"id", "title", "path", "heading", "line", "score"}


def test_index_command_reports_and_skips_unchanged(settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JISO_INDEX_DIR", str(settings.index_dir))
    result = CliRunner().invoke(app, ["index", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "0 added, 0 changed, 0 removed" in result.output
    assert "0 file(s) refused" in result.output
