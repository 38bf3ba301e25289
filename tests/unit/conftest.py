from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.embedder import HashingEmbedder
from indexer.pipeline import LocaleConfig

FAKE_CONFIGS = {"en": LocaleConfig("fake-hashing", "words"), "ja": LocaleConfig("fake-hashing", "bigram")}


class CountingEmbedder(HashingEmbedder):
    """The deterministic fake, counting how many passages it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.passages = 0

    def embed_passages(self, texts: list[str]):
        self.passages += len(texts)
        return super().embed_passages(texts)


@pytest.fixture
def fake_embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def embedder_for(fake_embedder: CountingEmbedder) -> Callable[[str], CountingEmbedder]:
    return lambda locale: fake_embedder


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    root = tmp_path / "knowledge"

    def _write(relative: str, content: str | bytes) -> Path:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
