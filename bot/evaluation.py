"""Retrieval quality on any BEIR-layout collection, every method measured in the same run."""

from __future__ import annotations

import csv
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.engine import METHODS, Engine, Method, Policy
from indexer.documents import Entry
from indexer.embedder import Embedder
from indexer.language import detect_locale
from indexer.pipeline import LocaleConfig, build_index
from indexer.store import load_index


@dataclass
class Collection:
    name: str
    corpus: list[Entry]
    queries: dict[str, str]
    qrels: dict[str, set[str]]  # query id → relevant corpus ids; queries without any should be declined


def load_beir(directory: Path, locales: tuple[str, ...] = ("en", "ja")) -> Collection:
    corpus = []
    for line in (directory / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        title, text = str(doc.get("title") or "").strip(), str(doc.get("text") or "").strip()
        # Optional fields (ignored by other BEIR tools): alternative phrasings and the locale.
        alternatives = tuple(str(a) for a in doc.get("alternatives") or ())
        kind = "manual" if doc.get("kind") == "manual" else "faq"
        locale = doc.get("locale") if doc.get("locale") in locales else detect_locale(f"{title}\n{text}", locales)
        corpus.append(
            Entry(
                id=str(doc["_id"]),
                kind=kind,
                locale=locale,
                path="corpus.jsonl",
                title=title or text[:80],
                breadcrumb=(directory.name, title or text[:80]),
                line_start=len(corpus) + 1,
                line_end=len(corpus) + 1,
                body=text,
                plain=text,
                alternatives=alternatives,
            )
        )
    queries = {}
    for line in (directory / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            query = json.loads(line)
            queries[str(query["_id"])] = str(query["text"])
    qrels: dict[str, set[str]] = {}
    with (directory / "qrels" / "test.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return Collection(directory.name, corpus, queries, qrels)


def _metrics(ranked: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    p1 = mrr = recall5 = ndcg = 0.0
    for ids, gold in zip(ranked, relevant):
        p1 += 1.0 if ids[:1] and ids[0] in gold else 0.0
        mrr += next((1.0 / rank for rank, doc in enumerate(ids[:10], 1) if doc in gold), 0.0)
        recall5 += len(gold & set(ids[:5])) / len(gold)
        dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ids[:10], 1) if doc in gold)
        ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(gold), 10) + 1))
        ndcg += dcg / ideal
    n = max(len(ranked), 1)
    return {"p@1": p1 / n, "mrr@10": mrr / n, "recall@5": recall5 / n, "ndcg@10": ndcg / n}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def evaluate(
    collection: Collection,
    *,
    configs: dict[str, LocaleConfig],
    embedder_for: Callable[[str], Embedder],
    policy: Policy,
    methods: tuple[Method, ...] = METHODS,
) -> dict:
    """Index the corpus with the default configuration, then rank every query with every method."""
    with tempfile.TemporaryDirectory(prefix="jiso-eval-") as scratch:
        build_index(collection.corpus, Path(scratch), configs=configs, embedder_for=embedder_for)
        return measure(collection, Engine(load_index(Path(scratch)), embedder_for, policy), methods)


def measure(collection: Collection, engine: Engine, methods: tuple[Method, ...] = METHODS) -> dict:
    """Rank every query of `collection` with every method of an engine over its indexed corpus."""
    results = {}
    judged = [qid for qid in collection.queries if qid in collection.qrels]
    decisions: list[tuple[float, bool]] = []  # default method: (confidence, right to answer with the top entry)
    declined_unanswerable = 0
    for method in methods:
        ranked, latencies, answered, answered_right = [], [], 0, 0
        for qid, text in collection.queries.items():
            started = time.perf_counter()
            locale = engine.locale_of(text)
            hits = engine.search(text, locale, k=10, method=method)
            answer = engine.decide(text, locale, hits, method=method) if method != "bm25" else None
            latencies.append((time.perf_counter() - started) * 1000)
            gold = collection.qrels.get(qid)
            if gold is not None:
                ranked.append([hit.entry.id for hit in hits])
            if answer is None:
                continue
            right = gold is not None and bool(hits) and hits[0].entry.id in gold
            if method == "hybrid":
                decisions.append((answer.confidence, right))
                declined_unanswerable += int(gold is None and not answer.confident)
            if answer.confident:
                answered += 1
                answered_right += int(right)
        row = _metrics(ranked, [collection.qrels[qid] for qid in judged])
        row["p50_ms"] = statistics.median(latencies) if latencies else 0.0
        row["p95_ms"] = _percentile(latencies, 0.95)
        # BM25 scores have no absolute scale, so only the embedding methods can decline.
        row["answered_share"] = answered / len(collection.queries) if method != "bm25" else None
        row["answered_precision"] = (answered_right / answered if answered else 0.0) if method != "bm25" else None
        results[method] = {key: (round(value, 4) if isinstance(value, float) else value) for key, value in row.items()}
    return {
        "dataset": collection.name,
        "default": "hybrid",
        "queries": len(collection.queries),
        "unanswerable_queries": len(collection.queries) - len(judged),
        "corpus": len(collection.corpus),
        "methods": results,
        # Of the questions the collection marks unanswerable (no qrels), the share the default declined.
        "unanswerable_declined": round(declined_unanswerable / (len(collection.queries) - len(judged)), 4) if len(collection.queries) > len(judged) else None,
        "tradeoff": tradeoff(decisions),
    }


def tradeoff(decisions: list[tuple[float, bool]], thresholds: tuple[float, ...] = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)) -> list[dict]:
    """Share of questions answered vs precision of the answered, for each candidate threshold."""
    rows = []
    for threshold in thresholds:
        answered = [right for confidence, right in decisions if confidence >= threshold]
        rows.append({
            "threshold": threshold,
            "answered_share": round(len(answered) / len(decisions), 4) if decisions else 0.0,
            "answered_precision": round(sum(answered) / len(answered), 4) if answered else 0.0,
        })
    return rows
