"""Incremental indexing: embed only entries whose content changed, publish atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import store
from indexer.content import KnowledgeScan, question_key
from indexer.documents import PASSAGE_ROLES, Entry, Passage, Problem
from indexer.embedder import Embedder, companion_key
from indexer.lexical import load_tokenizer

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class LocaleConfig:
    model: str
    lexical: str
    companion: str | None = None  # a second model whose ranking is fused with the first


@dataclass
class BuildReport:
    added: int = 0
    changed: int = 0
    removed: int = 0
    skipped: int = 0  # unchanged entries whose vectors were reused
    embedded_passages: int = 0
    refused: list[Problem] = field(default_factory=list)
    refused_files: list[str] = field(default_factory=list)
    kept_files: list[str] = field(default_factory=list)  # refused, but their previous version stays in service
    build: str | None = None
    published: bool = False
    seconds: float = 0.0

    @property
    def embedded_entries(self) -> int:
        return self.added + self.changed

    def refusals(self) -> list[str]:
        """One line per problem of a refused file, saying what is served instead."""
        return [f"refused {problem} ({self._fate(problem.path)})" for problem in self.refused]

    def _fate(self, path: str) -> str:
        return "its previous version stays in service" if path in self.kept_files else "not indexed: there is no previous version to keep"

    def summary(self) -> str:
        line = f"{self.added} added, {self.changed} changed, {self.removed} removed, {self.skipped} skipped (unchanged); {len(self.refused_files)} file(s) refused"
        if self.kept_files:
            line += f" ({len(self.kept_files)} kept at their previous version)"
        if not self.published:
            line += "; nothing changed, the index in service stays"
        return line + (f" in {self.seconds:.1f}s" if self.seconds else "")


def _previous_build(index_dir: Path) -> store.KnowledgeIndex | None:
    """The build in service, loaded and verified once; None when there is none to reuse."""
    try:
        return store.load_index(index_dir)
    except store.IndexUnavailable as error:
        if not isinstance(error, store.IndexMissing):
            log.warning("previous index unusable, re-embedding everything: %s", error)
        return None


def _reusable_vectors(previous: store.KnowledgeIndex | None) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{locale: {model: {content_hash: passage vectors}}} of the previous build."""
    reusable: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for locale, index in (previous.locales if previous else {}).items():
        # Passages are stored entry by entry, in order: split the rows at each entry's first row.
        starts = np.searchsorted(index.passage_entry, np.arange(len(index.entries)))
        by_model = {index.model: index.matrix}  # views: `previous` stays loaded for the whole build
        if index.companion is not None and index.companion_matrix is not None:
            by_model[index.companion] = index.companion_matrix
        reusable[locale] = {model: {entry.content_hash: block for entry, block in zip(index.entries, np.split(every, starts[1:]))} for model, every in by_model.items()}
    return reusable


def _vectors(
    stage: str, entries: list[Entry], passages: list[list[Passage]], reusable: dict[str, np.ndarray], embedder: Embedder, batch_size: int, progress: Progress | None
) -> tuple[np.ndarray, set[int]]:
    """Every passage vector of one model, reusing unchanged entries' vectors; and the positions
    of the entries that had to be embedded."""
    vectors: list[np.ndarray | None] = []
    to_embed: list[tuple[int, list[Passage]]] = []
    for position, entry in enumerate(entries):
        cached = reusable.get(entry.content_hash)
        if cached is not None and len(cached) == len(passages[position]):
            vectors.append(cached)
        else:
            vectors.append(None)
            to_embed.append((position, passages[position]))
    if to_embed:
        for position, block in _embed(embedder, to_embed, batch_size, stage, progress):
            vectors[position] = block
    return np.vstack(vectors), {position for position, _ in to_embed}


def _embed(embedder: Embedder, entries: list[tuple[int, list[Passage]]], batch_size: int, stage: str, progress: Progress | None) -> Iterable[tuple[int, np.ndarray]]:
    """Vectors of each (position, passages), in passage order. Questions are embedded as
    queries: a user's question is matched against them like with like (e5's "query: " on both
    sides); content and sentences as documents."""
    passages = [(position, row, passage) for position, texts in entries for row, passage in enumerate(texts)]
    blocks = {position: np.zeros((len(texts), embedder.dimensions), np.float32) for position, texts in entries}
    done = 0
    for as_query in (True, False):
        todo = [item for item in passages if (item[2].role == "question") == as_query]
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            texts = [passage.text for _, _, passage in batch]
            rows = embedder.embed_queries(texts) if as_query else embedder.embed_passages(texts)
            for (position, row, _), vector in zip(batch, rows):
                blocks[position][row] = vector
            done += len(batch)
            if progress:
                progress(stage, done, len(passages))
    return blocks.items()


def build_index(
    entries: Iterable[Entry],
    index_dir: Path,
    *,
    configs: Mapping[str, LocaleConfig],
    embedder_for: Callable[[str], Embedder],
    files: Mapping[str, str] | None = None,
    refused: Iterable[Problem] = (),
    full: bool = False,
    progress: Progress | None = None,
    batch_size: int = 256,
) -> BuildReport:
    """Index `entries` into `index_dir`, reusing the vectors of unchanged entries unless `full`.
    A refused file (a path in `refused`) keeps the entries of its previous version."""
    started = time.perf_counter()
    report = BuildReport(refused=sorted(refused))
    report.refused_files = sorted({problem.path for problem in report.refused})
    in_service = _previous_build(index_dir) if report.refused_files or not full else None
    entries = list(entries)
    files = dict(files or {})
    if in_service is not None and report.refused_files:
        kept_entries, kept_files = _kept_in_service(in_service, report.refused_files, entries)
        entries += kept_entries
        files.update(kept_files)
        report.kept_files = [path for path in report.refused_files if any(_within(file, path) for file in kept_files)]
    previous = None if full else in_service  # what vectors are reused from and changes counted against
    reusable_by_locale = _reusable_vectors(previous)
    previous_ids = {entry.id for entry in previous.entries} if previous else set()

    by_locale: dict[str, list[Entry]] = {}
    for entry in entries:
        by_locale.setdefault(entry.locale, []).append(entry)
    unknown = sorted(set(by_locale) - set(configs))
    if unknown:
        raise ValueError(f"no model configured for locale(s) {', '.join(unknown)}")

    builds: dict[str, store.LocaleBuild] = {}
    current_ids: set[str] = set()
    for locale, locale_entries in sorted(by_locale.items()):
        config = configs[locale]
        reusable = reusable_by_locale.get(locale, {})
        passages = [entry.passages() for entry in locale_entries]  # sentence splitting: once per entry
        current_ids.update(entry.id for entry in locale_entries)
        vectors, embedded = _vectors(f"embedding {locale}", locale_entries, passages, reusable.get(config.model, {}), embedder_for(locale), batch_size, progress)
        companion_vectors = None
        if config.companion is not None:
            stage, embedder = f"embedding {locale} ({config.companion})", embedder_for(companion_key(locale))
            companion_vectors, also_embedded = _vectors(stage, locale_entries, passages, reusable.get(config.companion, {}), embedder, batch_size, progress)
            embedded |= also_embedded
        for position, entry in enumerate(locale_entries):
            if position not in embedded:
                report.skipped += 1
            elif entry.id not in previous_ids:
                report.added += 1
            else:
                report.changed += 1
        report.embedded_passages += sum(len(passages[position]) for position in embedded)
        passage_entry = [position for position, texts in enumerate(passages) for _ in range(len(texts))]
        passage_role = [PASSAGE_ROLES.index(passage.role) for texts in passages for passage in texts]
        builds[locale] = store.LocaleBuild(
            model=config.model,
            lexical_name=config.lexical,
            entries=locale_entries,
            passage_entry=passage_entry,
            passage_role=passage_role,
            vectors=vectors,
            tokenizer=load_tokenizer(config.lexical),
            companion=config.companion,
            companion_vectors=companion_vectors,
        )
    report.removed = len(previous_ids - current_ids)
    if previous is not None and _unchanged(index_dir, previous, report, builds, files):
        report.seconds = time.perf_counter() - started
        return report  # the build in service already holds exactly this content

    build = store.write_build(index_dir, builds, files)
    report.build = build.name
    try:
        store.load_build(build)  # a build that does not load back is never published
    except Exception:
        store.discard(build)
        raise
    store.publish(index_dir, build)
    report.published = True
    report.seconds = time.perf_counter() - started
    return report


def _within(path: str, refused: str) -> bool:
    """`path` is the refused file, or inside the refused folder."""
    return path == refused or path.startswith(f"{refused}/")


def _kept_in_service(in_service: store.KnowledgeIndex, refused_files: list[str], accepted: list[Entry]) -> tuple[list[Entry], dict[str, str]]:
    """The entries and file checksums of the version in service of each refused file: one
    mistake must not take a file's live answers offline. An entry whose id or question an
    accepted file now holds gives way to it, so a build never holds the same id twice."""
    taken_ids = {entry.id for entry in accepted}
    taken_questions = {(entry.locale, question_key(entry.title)) for entry in accepted if entry.kind == "faq"}
    kept = [
        entry
        for entry in in_service.entries
        if any(_within(entry.path, refused) for refused in refused_files) and entry.id not in taken_ids and not (entry.kind == "faq" and (entry.locale, question_key(entry.title)) in taken_questions)
    ]
    files = {path: checksum for path, checksum in in_service.manifest["files"].items() if any(_within(path, refused) for refused in refused_files)}
    return kept, files


def _unchanged(index_dir: Path, previous: store.KnowledgeIndex, report: BuildReport, builds: Mapping[str, store.LocaleBuild], files: Mapping[str, str]) -> bool:
    """True when the build in service (verified on load, and not a fallback for a damaged
    newer one) already holds exactly this content."""
    if report.added or report.changed or report.removed:
        return False
    current = store.current_build(index_dir)
    if current is None or current.name != previous.name:
        return False
    manifest = previous.manifest
    in_service = {locale: (info["model"], (info.get("companion") or {}).get("model"), info["lexical"], list(info["entry_hashes"])) for locale, info in manifest["locales"].items()}
    wanted = {locale: (b.model, b.companion, b.lexical_name, [entry.id for entry in b.entries]) for locale, b in builds.items()}
    return in_service == wanted and manifest["files"] == dict(files)


def index_knowledge(
    scan: KnowledgeScan,
    index_dir: Path,
    *,
    configs: Mapping[str, LocaleConfig],
    embedder_for: Callable[[str], Embedder],
    full: bool = False,
    progress: Progress | None = None,
) -> BuildReport:
    """Index what a scan of the knowledge directory accepted; a refused file is reported and its
    previous version, if any, stays in service."""
    files = {file.path: file.checksum for file in scan.files if not file.refused}
    return build_index(
        scan.entries,
        index_dir,
        configs=configs,
        embedder_for=embedder_for,
        files=files,
        refused=scan.problems,
        full=full,
        progress=progress,
    )
