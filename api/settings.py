"""The one typed settings object. Read at the edge (CLI, app factory) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JISO_", env_file=".env", extra="ignore")

    knowledge_dir: Path = REPO_ROOT / "knowledge"
    index_dir: Path = REPO_ROOT / "var" / "index"
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'jiso.db'}"

    # Embedding model per locale: a built-in name ("all-MiniLM-L6-v2", "use-multilingual-v3"),
    # a sentence-transformers model name (downloaded only if you have internet) or a local path.
    model_en: str = "all-MiniLM-L6-v2"
    model_ja: str = "use-multilingual-v3"
    # Lexical tokenizer per locale: "words" (English) or "sudachi" / "bigram" (Japanese).
    lexical_en: str = "words"
    lexical_ja: str = "sudachi"
    locales: list[str] = Field(default_factory=lambda: ["en", "ja"])
    default_locale: str = "en"

    # Weight of the lexical score in the fused score (see docs/BENCHMARKS.md for the sweep).
    lexical_weight: float = 0.1
    # Answer only at or above this confidence; below it, say "I don't know" and offer a human.
    # Per locale, because each model has its own similarity scale (docs/BENCHMARKS.md).
    threshold_en: float = 0.5
    threshold_ja: float = 0.5
    max_file_bytes: int = 1_000_000

    host: str = "127.0.0.1"
    port: int = 8000

    def model_for(self, locale: str) -> str:
        return getattr(self, f"model_{locale}")

    def lexical_for(self, locale: str) -> str:
        return getattr(self, f"lexical_{locale}")

    def threshold_for(self, locale: str) -> float:
        return getattr(self, f"threshold_{locale}")
