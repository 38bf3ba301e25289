"""How an entry's passages are cut and scored: questions, whole text, and answer sentences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.engine import Engine, Policy
from indexer.documents import Entry, sentences
from indexer.pipeline import LocaleConfig, build_index
from indexer.store import load_index
from tests.support import cosine_calibration

pytestmark = pytest.mark.unit
KEYWORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")


class KeywordEmbedder:
    """One axis per keyword, so every cosine below can be computed by hand."""

    name = "keywords"
    dimensions = len(KEYWORDS)

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.array([[float(word in text.split()) for word in KEYWORDS] for text in (t.replace(".", " ").casefold() for t in texts)], np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    embed_queries = embed_passages = _embed


def faq(id: str, title: str, plain: str) -> Entry:
    return Entry(id=id, kind="faq", locale="en", path="faq.md", title=title, breadcrumb=("FAQ", title), line_start=1, line_end=3, body=plain, plain=plain)


def test_sentences_split_at_japanese_and_western_ends_and_at_blocks() -> None:
    text = "設定を開きます。次に「メンバー」を選びます！\nOpen Settings. Then click Members, e.g. the blue button? OK"
    assert sentences(text) == ["設定を開きます。", "次に「メンバー」を選びます！", "Open Settings.", "Then click Members, e.g. the blue button?"]


def test_each_passage_says_what_it_is() -> None:
    entry = Entry(
        id="x",
        kind="faq",
        locale="en",
        path="faq.md",
        title="How do I export?",
        breadcrumb=("FAQ", "How do I export?"),
        line_start=1,
        line_end=4,
        body="",
        plain="Open Settings. Click Export.",
        alternatives=("download my data",),
    )
    assert [(p.role, p.text) for p in entry.passages()] == [
        ("question", "How do I export?"),
        ("question", "download my data"),
        ("content", "How do I export?\nOpen Settings. Click Export."),
        ("sentence", "How do I export? Open Settings."),
        ("sentence", "How do I export? Click Export."),
    ]


@pytest.fixture
def engine_for(tmp_path: Path):
    # X's heading is off the question, but one of its sentences says it: match cos = 1/√3 (0.577,
    # the whole text "beta gamma alpha"), best sentence "beta alpha" = 1/√2 (0.707).
    # Y's heading is closer (cos("alpha", "alpha beta") = 0.707) but its answer is not about it:
    # best sentence "alpha beta delta epsilon zeta" = 1/√5 (0.447).
    entries = [faq("x", "beta", "Gamma. Alpha."), faq("y", "alpha beta", "Delta epsilon zeta.")]
    embedder = KeywordEmbedder()
    build_index(entries, tmp_path, configs={"en": LocaleConfig("keywords", "words")}, embedder_for=lambda locale: embedder)
    index = load_index(tmp_path)
    return lambda sentence_weight: Engine(
        index, lambda locale: embedder, Policy({"en": cosine_calibration("en", "keywords", 0.5)}, lexical_weights={"en": 0.0}, sentence_weights={"en": sentence_weight})
    )


def test_an_answer_that_says_what_was_asked_outranks_a_closer_heading(engine_for) -> None:
    without = engine_for(0.0).search("alpha", "en")
    assert [hit.entry.id for hit in without] == ["y", "x"]

    hits = engine_for(0.7).search("alpha", "en")
    assert [hit.entry.id for hit in hits] == ["x", "y"]
    assert hits[0].score == pytest.approx(1 / np.sqrt(3) + 0.7 / np.sqrt(2), abs=1e-5)
    assert hits[1].score == pytest.approx(1 / np.sqrt(2) + 0.7 / np.sqrt(5), abs=1e-5)
    # The match stays the cosine of the best question or whole text (the confidence signals read it).
    assert hits[0].dense == pytest.approx(1 / np.sqrt(3), abs=1e-5)
    assert hits[0].evidence == pytest.approx(1 / np.sqrt(2), abs=1e-5)
    answer = engine_for(0.7).answer("alpha", "en")
    assert answer.confident and answer.entry.id == "x"
