from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine, Policy
from indexer import store
from indexer.content import scan_knowledge
from indexer.pipeline import index_knowledge
from tests.support import cosine_calibration

from .conftest import FAKE_CONFIGS

pytestmark = pytest.mark.unit


def faq(n: int, answer: str = "Answer") -> str:
    entries = "\n".join(f"## Question number {i} about topic {i}?\n\n{answer} {i}.\n" for i in range(n))
    return f"---\nlocale: en\n---\n# FAQ\n\n{entries}"


def index(tmp_path: Path, embedder_for, full: bool = False):
    scan = scan_knowledge(tmp_path / "knowledge")
    return index_knowledge(scan, tmp_path / "index", configs=FAKE_CONFIGS, embedder_for=embedder_for, full=full)


def test_reindex_embeds_only_changed_entries(write, tmp_path: Path, fake_embedder, embedder_for) -> None:
    write("en/faq/a.md", faq(5))
    write("en/faq/b.md", faq(3).replace("Question", "Other question"))
    first = index(tmp_path, embedder_for)
    assert (first.added, first.changed, first.removed, first.skipped) == (8, 0, 0, 0)
    embedded_before = fake_embedder.passages

    live = store.current_build(tmp_path / "index")
    again = index(tmp_path, embedder_for)
    assert (again.added, again.changed, again.removed, again.skipped) == (0, 0, 0, 8)
    assert fake_embedder.passages == embedded_before
    assert not again.published and store.current_build(tmp_path / "index") == live
    assert "nothing changed, the index in service stays" in again.summary()

    write("en/faq/a.md", faq(5).replace("Answer 2.", "A new answer 2.").replace("## Question number 4 about topic 4?\n\nAnswer 4.\n", ""))
    write("en/faq/c.md", faq(1).replace("Question", "Brand new question"))
    third = index(tmp_path, embedder_for)
    assert (third.added, third.changed, third.removed, third.skipped) == (1, 1, 1, 6)
    assert fake_embedder.passages - embedded_before == 2 * 2  # two entries, each: question + question-with-answer
    assert "1 added, 1 changed, 1 removed, 6 skipped" in third.summary()
    assert third.published and store.current_build(tmp_path / "index") != live


def test_refused_files_are_reported_and_the_rest_indexed(write, tmp_path: Path, embedder_for) -> None:
    write("en/faq/a.md", faq(2))
    write("en/faq/bad.md", "---\nlocale: en\ntitle: [\n---\n## Q?\n\nA\n")
    report = index(tmp_path, embedder_for)
    assert report.refused_files == ["en/faq/bad.md"]
    assert report.added == 2
    assert "1 file(s) refused" in report.summary()


def test_corrupt_index_is_rejected_and_last_good_build_served(write, tmp_path: Path, embedder_for) -> None:
    write("en/faq/a.md", faq(2))
    index(tmp_path, embedder_for)
    good = store.current_build(tmp_path / "index")
    write("en/faq/a.md", faq(3))
    index(tmp_path, embedder_for)
    newest = store.current_build(tmp_path / "index")
    assert newest != good
    with (newest / "en.faiss").open("r+b") as handle:
        handle.seek(40)
        handle.write(b"\xde\xad\xbe\xef")
    with pytest.raises(store.IndexCorrupt, match="en.faiss does not match its checksum"):
        store.load_build(newest)
    served = store.load_index(tmp_path / "index")
    assert served.name == good.name
    assert len(served.entries) == 2

    repaired = index(tmp_path, embedder_for)  # same content, but the build in service is damaged
    assert repaired.published
    assert len(store.load_index(tmp_path / "index").entries) == 3


def test_a_failed_build_never_replaces_the_live_index(write, tmp_path: Path, embedder_for) -> None:
    write("en/faq/a.md", faq(2))
    index(tmp_path, embedder_for)
    live = store.current_build(tmp_path / "index")

    def broken(locale):
        raise RuntimeError("model crashed")

    write("en/faq/a.md", faq(4))
    with pytest.raises(RuntimeError, match="model crashed"):
        index(tmp_path, broken)
    assert store.current_build(tmp_path / "index") == live
    assert not [p for p in (tmp_path / "index" / "builds").iterdir() if p.name.startswith(".tmp-")]
    assert len(store.load_index(tmp_path / "index").entries) == 2


def test_engine_answers_confidently_or_declines(write, tmp_path: Path, embedder_for) -> None:
    write("en/faq/a.md", "---\nlocale: en\n---\n# Billing\n\n## How do I download an invoice?\n\nOpen Billing and click Download PDF.\n\n## How do I invite a teammate?\n\nOpen Members.\n")
    write("ja/faq/a.md", "---\nlocale: ja\n---\n# 請求\n\n## 請求書をダウンロードするには？\n\n「請求」から PDF をダウンロードします。\n")
    index(tmp_path, embedder_for)
    engine = Engine(store.load_index(tmp_path / "index"), embedder_for, Policy({locale: cosine_calibration(locale, "fake", 0.3) for locale in ("en", "ja")}))
    answer = engine.answer("download invoice")
    assert answer.confident and answer.locale == "en"
    assert answer.text == "Open Billing and click Download PDF."
    assert answer.sources[0].heading == "Billing › How do I download an invoice?"
    assert answer.sources[0].line == 6
    japanese = engine.answer("請求書 ダウンロード")
    assert japanese.locale == "ja" and japanese.confident
    unknown = engine.answer("What is the airspeed velocity of an unladen swallow?")
    assert not unknown.confident
    assert unknown.text.startswith("I don't know")


def test_a_refused_file_keeps_its_previous_version_in_service(write, tmp_path: Path, embedder_for) -> None:
    write("en/faq/a.md", faq(2))
    write("en/faq/billing.md", faq(2).replace("Question", "Billing question"))
    index(tmp_path, embedder_for)
    write("en/faq/billing.md", faq(3).replace("Question", "Billing question") + "\n## Question number 0 about topic 0?\n\nA duplicate.\n")
    write("en/faq/new.md", "---\nlocale: en\ntitle: [\n---\n## Never indexed?\n\nA\n")
    write("en/faq/c.md", faq(1).replace("Question", "Brand new question"))
    report = index(tmp_path, embedder_for)
    assert report.published and report.refused_files == ["en/faq/billing.md", "en/faq/new.md"]
    assert report.kept_files == ["en/faq/billing.md"]
    assert "refused en/faq/billing.md:18: duplicate question 'Question number 0 about topic 0?': already asked at en/faq/a.md:6 (its previous version stays in service)" in report.refusals()
    assert any(line.startswith("refused en/faq/new.md:3: broken front matter") and line.endswith("(not indexed: there is no previous version to keep)") for line in report.refusals())
    assert "2 file(s) refused (1 kept at their previous version)" in report.summary()
    served = store.load_index(tmp_path / "index")
    titles = sorted(entry.title for entry in served.entries if entry.path == "en/faq/billing.md")
    assert titles == ["Billing question number 0 about topic 0?", "Billing question number 1 about topic 1?"]  # the last good version
    assert {entry.path for entry in served.entries} == {"en/faq/a.md", "en/faq/billing.md", "en/faq/c.md"}  # the rest is published
    assert (report.added, report.removed) == (1, 0)

    again = index(tmp_path, embedder_for)  # still refused: the previous version stays, nothing to publish
    assert not again.published and again.kept_files == ["en/faq/billing.md"]
    full = index(tmp_path, embedder_for, full=True)
    assert full.kept_files == ["en/faq/billing.md"] and len(store.load_index(tmp_path / "index").entries) == 5


def test_jiso_index_exits_1_when_a_file_is_refused_and_still_publishes_the_rest(write, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.setenv("JISO_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("JISO_MODEL_EN", "fake-hashing")
    monkeypatch.setenv("JISO_MODEL_JA", "fake-hashing")
    monkeypatch.setenv("JISO_COMPANION_MODEL_EN", "")
    write("en/faq/a.md", faq(2))
    write("en/faq/billing.md", faq(2).replace("Question", "Billing question"))
    runner = CliRunner()
    clean = runner.invoke(app, ["index", "--knowledge", str(tmp_path / "knowledge"), "-q"])
    assert clean.exit_code == 0, clean.output
    write("en/faq/billing.md", faq(2).replace("Question", "Billing question").replace("## Billing question number 1", "## Question number 1"))
    write("en/faq/c.md", faq(1).replace("Question", "Brand new question"))
    refused = runner.invoke(app, ["index", "--knowledge", str(tmp_path / "knowledge"), "-q"])
    assert refused.exit_code == 1
    assert "refused en/faq/billing.md:" in refused.stderr and "(its previous version stays in service)" in refused.stderr
    assert "1 added" in refused.stdout and "1 file(s) refused (1 kept at their previous version)" in refused.stdout
    assert len(store.load_index(tmp_path / "index").entries) == 5
