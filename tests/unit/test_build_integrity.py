"""Every byte a build's loader reads is verified: a changed manifest field or file refuses the build."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer import store
from indexer.content import scan_knowledge
from indexer.pipeline import index_knowledge

from .conftest import FAKE_CONFIGS

pytestmark = pytest.mark.unit


def faq(n: int) -> str:
    entries = "\n".join(f"## Question number {i} about topic {i}?\n<!--\nalso:\n  - Another way to ask {i}\n-->\n\nAnswer {i}.\n" for i in range(n))
    return f"---\nlocale: en\n---\n# FAQ\n\n{entries}"


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path to every scalar in a JSON document (the first item stands for a list's items)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        yield from leaves(value[0], (*path, 0)) if value else iter([path])
    else:
        yield path


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1:] != "0" else "1") if value else "x"
    return ["x"]  # an empty list gains an item


def edit(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    parent = copy
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = changed(parent[path[-1]])
    return copy


@pytest.fixture
def two_builds(write, tmp_path: Path, embedder_for) -> tuple[Path, Path]:
    """A good build with 2 entries, then a newer one with 3 (the one in service)."""
    write("en/faq/a.md", faq(2))
    write("ja/faq/a.md", "---\nlocale: ja\n---\n# 請求\n\n## 請求書をダウンロードするには？\n\n「請求」から PDF をダウンロードします。\n")
    index_knowledge(scan_knowledge(tmp_path / "knowledge"), tmp_path / "index", configs=FAKE_CONFIGS, embedder_for=embedder_for)
    good = store.current_build(tmp_path / "index")
    write("en/faq/a.md", faq(3))
    index_knowledge(scan_knowledge(tmp_path / "knowledge"), tmp_path / "index", configs=FAKE_CONFIGS, embedder_for=embedder_for)
    newest = store.current_build(tmp_path / "index")
    assert newest != good
    return good, newest


def assert_refused_and_good_served(tmp_path: Path, good: Path, newest: Path, what: str) -> None:
    with pytest.raises(store.IndexCorrupt):
        store.load_build(newest)
    served = store.load_index(tmp_path / "index")
    assert served.name == good.name, what
    assert list(served.refused_builds) == [newest.name], what  # why, for the health check
    assert len([entry for entry in served.entries if entry.locale == "en"]) == 2, what


def test_changing_any_field_of_the_manifest_refuses_the_build(two_builds, tmp_path: Path) -> None:
    good, newest = two_builds
    original = (newest / "manifest.json").read_bytes()
    manifest = json.loads(original)
    paths = list(leaves(manifest))
    assert {path[0] for path in paths} == set(manifest)  # every top-level field is exercised
    for path in paths:
        (newest / "manifest.json").write_text(json.dumps(edit(manifest, path), ensure_ascii=False, indent=1), encoding="utf-8")
        assert_refused_and_good_served(tmp_path, good, newest, f"manifest field {path}")
    (newest / "manifest.json").write_bytes(original)
    assert store.load_index(tmp_path / "index").name == newest.name


def test_changing_reformatting_or_adding_any_file_refuses_the_build(two_builds, tmp_path: Path) -> None:
    good, newest = two_builds
    files = sorted(path for path in newest.rglob("*") if path.is_file())
    assert {"manifest.json", "entries.json", "en.faiss", "ja.faiss"} <= {path.name for path in files}
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n")  # even a harmless-looking change
        assert_refused_and_good_served(tmp_path, good, newest, path.name)
        path.write_bytes(original)
    (newest / "en.lexical" / "corpus.jsonl").write_text("{}\n", encoding="utf-8")
    assert_refused_and_good_served(tmp_path, good, newest, "an unlisted file")
