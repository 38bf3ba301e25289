"""Choosing English's ranking: MiniLM alone vs fused with a companion model (e5), one run.

    python bench/two_models.py

Each English collection is indexed once with both models; every companion weight is then
measured on that index (question embeddings computed once per model and reused). The weight is
chosen on the development sets (en-onboarding and StackFAQ, whose P@1 must stay ≥ 0.95); the
held-out and blind sets show whether the choice generalizes. Prints a markdown table.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare_retrieval import DATASETS, STACKFAQ, QueryCache  # noqa: E402

from bot.engine import Companion, Engine, Policy  # noqa: E402
from bot.evaluation import _metrics, load_beir  # noqa: E402
from indexer.embedder import E5_SMALL_Q4, MINILM, Embedders, companion_key  # noqa: E402
from indexer.pipeline import LocaleConfig, build_index  # noqa: E402
from indexer.store import load_index  # noqa: E402

SETS = {"en-onboarding (dev)": DATASETS / "en-onboarding", "StackFAQ (dev)": STACKFAQ, "en-heldout": DATASETS / "en-heldout", "en-blind": DATASETS / "en-blind"}
WEIGHTS = (0.0, 0.25, 0.5, 1.0)  # 0: MiniLM alone (the previous default)


def policy(weight: float) -> Policy:
    companions = {"en": Companion(weight=weight, lexical_weight=0.02, sentence_weight=0.7, faq_bonus=0.05)} if weight else {}
    return Policy({}, lexical_weights={"en": 0.1}, sentence_weights={"en": 0.0}, faq_bonuses={"en": 0.05}, companions=companions)


def main() -> None:
    embedder_for = QueryCache(Embedders({"en": MINILM, companion_key("en"): E5_SMALL_Q4}))
    rows: dict[float, list[str]] = {weight: [] for weight in WEIGHTS}
    for path in SETS.values():
        collection = load_beir(path, ("en",))
        judged = [qid for qid in collection.queries if qid in collection.qrels]
        with tempfile.TemporaryDirectory() as scratch:
            build_index(collection.corpus, Path(scratch), configs={"en": LocaleConfig(MINILM, "words", E5_SMALL_Q4)}, embedder_for=embedder_for)
            index = load_index(Path(scratch))
            for weight in WEIGHTS:
                engine = Engine(index, embedder_for, policy(weight))
                ranked = [[hit.entry.id for hit in engine.search(collection.queries[qid], "en", k=10)] for qid in judged]
                metrics = _metrics(ranked, [collection.qrels[qid] for qid in judged])
                top3 = sum(bool(set(ids[:3]) & collection.qrels[qid]) for ids, qid in zip(ranked, judged)) / len(judged)
                rows[weight].append(f"{metrics['p@1']:.3f} | {top3:.3f}")
    print("| companion weight | " + " | ".join(f"{name} p@1 | top-3" for name in SETS) + " |")
    print("|" + "---|" * (1 + 2 * len(SETS)))
    for weight, cells in rows.items():
        print(f"| {weight if weight else 'none (MiniLM alone)'} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
