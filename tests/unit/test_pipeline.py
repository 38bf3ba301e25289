from __future__ import annotations

from pathlib import Path

import pytest

from bot.engine import Engine, Policy
from tests.support import cosine_calibration
from indexer import store
from indexer.content import scan_knowledge
from indexer.pipeline import index_knowledge

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
