"""Question → ranked evidence from the knowledge index → the writers' answer, or "I don't know".

Retrieval is hybrid. An entry's score is the cosine of its best-matching question or whole
text, plus a per-locale weight times the cosine of its best-matching sentence (evidence that the
answer talks about what was asked), plus a per-locale weight times the BM25 score divided by the
query's best BM25 score, plus a small bonus for curated FAQ entries over manual sections. Dense
carries the ranking; the keyword term breaks near-ties on exact terms (product names, error
codes). A locale may rank with a second (companion) model too: each model's hybrid score is
standardized over the locale's entries for the question and the two are added, the companion's
with a weight — two models trained on different data err on different questions.
docs/BENCHMARKS.md shows the sweeps that chose the weights and why plain rank fusion was rejected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np

from bot.confidence import CHOICES, Calibration, signals
from bot.messages import dont_know, message
from indexer.documents import PASSAGE_ROLES, Entry
from indexer.embedder import Embedder, companion_key
from indexer.language import detect_locale
from indexer.store import KnowledgeIndex, LocaleIndex

Method = Literal["hybrid", "dense", "bm25"]
Decision = Literal["answer", "clarify", "decline"]
METHODS: tuple[Method, ...] = ("hybrid", "dense", "bm25")
DENSE_CANDIDATES = 400  # passages; their entries are then scored exactly
LEXICAL_CANDIDATES = 20
SENTENCE = PASSAGE_ROLES.index("sentence")
SIGNAL_DEPTH = 10  # hits read for the confidence signals (the runner-ups' leads)


@dataclass(frozen=True)
class Companion:
    """How a locale's second model ranks (its own hybrid weights: each model has its own
    similarity scale) and how much its standardized ranking counts beside the first's."""

    weight: float
    lexical_weight: float
    sentence_weight: float
    faq_bonus: float


@dataclass(frozen=True)
class Policy:
    """How to rank and when to answer, per locale: each model has its own similarity scale, so
    each locale has its own calibration (bot/confidence.py)."""

    calibrations: Mapping[str, Calibration]
    target_precision: float = 0.9
    lexical_weights: Mapping[str, float] = field(default_factory=dict)
    sentence_weights: Mapping[str, float] = field(default_factory=dict)
    faq_bonuses: Mapping[str, float] = field(default_factory=dict)
    companions: Mapping[str, Companion] = field(default_factory=dict)
    default_lexical_weight: float = 0.1

    def lexical_weight(self, locale: str) -> float:
        return self.lexical_weights.get(locale, self.default_lexical_weight)

    def sentence_weight(self, locale: str) -> float:
        return self.sentence_weights.get(locale, 0.0)

    def faq_bonus(self, locale: str) -> float:
        return self.faq_bonuses.get(locale, 0.0)

    def thresholds(self, locale: str) -> tuple[float, float]:
        """The probabilities at or above which jiso answers, and asks which entry is meant (never,
        for a locale without a calibration)."""
        return self._thresholds.get(locale, (1.01, 1.01))

    @cached_property
    def _thresholds(self) -> dict[str, tuple[float, float]]:
        target = self.target_precision
        return {locale: (c.answer.threshold(target), c.choices.threshold(target)) for locale, c in self.calibrations.items()}


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float
    dense: float  # cosine of the best question or whole-text passage (the match)
    lexical: float  # BM25 score over the query's best BM25 score
    evidence: float = 0.0  # cosine of the best answer sentence


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    path: str
    heading: str
    line: int
    score: float

    @classmethod
    def of(cls, hit: Hit) -> Source:
        entry = hit.entry
        return cls(entry.id, entry.title, entry.path, entry.heading, entry.line_start, round(hit.score, 4))


@dataclass(frozen=True)
class Answer:
    question: str
    locale: str
    text: str  # markdown: the writers' answer, the "which one?" prompt, or the "I don't know" message
    decision: Decision
    confidence: float  # the probability that the best entry is right (calibrated per locale)
    sources: list[Source] = field(default_factory=list)
    entry: Entry | None = None
    choices: list[Source] = field(default_factory=list)  # when asking which entry is meant
    elapsed_ms: float = 0.0
    read_with: str | None = None  # a follow-up: the turn whose question it was read together with

    @property
    def confident(self) -> bool:
        return self.decision == "answer"

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "locale": self.locale,
            "text": self.text,
            "decision": self.decision,
            "confident": self.confident,
            "confidence": round(self.confidence, 4),
            "sources": [source.__dict__ for source in self.sources],
            "choices": [choice.__dict__ for choice in self.choices],
            "entry_id": self.entry.id if self.entry else None,
        }


class Engine:
    """Answers from one loaded index. Cheap to build; the embedders are loaded once and shared."""

    def __init__(self, index: KnowledgeIndex, embedder_for: Callable[[str], Embedder], policy: Policy, default_locale: str = "en") -> None:
        self.index = index
        self._embedder_for = embedder_for
        self.policy = policy
        self.default_locale = default_locale

    def embedder(self, locale: str) -> Embedder:
        """A locale's query embedder (to compare users' questions with each other, e.g. for drafts)."""
        return self._embedder_for(locale)

    def locale_of(self, question: str, hint: str | None = None) -> str:
        available = tuple(sorted(self.index.locales)) or (self.default_locale,)
        if hint in available:
            return hint
        return detect_locale(question, available, default=self.default_locale if self.default_locale in available else available[0])

    def search(self, question: str, locale: str | None = None, *, k: int = 5, method: Method = "hybrid") -> list[Hit]:
        locale = self.locale_of(question, locale)
        index = self.index.locales.get(locale)
        if index is None or not index.entries or not question.strip():
            return []
        query = self._embedder_for(index.locale).embed_queries([question])[0] if method != "bm25" else None
        lexical = index.lexical.scores(question) if method != "dense" else np.zeros(len(index.entries), np.float32)
        top_lexical = float(lexical.max()) if len(lexical) else 0.0
        normalized = lexical / top_lexical if top_lexical > 0 else lexical
        if method == "bm25":
            candidates = [int(i) for i in np.argsort(-lexical)[: max(k, LEXICAL_CANDIDATES)] if lexical[i] > 0]
            hits = [Hit(index.entries[i], float(normalized[i]), 0.0, float(normalized[i]), 0.0) for i in candidates]
        else:
            hybrid = method == "hybrid"
            companion = self.policy.companions.get(locale) if hybrid and index.companion_vectors is not None else None
            if companion is not None:
                return self._fused(question, index, query, normalized, companion, k)
            weight = self.policy.lexical_weight(locale) if hybrid else 0.0
            sentence_weight = self.policy.sentence_weight(locale) if hybrid else 0.0
            bonus = self.policy.faq_bonus(locale) if hybrid else 0.0
            candidates = self._dense_candidates(index, query)
            if weight:
                candidates |= {int(i) for i in np.argsort(-lexical)[:LEXICAL_CANDIDATES] if lexical[i] > 0}
            positions = np.asarray(sorted(candidates), dtype=np.int64)
            match, evidence = _entry_scores(index, index.matrix, query, positions)
            score = match + sentence_weight * evidence + weight * normalized[positions]
            hits = [
                Hit(index.entries[i], float(score[n]) + (bonus if index.entries[i].kind == "faq" else 0.0), float(match[n]), float(normalized[i]), float(evidence[n]))
                for n, i in enumerate(positions.tolist())
            ]
        hits.sort(key=lambda hit: (-hit.score, hit.entry.id))
        return hits[:k]

    def _fused(self, question: str, index: LocaleIndex, query: np.ndarray, lexical: np.ndarray, companion: Companion, k: int) -> list[Hit]:
        """Every entry ranked by both models' standardized hybrid scores (the companion's weighted)."""
        positions = np.arange(len(index.entries), dtype=np.int64)
        faq = index.faq_mask
        locale = index.locale
        match, evidence = _entry_scores(index, index.matrix, query, positions)
        first = match + self.policy.sentence_weight(locale) * evidence + self.policy.lexical_weight(locale) * lexical + self.policy.faq_bonus(locale) * faq
        second_query = self._embedder_for(companion_key(locale)).embed_queries([question])[0]
        second_match, second_evidence = _entry_scores(index, index.companion_matrix, second_query, positions)
        second = second_match + companion.sentence_weight * second_evidence + companion.lexical_weight * lexical + companion.faq_bonus * faq
        score = _standardized(first) + companion.weight * _standardized(second)
        best = np.argsort(-score, kind="stable")[:k].tolist()
        hits = [Hit(index.entries[n], float(score[n]), float(match[n]), float(lexical[n]), float(evidence[n])) for n in best]
        hits.sort(key=lambda hit: (-hit.score, hit.entry.id))
        return hits

    def _dense_candidates(self, index: LocaleIndex, query: np.ndarray) -> set[int]:
        """Entries owning the passages nearest the question."""
        _, rows = index.vectors.search(query[None, :], min(DENSE_CANDIDATES, index.vectors.ntotal))
        return {int(position) for position in index.passage_entry[rows[0][rows[0] >= 0]]}

    def answer(self, question: str, locale: str | None = None, *, sources: int = 3) -> Answer:
        started = time.perf_counter()
        question = question.strip()
        answer_locale = self.locale_of(question, locale)
        hits = self.search(question, answer_locale, k=SIGNAL_DEPTH)
        return self.decide(question, answer_locale, hits, started=started, sources=sources)

    def signals(self, question: str, locale: str, hits: list[Hit]) -> list[float]:
        """The label-free confidence signals of a ranking (bot/confidence.py)."""
        index = self.index.locales.get(locale)
        tokens = index.lexical.tokens(question) if index is not None else []
        return signals(hits, known_share=index.lexical.known_share(tokens) if index is not None else 0.0, tokens=len(tokens))

    def probabilities(self, question: str, locale: str, hits: list[Hit]) -> tuple[float, float]:
        """P(the best entry is right), P(a right entry is among the choices), for a hybrid ranking."""
        calibration = self.policy.calibrations.get(locale)
        if calibration is None or not hits:
            return 0.0, 0.0
        values = calibration.standardize(self.signals(question, locale, hits))
        return calibration.answer.probability(values), calibration.choices.probability(values)

    def decide(self, question: str, locale: str, hits: list[Hit], *, started: float | None = None, sources: int = 3) -> Answer:
        """Answer when the best entry is probably right; otherwise ask which of the top entries is
        meant when one of them probably is; otherwise say so (and offer a person)."""
        elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
        answer_probability, choices_probability = self.probabilities(question, locale, hits)
        answer_at, clarify_at = self.policy.thresholds(locale)
        cited = [Source.of(hit) for hit in hits[:sources]]
        if hits and answer_probability >= answer_at:
            top = hits[0]
            return Answer(question, locale, top.entry.body, "answer", answer_probability, cited, top.entry, [], elapsed)
        if len(hits) > 1 and choices_probability >= clarify_at:
            choices = [Source.of(hit) for hit in hits[:CHOICES]]
            return Answer(question, locale, message("clarify", locale), "clarify", answer_probability, cited, None, choices, elapsed)
        return Answer(question, locale, dont_know(locale), "decline", answer_probability, cited, None, [], elapsed)


def _standardized(scores: np.ndarray) -> np.ndarray:
    spread = float(scores.std())
    return (scores - scores.mean()) / (spread if spread > 0 else 1.0)


def _entry_scores(index: LocaleIndex, matrix: np.ndarray, query: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosines (passage vectors `matrix`, one model's) for the entries at `positions`: of
    each one's best question or whole-text passage (the match), and of its best sentence (the
    evidence; the match if it has none)."""
    if len(positions) == len(index.entries):  # every entry (fused ranking): no selection to make
        scores, owner, is_sentence = matrix @ query, index.passage_entry, index.passage_role == SENTENCE
    else:
        rows = np.flatnonzero(np.isin(index.passage_entry, positions))
        scores = matrix[rows] @ query
        owner = np.searchsorted(positions, index.passage_entry[rows])
        is_sentence = index.passage_role[rows] == SENTENCE
    match = np.full(len(positions), -1.0, np.float32)
    evidence = np.full(len(positions), -np.inf, np.float32)
    np.maximum.at(match, owner[~is_sentence], scores[~is_sentence])
    np.maximum.at(evidence, owner[is_sentence], scores[is_sentence])
    return match, np.where(np.isfinite(evidence), evidence, match)
