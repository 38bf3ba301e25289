"""A locale that ranks with two models: both models' vectors are stored, reused when unchanged,
and the two standardized rankings are added (docs/BENCHMARKS.md, "Ranking: two models")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.engine import Companion, Engine, Policy
from indexer.embedder import companion_key
from indexer.pipeline import LocaleConfig, build_index
from indexer.store import load_index
from tests.support import cosine_calibration, indexed_settings
from tests.unit.test_ranking import KeywordEmbedder, faq

pytestmark = pytest.mark.unit


class Counting(KeywordEmbedder):
    """The keyword embedder, counting the passages it embeds, blind to one keyword (two models
    that each miss what the other sees)."""

    def __init__(self, name: str, blind: str) -> None:
        self.name, self.blind, self.embedded = name, blind, 0

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return super()._embed([text.casefold().replace(self.blind, "") for text in texts])

    embed_queries = embed_passages = _embed


ENTRIES = [faq("a", "alpha", "Delta."), faq("b", "gamma", "Zeta."), faq("c", "epsilon", "Beta.")]


@pytest.fixture
def models() -> dict[str, Counting]:
    return {"en": Counting("first", blind="gamma"), companion_key("en"): Counting("second", blind="alpha")}


def build(tmp_path: Path, models: dict[str, Counting], entries=ENTRIES, companion: str | None = "second") -> None:
    build_index(entries, tmp_path, configs={"en": LocaleConfig("first", "words", companion)}, embedder_for=models.__getitem__)


def engine(tmp_path: Path, models: dict[str, Counting], weight: float) -> Engine:
    companion = Companion(weight=weight, lexical_weight=0.0, sentence_weight=0.0, faq_bonus=0.0)
    policy = Policy({"en": cosine_calibration("en", "first+second", 0.5)}, lexical_weights={"en": 0.0}, companions={"en": companion})
    return Engine(load_index(tmp_path), models.__getitem__, policy)


def test_both_models_vectors_are_stored_and_reused_for_unchanged_entries(tmp_path: Path, models: dict[str, Counting]) -> None:
    build(tmp_path, models)
    index = load_index(tmp_path).locales["en"]
    assert index.companion == "second" and index.companion_matrix.shape == index.matrix.shape
    first, second = models["en"].embedded, models[companion_key("en")].embedded
    assert first == second == sum(len(entry.passages()) for entry in ENTRIES)

    build(tmp_path, models, [*ENTRIES[:2], faq("c", "epsilon", "Beta. Delta.")])
    # Only the changed entry is embedded again, by each model.
    changed = len(faq("c", "epsilon", "Beta. Delta.").passages())
    assert models["en"].embedded - first == models[companion_key("en")].embedded - second == changed


def test_adding_a_companion_embeds_only_with_the_companion_and_removing_it_publishes_a_build_without(tmp_path: Path, models: dict[str, Counting]) -> None:
    build(tmp_path, models, companion=None)
    assert load_index(tmp_path).locales["en"].companion is None
    first = models["en"].embedded
    build(tmp_path, models)
    assert models["en"].embedded == first  # the first model's vectors were reused
    assert load_index(tmp_path).locales["en"].companion == "second"
    build(tmp_path, models, companion=None)
    assert load_index(tmp_path).locales["en"].companion is None


def test_the_companion_reorders_by_its_weight(tmp_path: Path, models: dict[str, Counting]) -> None:
    build(tmp_path, models)
    # The first model sees only "alpha" of the question (entry a), the second only "gamma" (entry b).
    assert [hit.entry.id for hit in engine(tmp_path, models, 0.5).search("alpha gamma", "en", k=3)][:1] == ["a"]
    hits = engine(tmp_path, models, 2.0).search("alpha gamma", "en", k=3)
    assert [hit.entry.id for hit in hits][:1] == ["b"]
    # The match stays the first model's cosine (the confidence signals read it).
    assert hits[0].dense == pytest.approx(0.0, abs=1e-6)
    # Without a companion policy the locale ranks with the first model alone.
    plain = Engine(load_index(tmp_path), models.__getitem__, Policy({}, lexical_weights={"en": 0.0}))
    assert [hit.entry.id for hit in plain.search("alpha gamma", "en", k=3)][:1] == ["a"]


def test_a_server_refuses_an_index_built_for_other_models_naming_the_command(tmp_path: Path) -> None:
    from api import runtime
    from indexer.store import IndexUnavailable
    from tests.web.knowledge import KNOWLEDGE

    settings = indexed_settings(tmp_path, KNOWLEDGE)
    runtime.load_engine(settings, runtime.embedders(settings))
    wanting_a_companion = settings.model_copy(update={"companion_model_en": "fake-hashing"})
    with pytest.raises(IndexUnavailable, match=r"ranks en with fake-hashing, the settings with fake-hashing\+fake-hashing: run `jiso index`"):
        runtime.load_engine(wanting_a_companion, runtime.embedders(wanting_a_companion))
