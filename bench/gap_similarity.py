"""Calibrating the content-gap similarity per model: cluster the development questions (whose
answers are known) at each similarity and report how often "same cluster" means "same FAQ entry".

    python bench/gap_similarity.py

English's default (0.6 with MiniLM) sets the bar; each other model gets the similarity at which
its pairwise precision is about the same.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bot.reports.clusters import group_labels  # noqa: E402
from indexer.embedder import E5_SMALL_Q4, MINILM, USE_MULTILINGUAL, load_embedder  # noqa: E402

SIMILARITIES = (0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.875, 0.9, 0.925)


def main() -> None:
    print("| set | model | " + " | ".join(f"{s}" for s in SIMILARITIES) + " |\n|" + "---|" * (len(SIMILARITIES) + 2))
    for locale, model in (("en", MINILM), ("ja", USE_MULTILINGUAL), ("ja", E5_SMALL_Q4)):
        with (ROOT / "bench" / "eval-sets" / f"{locale}-onboarding.tsv").open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        vectors = load_embedder(model).embed_queries([row["query"] for row in rows])
        gold = np.array([row["entry_id"] for row in rows])
        pairs = np.triu_indices(len(rows), 1)
        same_entry = (gold[:, None] == gold[None, :])[pairs]
        cells = []
        for similarity in SIMILARITIES:
            labels = np.array(group_labels(vectors, similarity))
            same_cluster = (labels[:, None] == labels[None, :])[pairs]
            precision = (same_cluster & same_entry).sum() / max(same_cluster.sum(), 1)
            cells.append(f"{precision:.2f} ({len(set(labels))})")
        print(f"| {locale}-onboarding | {model} | " + " | ".join(cells) + " |")
    print("\nEach cell: pairwise precision (clusters) for the questions of the development set.")


if __name__ == "__main__":
    main()
