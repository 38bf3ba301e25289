"""Choosing the retrieval configuration: models × keyword tokenizers × score weights, one run.

    python bench/compare_retrieval.py ja   # Japanese: MiniLM vs USE vs e5, bigram vs Sudachi, weights
    python bench/compare_retrieval.py en   # English / StackFAQ: weight sweeps for MiniLM, e5 for comparison

Each (model, tokenizer) pair is indexed once; every weight setting is then measured on that index
(question embeddings are computed once and reused). All rows of one invocation are measured in the
same run on the same machine and printed as markdown tables for docs/BENCHMARKS.md. The Japanese
sweep runs on the development set (ja-onboarding) and reports the held-out (ja-heldout) and
confirmation (ja-confirmation) sets beside it: weights are chosen on the first, the others show
whether the choice generalizes.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bot.engine import Engine, Policy  # noqa: E402
from bot.evaluation import Collection, _metrics, load_beir, measure  # noqa: E402
from indexer.embedder import E5_SMALL_Q4, MINILM, USE_MULTILINGUAL, Embedder, Embedders  # noqa: E402
from indexer.pipeline import LocaleConfig, build_index  # noqa: E402
from indexer.store import load_index  # noqa: E402

DATASETS = ROOT / "bench" / "datasets"
STACKFAQ = ROOT.parent / "shared" / "datasets" / "stackfaq"
COLUMNS = ["p@1", "mrr@10", "recall@5"]
# (lexical weight, sentence weight, FAQ bonus)
Weights = tuple[float, float, float]


class QueryCache:
    """The locale's embedder, with each question embedded once across all the weight settings."""

    def __init__(self, embedders: Embedders) -> None:
        self._embedders = embedders
        self._queries: dict[tuple[str, str], np.ndarray] = {}

    def __call__(self, locale: str) -> Embedder:
        inner = self._embedders(locale)
        cache = self._queries

        class Cached:
            name, dimensions = inner.name, inner.dimensions
            embed_passages = staticmethod(inner.embed_passages)

            @staticmethod
            def embed_queries(texts: list[str]) -> np.ndarray:
                missing = [text for text in texts if (inner.name, text) not in cache]
                if missing:
                    cache.update({(inner.name, text): vector for text, vector in zip(missing, inner.embed_queries(missing))})
                return np.vstack([cache[(inner.name, text)] for text in texts])

        return Cached()


def cells(metrics: dict) -> str:
    return " | ".join("-" if metrics.get(c) is None else f"{metrics[c]:.3f}" for c in COLUMNS)


def sweep(collections: list[Collection], locale: str, model: str, lexical: str, settings: list[Weights], baselines: bool = True) -> None:
    """One index per collection for (model, lexical); one table row per weight setting."""
    embedder_for = QueryCache(Embedders({locale: model}))
    with tempfile.TemporaryDirectory() as scratch:
        indexes = []
        for number, collection in enumerate(collections):
            directory = Path(scratch) / str(number)
            build_index(collection.corpus, directory, configs={locale: LocaleConfig(model, lexical)}, embedder_for=embedder_for)
            indexes.append(load_index(directory))
        for weights in settings:
            lexical_weight, sentence_weight, bonus = weights
            policy = Policy({}, lexical_weights={locale: lexical_weight}, sentence_weights={locale: sentence_weight}, faq_bonuses={locale: bonus})
            methods = ("hybrid", "dense", "bm25") if baselines and weights == settings[0] else ("hybrid",)
            results = [measure(collection, Engine(index, embedder_for, policy), methods) for collection, index in zip(collections, indexes)]
            for method in methods:
                label = f"w={lexical_weight}, s={sentence_weight}, bonus={bonus}" if method == "hybrid" else "-"
                print(f"| {model} + {lexical} | {method} | {label} | " + " | ".join(cells(r["methods"][method]) for r in results) + " |", flush=True)


def rrf(collection: Collection, locale: str, model: str, lexical: str) -> dict:
    """Reciprocal-rank fusion of the dense and BM25 rankings: the textbook fusion, for comparison."""
    embedder_for = Embedders({locale: model})
    with tempfile.TemporaryDirectory() as scratch:
        build_index(collection.corpus, Path(scratch), configs={locale: LocaleConfig(model, lexical)}, embedder_for=embedder_for)
        engine = Engine(load_index(Path(scratch)), embedder_for, Policy({}))
        ranked, gold = [], []
        for qid, text in collection.queries.items():
            if qid not in collection.qrels:
                continue
            fused: dict[str, float] = {}
            for method in ("dense", "bm25"):
                for rank, hit in enumerate(engine.search(text, locale, k=100, method=method), 1):
                    fused[hit.entry.id] = fused.get(hit.entry.id, 0.0) + 1.0 / (60 + rank)
            ranked.append(sorted(fused, key=lambda doc: -fused[doc]))
            gold.append(collection.qrels[qid])
    return _metrics(ranked, gold)


def header(names: list[str]) -> None:
    print("| configuration | method | weights | " + " | ".join(f"{name} {c}" for name in names for c in COLUMNS) + " |")
    print("|" + "---|" * (3 + len(COLUMNS) * len(names)))


def run(names: list[str], locale: str, plan: list[tuple[str, str, list[Weights]]], rrf_with: tuple[str, str] | None = None, loader: Callable[[str], Collection] | None = None) -> None:
    collections = [(loader or (lambda name: load_beir(DATASETS / name, (locale,))))(name) for name in names]
    print("\n" + ", ".join(f"{c.name}: {len(c.corpus)} documents, {len(c.queries)} queries" for c in collections) + "\n")
    header([c.name for c in collections])
    for model, lexical, settings in plan:
        sweep(collections, locale, model, lexical, settings)
    if rrf_with:
        model, lexical = rrf_with
        print(f"| {model} + {lexical} | rrf (k=60) | - | " + " | ".join(cells(rrf(c, locale, model, lexical)) for c in collections) + " |")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "ja"
    if which == "ja":
        run(
            ["ja-onboarding", "ja-heldout", "ja-confirmation"],
            "ja",
            [
                (MINILM, "bigram", [(0.3, 0.0, 0.05, 0.45)]),
                (USE_MULTILINGUAL, "sudachi", [(0.3, 0.0, 0.05, 0.45)]),
                (USE_MULTILINGUAL, "bigram", [(0.3, 0.0, 0.05, 0.45), (0.3, 0.3, 0.05, 0.45)]),
                (E5_SMALL_Q4, "sudachi", [(0.02, 0.7, 0.05)]),
                (
                    E5_SMALL_Q4,
                    "bigram",
                    [
                        (0.02, 0.7, 0.05),  # the default first: it carries the dense and BM25 baselines
                        (0.0, 0.0, 0.0),
                        (0.02, 0.0, 0.05),
                        (0.05, 0.0, 0.05),
                        (0.02, 0.3, 0.05),
                        (0.02, 0.5, 0.05),
                        (0.02, 1.0, 0.05, 0.89),
                        (0.01, 0.7, 0.05),
                        (0.04, 0.7, 0.05),
                        (0.02, 0.7, 0.0),
                        (0.02, 0.7, 0.1),
                    ],
                ),
            ],
            rrf_with=(E5_SMALL_Q4, "bigram"),
        )
    elif which == "en":
        run(
            ["stackfaq", "en-onboarding", "en-heldout"],
            "en",
            [
                (MINILM, "words", [(0.1, 0.0, 0.05), (0.05, 0.0, 0.05), (0.2, 0.0, 0.05), (0.3, 0.0, 0.05), (0.1, 0.1, 0.05), (0.1, 0.3, 0.05)]),
                (E5_SMALL_Q4, "words", [(0.02, 0.7, 0.05)]),
            ],
            rrf_with=(MINILM, "words"),
            loader=lambda name: load_beir(STACKFAQ if name == "stackfaq" else DATASETS / name, ("en",)),
        )
