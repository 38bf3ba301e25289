"""Retrieval quality on any BEIR-layout collection, every method measured in the same run."""

from __future__ import annotations

import csv
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.confidence import CHOICES
from bot.engine import METHODS, SIGNAL_DEPTH, Engine, Method, Policy
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


@contextmanager
def indexed(collection: Collection, *, configs: dict[str, LocaleConfig], embedder_for: Callable[[str], Embedder], policy: Policy) -> Iterator[Engine]:
    """An engine over the collection's corpus, indexed with the default configuration in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="jiso-eval-") as scratch:
        build_index(collection.corpus, Path(scratch), configs=configs, embedder_for=embedder_for)
        yield Engine(load_index(Path(scratch)), embedder_for, policy)


def evaluate(
    collection: Collection,
    *,
    configs: dict[str, LocaleConfig],
    embedder_for: Callable[[str], Embedder],
    policy: Policy,
    methods: tuple[Method, ...] = METHODS,
) -> dict:
    """Index the corpus with the default configuration, then rank every query with every method."""
    with indexed(collection, configs=configs, embedder_for=embedder_for, policy=policy) as engine:
        return measure(collection, engine, methods)


def measure(collection: Collection, engine: Engine, methods: tuple[Method, ...] = METHODS) -> dict:
    """Rank every query of `collection` with every method of an engine over its indexed corpus.

    Only the default (hybrid) ranking has a calibrated policy, so only it answers, asks or
    declines; the dense ranking's raw cosine and the hybrid's raw cosine are measured as
    confidence baselines (how well they would order the same questions)."""
    results = {}
    judged = [qid for qid in collection.queries if qid in collection.qrels]
    baselines: dict[str, dict] = {}
    unanswerable = len(collection.queries) - len(judged)
    declined_unanswerable = 0
    for method in methods:
        ranked, latencies, scored, raw = [], [], [], []
        decisions = {"answer": 0, "clarify": 0, "decline": 0}
        answered_right = reached = 0
        for qid, text in collection.queries.items():
            started = time.perf_counter()
            locale = engine.locale_of(text)
            hits = engine.search(text, locale, k=10, method=method)
            answer = engine.decide(text, locale, hits) if method == "hybrid" else None
            latencies.append((time.perf_counter() - started) * 1000)
            gold = collection.qrels.get(qid)
            ids = [hit.entry.id for hit in hits]
            if gold is not None:
                ranked.append(ids)
            right = gold is not None and bool(ids) and ids[0] in gold
            if method != "bm25":
                raw.append((hits[0].dense if hits else 0.0, right))
            if answer is None:
                continue
            scored.append((answer.confidence, right))
            decisions[answer.decision] += 1
            answered_right += int(answer.confident and right)
            chosen = {choice.id for choice in answer.choices}
            reached += int(gold is not None and ((answer.confident and right) or bool(chosen & gold)))
            declined_unanswerable += int(gold is None and not answer.confident)
        row: dict = _metrics(ranked, [collection.qrels[qid] for qid in judged])
        row["p50_ms"] = statistics.median(latencies) if latencies else 0.0
        row["p95_ms"] = _percentile(latencies, 0.95)
        if method == "hybrid":
            asked = len(collection.queries) or 1
            row["answered_share"] = decisions["answer"] / asked
            row["answered_precision"] = answered_right / decisions["answer"] if decisions["answer"] else 0.0
            row["clarified_share"] = decisions["clarify"] / asked
            row["declined_share"] = decisions["decline"] / asked
            row["reached_correct"] = reached / len(judged) if judged else 0.0
            row.update(risk_coverage(scored))
            baselines["hybrid_raw_cosine"] = risk_coverage(raw)
        elif method == "dense":
            baselines["dense_raw_cosine"] = risk_coverage(raw)
        results[method] = {key: (round(value, 4) if isinstance(value, float) else value) for key, value in row.items()}
    return {
        "dataset": collection.name,
        "default": "hybrid",
        "queries": len(collection.queries),
        "unanswerable_queries": unanswerable,
        "corpus": len(collection.corpus),
        "methods": results,
        # Of the questions the collection marks unanswerable (no qrels), the share not answered with confidence.
        "unanswerable_declined": round(declined_unanswerable / unanswerable, 4) if unanswerable else None,
        # How well other confidences would order the same questions (same metrics as the default's).
        "confidence_baselines": baselines,
    }


COVERAGES = (0.2, 0.4, 0.6, 0.8)


def risk_coverage(decisions: list[tuple[float, bool]]) -> dict:
    """`aurc`: the mean error rate of the k most confident answers over every k (area under the
    risk–coverage curve; lower is better), and the precision at fixed shares of the questions."""
    ordered = [right for _, right in sorted(decisions, key=lambda pair: -pair[0])]
    if not ordered:
        return {"aurc": 0.0, "precision_at_coverage": []}
    errors, risks = 0, []
    for count, right in enumerate(ordered, 1):
        errors += not right
        risks.append(errors / count)
    at = []
    for coverage in COVERAGES:
        top = ordered[: max(1, round(coverage * len(ordered)))]
        at.append({"coverage": coverage, "precision": round(sum(top) / len(top), 4)})
    return {"aurc": round(sum(risks) / len(risks), 4), "precision_at_coverage": at}


def calibration_rows(collection: Collection, engine: Engine) -> dict[str, list[tuple[list[float], bool, bool]]]:
    """Per locale, each judged or unanswerable query's signals under the default ranking, whether
    its best entry is right, and whether a right entry is among the choices (for `jiso calibrate`)."""
    rows: dict[str, list[tuple[list[float], bool, bool]]] = {}
    for qid, text in collection.queries.items():
        locale = engine.locale_of(text)
        hits = engine.search(text, locale, k=SIGNAL_DEPTH)
        gold = collection.qrels.get(qid, set())
        ids = [hit.entry.id for hit in hits]
        rows.setdefault(locale, []).append((engine.signals(text, locale, hits), bool(ids) and ids[0] in gold, bool(gold & set(ids[:CHOICES]))))
    return rows
