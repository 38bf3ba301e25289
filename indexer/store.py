"""The index on disk: versioned build folders, a manifest of checksums, an atomic CURRENT pointer.

index_dir/
  CURRENT                 name of the build in service (replaced atomically)
  builds/<time>-<sha256>/ manifest.json, entries.json, <locale>.faiss, <locale>.lexical/,
                          and <locale>.companion.faiss where a locale ranks with a second model
A build is written to a temporary folder, fsynced, verified, and only then published. The build's
name ends with the SHA-256 of its manifest, and the manifest lists the SHA-256 of every other
file: loading checks both, so no byte the loader reads goes unverified. Nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer.documents import Entry
from indexer.lexical import LexicalIndex, Tokenizer, load_tokenizer

FORMAT_VERSION = 3  # 2: passages carry a role (question, content, sentence); 3: the name covers the manifest
KEEP_BUILDS = 3
MANIFEST = "manifest.json"
log = logging.getLogger(__name__)


class IndexUnavailable(Exception):
    """The index is missing or does not pass verification."""


class IndexMissing(IndexUnavailable):
    pass


class IndexCorrupt(IndexUnavailable):
    pass


@dataclass
class LocaleIndex:
    locale: str
    model: str
    dimensions: int
    lexical_name: str
    entries: list[Entry]
    passage_entry: np.ndarray  # passage row → position in `entries`
    passage_role: np.ndarray  # passage row → index into PASSAGE_ROLES
    vectors: faiss.Index
    lexical: LexicalIndex
    companion: str | None = None  # the second model the locale ranks with, if any
    companion_vectors: faiss.Index | None = None  # the same passages, embedded by the companion

    @property
    def matrix(self) -> np.ndarray:
        """Every passage vector, a read-only view of the FAISS index's own storage (no copy)."""
        return _view(self.vectors)

    @property
    def companion_matrix(self) -> np.ndarray | None:
        return _view(self.companion_vectors) if self.companion_vectors is not None else None

    @cached_property
    def faq_mask(self) -> np.ndarray:
        """1.0 for each curated FAQ entry, 0.0 for manual sections (built once, not per question)."""
        return np.fromiter((entry.kind == "faq" for entry in self.entries), dtype=np.float32, count=len(self.entries))


def _view(vectors: faiss.Index) -> np.ndarray:
    view = faiss.rev_swig_ptr(vectors.get_xb(), vectors.ntotal * vectors.d).reshape(vectors.ntotal, vectors.d)
    view.flags.writeable = False
    return view


@dataclass
class KnowledgeIndex:
    name: str
    path: Path
    manifest: dict[str, Any]
    locales: dict[str, LocaleIndex]
    # Newer builds refused on the way to this one: name → why (for the health check and logs).
    refused_builds: dict[str, str] = field(default_factory=dict)
    fallback_reason: str | None = None  # set when this build is served because CURRENT's was refused

    @property
    def entries(self) -> list[Entry]:
        return [entry for index in self.locales.values() for entry in index.entries]


@dataclass
class LocaleBuild:
    """What the pipeline hands the store for one locale."""

    model: str
    lexical_name: str
    entries: list[Entry]
    passage_entry: list[int]
    passage_role: list[int]
    vectors: np.ndarray
    tokenizer: Tokenizer
    companion: str | None = None
    companion_vectors: np.ndarray | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for directory in [*(p for p in root.rglob("*") if p.is_dir()), root]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_build(index_dir: Path, locales: dict[str, LocaleBuild], files: dict[str, str]) -> Path:
    """Write a complete build next to the live one and return its folder (not yet published)."""
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    staging = builds / f".tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        entries_json = {locale: [entry.to_json() for entry in build.entries] for locale, build in locales.items()}
        (staging / "entries.json").write_text(json.dumps(entries_json, ensure_ascii=False), encoding="utf-8")
        locale_manifest = {}
        for locale, build in locales.items():
            vectors = _write_vectors(build.vectors, staging / f"{locale}.faiss")
            LexicalIndex.build([entry.lexical_text() for entry in build.entries], build.tokenizer).save(staging / f"{locale}.lexical")
            locale_manifest[locale] = {
                "model": build.model,
                "dimensions": int(vectors.shape[1]),
                "lexical": build.lexical_name,
                "entries": len(build.entries),
                "entry_hashes": {entry.id: entry.content_hash for entry in build.entries},
                "passage_entry": list(map(int, build.passage_entry)),
                "passage_role": list(map(int, build.passage_role)),
            }
            if build.companion is not None and build.companion_vectors is not None:
                companion = _write_vectors(build.companion_vectors, staging / f"{locale}.companion.faiss")
                locale_manifest[locale]["companion"] = {"model": build.companion, "dimensions": int(companion.shape[1])}
        checksums = {p.relative_to(staging).as_posix(): _sha256(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        manifest = {
            "format": FORMAT_VERSION,
            "built_at": datetime.now(timezone.utc).isoformat(),
            "locales": locale_manifest,
            "files": files,
            "checksums": checksums,
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        (staging / MANIFEST).write_bytes(manifest_bytes)
        _fsync_tree(staging)
        final = builds / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%f}-{hashlib.sha256(manifest_bytes).hexdigest()}"
        staging.rename(final)
        _fsync_dir(builds)
        return final
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_vectors(vectors: np.ndarray, path: Path) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    faiss.write_index(index, str(path))
    return vectors


def publish(index_dir: Path, build: Path) -> None:
    """Point CURRENT at `build` atomically, then drop old builds."""
    pointer = index_dir / "CURRENT"
    temporary = index_dir / f".CURRENT.{uuid.uuid4().hex}"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(build.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, pointer)
    _fsync_dir(index_dir)
    _prune(index_dir, keep=build.name)


def _prune(index_dir: Path, keep: str) -> None:
    builds = sorted((p for p in (index_dir / "builds").iterdir() if p.is_dir()), key=lambda p: p.name)
    stale = [p for p in builds if p.name.startswith(".tmp-")] + [p for p in builds if not p.name.startswith(".tmp-") and p.name != keep][: -(KEEP_BUILDS - 1) or None]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)


def discard(build: Path) -> None:
    shutil.rmtree(build, ignore_errors=True)


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    return index_dir / "builds" / pointer.read_text(encoding="utf-8").strip()


def manifest_digest(build: Path) -> str:
    """The SHA-256 of its manifest that a build's name ends with."""
    return build.name.rsplit("-", 1)[-1]


def read_manifest(build: Path) -> dict[str, Any]:
    """The manifest, once its bytes match the digest in the build's name."""
    try:
        data = (build / MANIFEST).read_bytes()
    except OSError as error:
        raise IndexCorrupt(f"{build}: unreadable manifest ({error})") from error
    if hashlib.sha256(data).hexdigest() != manifest_digest(build):
        raise IndexCorrupt(f"{build}: {MANIFEST} does not match the checksum in the build's name (the file was changed or damaged, or the build predates format {FORMAT_VERSION}); run `jiso index`")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except ValueError as error:
        raise IndexCorrupt(f"{build}: unreadable manifest ({error})") from error
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexCorrupt(f"{build}: index format {manifest.get('format')!r}, expected {FORMAT_VERSION}; run `jiso index --full`")
    return manifest


def verify(build: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists matches its checksum, and there is no file it does not list
    (a library's optional file, read if present, would otherwise escape verification)."""
    listed = set(manifest["checksums"])
    for path in sorted(build.rglob("*")):
        name = path.relative_to(build).as_posix()
        if path.is_file() and name != MANIFEST and name not in listed:
            raise IndexCorrupt(f"{build}: {name} is not listed in the manifest")
    for name, expected in manifest["checksums"].items():
        path = build / name
        if not path.is_file():
            raise IndexCorrupt(f"{build}: {name} is missing")
        if _sha256(path) != expected:
            raise IndexCorrupt(f"{build}: {name} does not match its checksum (the file was changed or damaged)")


def load_build(build: Path) -> KnowledgeIndex:
    manifest = read_manifest(build)
    verify(build, manifest)
    entries_json = json.loads((build / "entries.json").read_text(encoding="utf-8"))
    locales: dict[str, LocaleIndex] = {}
    for locale, info in manifest["locales"].items():
        vectors = faiss.read_index(str(build / f"{locale}.faiss"))
        passage_entry = np.asarray(info["passage_entry"], dtype=np.int64)
        passage_role = np.asarray(info["passage_role"], dtype=np.int8)
        if vectors.ntotal != len(passage_entry) or vectors.ntotal != len(passage_role) or vectors.d != info["dimensions"]:
            raise IndexCorrupt(f"{build}: {locale}.faiss holds {vectors.ntotal}×{vectors.d} vectors, the manifest says {len(passage_entry)}×{info['dimensions']}")
        companion = info.get("companion")
        companion_vectors = faiss.read_index(str(build / f"{locale}.companion.faiss")) if companion else None
        if companion_vectors is not None and (companion_vectors.ntotal != len(passage_entry) or companion_vectors.d != companion["dimensions"]):
            raise IndexCorrupt(f"{build}: {locale}.companion.faiss holds {companion_vectors.ntotal}×{companion_vectors.d} vectors, the manifest says {len(passage_entry)}×{companion['dimensions']}")
        locales[locale] = LocaleIndex(
            locale=locale,
            model=info["model"],
            dimensions=info["dimensions"],
            lexical_name=info["lexical"],
            entries=[Entry.from_json(data) for data in entries_json[locale]],
            passage_entry=passage_entry,
            passage_role=passage_role,
            vectors=vectors,
            lexical=LexicalIndex.load(build / f"{locale}.lexical", load_tokenizer(info["lexical"])),
            companion=companion["model"] if companion else None,
            companion_vectors=companion_vectors,
        )
    return KnowledgeIndex(build.name, build, manifest, locales)


def load_index(index_dir: Path) -> KnowledgeIndex:
    """The build CURRENT names; if it fails verification, the newest older build that passes."""
    current = current_build(index_dir)
    if current is None:
        raise IndexMissing(f"no index in {index_dir}: run `jiso index` first")
    try:
        return load_build(current)
    except (IndexCorrupt, OSError, RuntimeError) as error:
        log.error("index build %s rejected: %s", current.name, error)
        refused = {current.name: str(error)}
        older = sorted((p for p in (index_dir / "builds").iterdir() if p.is_dir() and not p.name.startswith(".") and p.name < current.name), reverse=True)
        for build in older:
            try:
                index = load_build(build)
            except (IndexCorrupt, OSError, RuntimeError) as older_error:
                log.error("index build %s rejected: %s", build.name, older_error)
                refused[build.name] = str(older_error)
                continue
            log.warning("serving the last good index build %s instead", build.name)
            index.refused_builds = refused
            index.fallback_reason = f"index build {current.name} refused ({error}); serving the last good build {build.name}"
            return index
        raise IndexCorrupt(str(error)) from error
