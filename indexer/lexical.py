"""Keyword matching: per-locale tokenizers and a BM25 index (bm25s, saved without pickle)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cached_property, lru_cache
from pathlib import Path

import bm25s
import numpy as np

Tokenizer = Callable[[str], list[str]]
WORD = re.compile(r"\w+", re.UNICODE)


class EnglishWords:
    """Lowercased words without stopwords, Snowball-stemmed (invite/invites/inviting match)."""

    name = "words"

    @cached_property
    def _stemmer(self):
        import Stemmer

        return Stemmer.Stemmer("english")

    @cached_property
    def _stopwords(self) -> frozenset[str]:
        from bm25s.stopwords import STOPWORDS_EN

        return frozenset(STOPWORDS_EN)

    def __call__(self, text: str) -> list[str]:
        words = [word for word in WORD.findall(unicodedata.normalize("NFKC", text).casefold()) if word not in self._stopwords]
        return self._stemmer.stemWords(words)


class JapaneseMorphemes:
    """Sudachi morphemes in normalized form (招待/しょうたい variants agree), particles dropped."""

    name = "sudachi"
    SKIP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}

    @cached_property
    def _tokenizer(self):
        from sudachipy import Dictionary, SplitMode

        return Dictionary(dict="core").create(mode=SplitMode.A)

    def __call__(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text)
        tokens = []
        for morpheme in self._tokenizer.tokenize(text[:20000]):
            pos = morpheme.part_of_speech()
            # Function words and light verbs (する, いる, いい) say nothing about the topic.
            if pos[0] in self.SKIP_POS or pos[1] == "非自立可能":
                continue
            surface = morpheme.surface()
            form = (surface if surface.isascii() else morpheme.normalized_form()).casefold()
            if form.strip():
                tokens.append(form)
        return tokens


class CharacterBigrams:
    """Overlapping character pairs: the dictionary-free baseline for Japanese."""

    name = "bigram"

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for run in WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
            tokens.extend(run[i : i + 2] for i in range(max(len(run) - 1, 1)))
        return tokens


TOKENIZERS: dict[str, Callable[[], Tokenizer]] = {
    "words": EnglishWords,
    "sudachi": JapaneseMorphemes,
    "bigram": CharacterBigrams,
}


def load_tokenizer(name: str) -> Tokenizer:
    if name not in TOKENIZERS:
        raise ValueError(f"unknown lexical tokenizer '{name}' (known: {', '.join(TOKENIZERS)})")
    return TOKENIZERS[name]()


class LexicalIndex:
    """BM25 over tokenized documents; `scores` gives every document's score for a query."""

    def __init__(self, retriever: bm25s.BM25, tokenizer: Tokenizer) -> None:
        self._retriever = retriever
        # A question is tokenized for its scores and again for the confidence signals: once.
        self._tokens = lru_cache(maxsize=256)(lambda text: tuple(tokenizer(text)))

    @classmethod
    def build(cls, texts: list[str], tokenizer: Tokenizer) -> LexicalIndex:
        retriever = bm25s.BM25()
        retriever.index([tokenizer(text) or [""] for text in texts], show_progress=False)
        return cls(retriever, tokenizer)

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, tokenizer: Tokenizer) -> LexicalIndex:
        return cls(bm25s.BM25.load(str(directory), mmap=False, allow_pickle=False), tokenizer)

    def tokens(self, text: str) -> tuple[str, ...]:
        return self._tokens(text)

    def known_share(self, tokens: Sequence[str]) -> float:
        """Share of a query's tokens that occur anywhere in the knowledge (1.0 for no tokens)."""
        return sum(token in self._retriever.vocab_dict for token in tokens) / len(tokens) if tokens else 1.0

    def scores(self, query: str) -> np.ndarray:
        vocabulary = self._retriever.vocab_dict
        tokens = [token for token in self.tokens(query) if token in vocabulary]
        if not tokens:
            return np.zeros(self._retriever.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._retriever.get_scores(tokens), dtype=np.float32)
