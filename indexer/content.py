"""Reading the knowledge directory: every check a writer needs, as `file:line: message` problems.

`jiso lint` prints these problems; the indexer refuses the files that have any and indexes the rest.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from indexer.documents import Entry, Problem, StepReference
from indexer.parser import ParsedDocument, parse_document

DEFAULT_MAX_FILE_BYTES = 1_000_000
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass
class KnowledgeFile:
    path: str  # relative, forward slashes
    checksum: str  # sha256 of the bytes
    document: ParsedDocument | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.problems)

    @property
    def entries(self) -> list[Entry]:
        return [] if self.refused or self.document is None else self.document.entries


@dataclass
class KnowledgeScan:
    files: list[KnowledgeFile]

    @property
    def problems(self) -> list[Problem]:
        return sorted(problem for file in self.files for problem in file.problems)

    @property
    def entries(self) -> list[Entry]:
        return [entry for file in self.files for entry in file.entries]

    @property
    def refused(self) -> list[KnowledgeFile]:
        return [file for file in self.files if file.refused]

    @property
    def step_references(self) -> list[StepReference]:
        """Every onboarding step named, refused files included: lint shows all problems at once."""
        return [reference for file in self.files if file.document is not None for reference in file.document.step_references]


def knowledge_files(root: Path) -> tuple[list[Path], list[Path]]:
    """Markdown files under `root` (except the writers' guide at its top and hidden folders), and
    the files and folders among them that are links resolving outside `root`. A linked folder
    that stays inside `root` is not walked: its files are indexed at their own path."""
    inside = root.resolve()
    found: list[Path] = []
    outside: list[Path] = []
    for directory, folders, names in os.walk(root):
        here = Path(directory)
        for name in list(folders):
            folder = here / name
            if name.startswith(".") or folder.is_symlink():
                folders.remove(name)
                if not name.startswith(".") and not folder.resolve().is_relative_to(inside):
                    outside.append(folder)
        for name in names:
            path = here / name
            relative = path.relative_to(root)
            if not name.endswith(".md") or name.startswith(".") or relative.parts == ("README.md",):
                continue
            if not path.resolve().is_relative_to(inside):
                outside.append(path)
            elif path.is_file():
                found.append(path)
    return sorted(found), sorted(outside)


def outside_link(root: Path, path: Path) -> KnowledgeFile:
    """A file or folder that links outside the knowledge folder: refused, never read."""
    relative = path.relative_to(root).as_posix()
    what = "folder" if path.is_dir() else "file"
    message = f"this {what} is a link to {path.resolve()}, outside the knowledge folder: move or copy the content into the knowledge folder instead of linking to it"
    return KnowledgeFile(relative, "", None, [Problem(relative, 1, message)])


def read_text(path: str, data: bytes, max_bytes: int) -> tuple[str | None, list[Problem]]:
    if len(data) > max_bytes:
        return None, [Problem(path, 1, f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit: split it into smaller pages")]
    if b"\x00" in data:
        return None, [Problem(path, 1, "binary file: knowledge files must be UTF-8 markdown text")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, [Problem(path, line, f"not UTF-8 text: invalid byte 0x{data[error.start]:02x} at offset {error.start}; save the file as UTF-8")]
    return text.removeprefix("\ufeff"), []


def load_file(root: Path, file: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES, locales: tuple[str, ...] = ("en", "ja")) -> KnowledgeFile:
    relative = file.relative_to(root).as_posix()
    data = file.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    text, problems = read_text(relative, data, max_bytes)
    if text is None:
        return KnowledgeFile(relative, checksum, None, problems)
    document = parse_document(relative, text, locales=locales)
    problems = list(document.problems) + _broken_links(root, file, relative, document)
    return KnowledgeFile(relative, checksum, document, problems)


def _broken_links(root: Path, file: Path, relative: str, document: ParsedDocument) -> list[Problem]:
    problems = []
    for line, target in document.links:
        if not target or target.startswith(("#", "/")) or SCHEME.match(target):
            continue
        local = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not local:
            continue
        if not (file.parent / local).exists():
            problems.append(Problem(relative, line, f"broken link: '{target}' does not exist"))
    return problems


def question_key(text: str) -> str:
    """Questions that differ only in case, width, spacing or punctuation are the same question."""
    normalized = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in normalized if ch.isalnum())


def scan_knowledge(root: Path, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES, locales: tuple[str, ...] = ("en", "ja")) -> KnowledgeScan:
    found, outside = knowledge_files(root)
    files = [load_file(root, path, max_bytes=max_bytes, locales=locales) for path in found]
    _check_duplicates(files)
    return KnowledgeScan(sorted([*files, *(outside_link(root, path) for path in outside)], key=lambda file: Path(file.path)))


def _check_duplicates(files: list[KnowledgeFile]) -> None:
    """A duplicate id or question refuses the later file (in path order), never the first."""
    seen_ids: dict[str, Entry] = {}
    seen_questions: dict[tuple[str, str], Entry] = {}
    for file in files:
        if file.document is None:
            continue
        problems = []
        for entry in file.document.entries:
            first = seen_ids.get(entry.id)
            if first is not None:
                problems.append(Problem(file.path, entry.line_start, f"duplicate id '{entry.id}': already used at {first.path}:{first.line_start}"))
            else:
                seen_ids[entry.id] = entry
            if entry.kind != "faq":
                continue
            key = (entry.locale, question_key(entry.title))
            first = seen_questions.get(key)
            if first is not None:
                problems.append(Problem(file.path, entry.line_start, f"duplicate question '{entry.title}': already asked at {first.path}:{first.line_start}"))
            else:
                seen_questions[key] = entry
        file.problems.extend(problems)
