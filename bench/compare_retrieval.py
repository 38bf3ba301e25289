"""Choosing the retrieval configuration: models × keyword tokenizers × lexical weight, one run.

    python bench/compare_retrieval.py ja   # Japanese: MiniLM vs USE, bigram vs Sudachi
    python bench/compare_retrieval.py en   # English / StackFAQ: lexical-weight sweep

Every row of one invocation is measured in the same run on the same machine; results are
printed as a markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tempfile  # noqa: E402

from bot.engine import Engine, Policy  # noqa: E402
from bot.evaluation import _metrics, evaluate, load_beir  # noqa: E402
from indexer.pipeline import build_index  # noqa: E402
from indexer.store import load_index  # noqa: E402
from indexer.embedder import MINILM, USE_MULTILINGUAL, Embedders  # noqa: E402
from indexer.pipeline import LocaleConfig  # noqa: E402

STACKFAQ = ROOT.parent / "shared" / "datasets" / "stackfaq"
COLUMNS = ["p@1", "mrr@10", "recall@5", "ndcg@10", "p50_ms", "answered_share", "answered_precision"]


def row(label: str, method: str, metrics: dict) -> str:
    cells = ["-" if metrics[c] is None else f"{metrics[c]:.3f}" for c in COLUMNS]
    return f"| {label} | {method} | " + " | ".join(cells) + " |"


def header() -> str:
    return "| configuration | method | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 2)


def run(dataset: Path, locale: str, combos: list[tuple[str, str, float, float]]) -> None:
    collection = load_beir(dataset, (locale,))
    print(f"\n{dataset.name}: {len(collection.corpus)} documents, {len(collection.queries)} queries\n")
    print(header())
    embedders = Embedders({})
    for model, lexical, weight, threshold in combos:
        embedders.models[locale] = model
        result = evaluate(
            collection,
            configs={locale: LocaleConfig(model, lexical)},
            embedder_for=embedders,
            policy=Policy({locale: threshold}, lexical_weights={locale: weight}, faq_bonus=0.05),
        )
        label = f"{model} + {lexical}, w={weight}"
        for method, metrics in result["methods"].items():
            print(row(label, method, metrics), flush=True)
    model, lexical, weight, threshold = combos[-1]
    print(row(f"{model} + {lexical}", "rrf (k=60)", rrf(collection, locale, model, lexical, embedders)), flush=True)


def rrf(collection, locale: str, model: str, lexical: str, embedders: Embedders) -> dict:
    """Reciprocal-rank fusion of the dense and BM25 rankings: the textbook fusion, for comparison."""
    embedders.models[locale] = model
    with tempfile.TemporaryDirectory() as scratch:
        build_index(collection.corpus, Path(scratch), configs={locale: LocaleConfig(model, lexical)}, embedder_for=embedders)
        engine = Engine(load_index(Path(scratch)), embedders, Policy({locale: 0.5}))
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
    metrics = _metrics(ranked, gold)
    return {**{c: None for c in COLUMNS}, **metrics}


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "ja"
    if which == "ja":
        run(ROOT / "bench" / "datasets" / "ja-onboarding", "ja", [
            (MINILM, "bigram", 0.3, 0.45),
            (USE_MULTILINGUAL, "sudachi", 0.3, 0.45),
            (USE_MULTILINGUAL, "bigram", 0.1, 0.45),
            (USE_MULTILINGUAL, "bigram", 0.2, 0.45),
            (USE_MULTILINGUAL, "bigram", 0.5, 0.45),
            (USE_MULTILINGUAL, "bigram", 0.3, 0.45),  # the default: last, so the RRF row uses it
        ])
    elif which == "en":
        for dataset in (STACKFAQ, ROOT / "bench" / "datasets" / "en-onboarding"):
            run(dataset, "en", [(MINILM, "words", w, 0.5) for w in (0.05, 0.2, 0.3, 0.1)])
