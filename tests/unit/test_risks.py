"""Writers' warnings: entries without a translation, and entries too similar to tell apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.documents import Entry
from indexer.pipeline import LocaleConfig, build_index
from indexer.risks import confusable_entries, missing_twins
from indexer.store import load_index
from tests.unit.test_ranking import KeywordEmbedder

pytestmark = pytest.mark.unit


def faq(entry_id: str, locale: str, title: str, alternatives: tuple[str, ...] = (), **meta) -> Entry:
    return Entry(entry_id, "faq", locale, f"{locale}/faq.md", title, ("FAQ", title), 3, 5, "Body.", "Body.", alternatives, meta)


def test_an_entry_without_a_twin_in_the_other_locale_is_a_warning() -> None:
    entries = [
        faq("invite", "en", "Invite?"),
        faq("ja-invite", "ja", "招待？"),
        faq("create-project", "en", "Create?"),
        faq("ja-billing", "ja", "請求？", translation_of="billing-plans"),
        faq("billing-plans", "en", "Plans?"),
    ]
    warnings = missing_twins(entries, ("en", "ja"))
    assert [str(w) for w in warnings] == ["en/faq.md:3: warning: 'create-project' has no ja translation (no entry with id 'ja-create-project' or translation_of: create-project)"]


def test_entries_that_steal_each_others_questions_are_a_warning(tmp_path: Path) -> None:
    entries = [
        faq("a", "en", "alpha beta", ("gamma delta",)),  # its alternative is b's question
        faq("b", "en", "gamma delta", ("alpha beta",)),  # and the other way round
        faq("c", "en", "zeta", ("zeta epsilon",)),
    ]
    embedder = KeywordEmbedder()
    build_index(entries, tmp_path, configs={"en": LocaleConfig("keywords", "words")}, embedder_for=lambda locale: embedder)
    [warning] = confusable_entries(load_index(tmp_path), entries)  # one per pair
    assert warning.message.startswith("warning: 'alpha beta' and 'gamma delta' (en/faq.md:3) steal each other's questions")
    assert "may not tell them apart" in warning.message and "zeta" not in warning.message


def test_a_phrasing_stolen_one_way_only_is_no_warning(tmp_path: Path) -> None:
    entries = [faq("a", "en", "alpha beta", ("gamma delta",)), faq("b", "en", "gamma delta epsilon"), faq("c", "en", "zeta")]
    embedder = KeywordEmbedder()
    build_index(entries, tmp_path, configs={"en": LocaleConfig("keywords", "words")}, embedder_for=lambda locale: embedder)
    assert confusable_entries(load_index(tmp_path), entries) == []


def test_pairs_of_an_index_of_other_knowledge_are_not_reported(tmp_path: Path) -> None:
    """`jiso lint DIR` reads the last index built, which may be of another folder or older."""
    indexed = [faq("a", "en", "alpha beta", ("gamma delta",)), faq("b", "en", "gamma delta", ("alpha beta",))]
    embedder = KeywordEmbedder()
    build_index(indexed, tmp_path, configs={"en": LocaleConfig("keywords", "words")}, embedder_for=lambda locale: embedder)
    checked = [faq("a", "en", "alpha beta"), faq("c", "en", "zeta")]  # b is not in the knowledge checked
    assert confusable_entries(load_index(tmp_path), checked) == []
