"""Test helpers shared by every suite that needs a small, indexed knowledge base."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from api import runtime
from api.settings import Settings
from indexer.pipeline import index_knowledge


def write_knowledge(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def indexed_settings(tmp_path: Path, files: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Settings with the deterministic fake embedder over `files` written to tmp_path/knowledge
    (or over an existing `knowledge_dir`), indexed once."""
    knowledge = overrides.pop("knowledge_dir", None) or tmp_path / "knowledge"
    if files:
        write_knowledge(knowledge, files)
    settings = Settings(
        **{
            "model_en": "fake-hashing",
            "model_ja": "fake-hashing",
            "lexical_ja": "bigram",
            "knowledge_dir": knowledge,
            "index_dir": tmp_path / "index",
            **overrides,
        }
    )
    if not (settings.index_dir / "CURRENT").exists():
        index_knowledge(runtime.scan(settings), settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings))
    return settings
