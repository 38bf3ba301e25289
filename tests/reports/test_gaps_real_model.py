"""Content gaps with the real English model at the default similarity threshold."""

from __future__ import annotations

import pytest

from api.settings import Settings
from bot.reports.clusters import cluster_questions
from indexer.embedder import load_embedder

pytestmark = pytest.mark.integration


def test_paraphrases_group_together_and_topics_stay_apart() -> None:
    embedder = load_embedder("all-MiniLM-L6-v2")
    questions = [
        "Can I export my board to Excel?",
        "How do I export a board as an Excel file?",
        "How do I merge two workspaces?",
        "Can we combine our workspaces into one?",
        "Is there an Okta SCIM app?",
        "Does Tasklane support SCIM provisioning with Okta?",
        "Why is my invoice in dollars?",
    ]
    rows = [{"question": q, "locale": "en", "unanswered": True, "escalated": False} for q in questions]
    groups = {frozenset(c.examples) for c in cluster_questions(rows, lambda locale: embedder, min_similarity=Settings().gap_similarities())}
    assert groups == {
        frozenset(questions[0:2]),
        frozenset(questions[2:4]),
        frozenset(questions[4:6]),
        frozenset(questions[6:7]),
    }
