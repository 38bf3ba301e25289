"""Grouping questions by meaning, so writers see which missing answers matter most.

Average-linkage agglomerative clustering on cosine distance (scipy), cut at a similarity
threshold. Deterministic: identical questions are merged first, inputs are sorted, and the
clusters are ordered by size, then by their first example.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from indexer.embedder import Embedder


@dataclass
class Cluster:
    locale: str
    count: int
    unanswered: int
    escalated: int
    examples: list[str] = field(default_factory=list)  # most asked first

    def to_json(self) -> dict:
        return {"locale": self.locale, "count": self.count, "unanswered": self.unanswered, "escalated": self.escalated, "label": self.examples[0], "examples": self.examples}


def normalized(question: str) -> str:
    """Case, width, punctuation and spacing aside, the same question is one question."""
    return " ".join(re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFKC", question).casefold()).split())


def group_labels(vectors: np.ndarray, min_similarity: float) -> list[int]:
    """Cluster label per row: average linkage, merged while the mean cosine similarity between
    two groups is at least `min_similarity`."""
    if len(vectors) == 1:
        return [0]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    distances = np.clip(pdist(vectors.astype(np.float64), metric="cosine"), 0.0, 2.0)
    tree = linkage(distances, method="average")
    return [int(label) for label in fcluster(tree, t=1.0 - min_similarity, criterion="distance")]


def cluster_questions(rows: Sequence[dict], embedder_for: Callable[[str], Embedder], *, min_similarity: Mapping[str, float], examples: int = 3, default_locale: str = "en") -> list[Cluster]:
    """rows: {"question", "locale", "unanswered", "escalated"} → clusters, largest first.
    `min_similarity` is per locale: each locale's model has its own similarity scale."""
    by_locale: dict[str, dict[str, list[dict]]] = {}
    for row in rows:
        text = normalized(row["question"])
        if text:
            by_locale.setdefault(row["locale"] or default_locale, {}).setdefault(text, []).append(row)
    clusters: list[Cluster] = []
    for locale in sorted(by_locale):
        groups = by_locale[locale]
        texts = sorted(groups)
        # One wording per question (the smallest, so input order never matters).
        wording = {text: min(row["question"] for row in groups[text]) for text in texts}
        vectors = embedder_for(locale).embed_queries([wording[text] for text in texts])
        members: dict[int, list[str]] = {}
        for text, label in zip(texts, group_labels(np.asarray(vectors), min_similarity[locale])):
            members.setdefault(label, []).append(text)
        for label_texts in members.values():
            asked = Counter({text: len(groups[text]) for text in label_texts})
            flat = [row for text in label_texts for row in groups[text]]
            ordered = sorted(label_texts, key=lambda text: (-asked[text], text))
            clusters.append(
                Cluster(
                    locale=locale,
                    count=len(flat),
                    unanswered=sum(row["unanswered"] for row in flat),
                    escalated=sum(row["escalated"] for row in flat),
                    examples=[wording[text] for text in ordered[:examples]],
                )
            )
    return sorted(clusters, key=lambda c: (-c.count, c.locale, normalized(c.examples[0])))
