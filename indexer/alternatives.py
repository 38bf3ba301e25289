"""Adding an alternative phrasing to a FAQ entry's markdown, the way a writer would by hand.

The phrasing lands in the entry's `also:` list (a metadata comment is added under the heading if
the entry has none). The file is parsed again before it is written: a change that would make the
file fail `jiso lint` is refused and the file stays as it was.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from pathlib import Path

import yaml

from indexer.documents import Entry
from indexer.parser import parse_document


class CannotAdd(ValueError):
    """The phrasing cannot be added (the entry moved, or the result would not lint)."""


def yaml_item(phrasing: str) -> str:
    """The phrasing as a YAML list item: bare when YAML reads it back unchanged, else JSON-quoted
    (JSON strings are YAML too)."""
    try:
        if yaml.safe_load(f"- {phrasing}") == [phrasing]:
            return phrasing
    except yaml.YAMLError:
        pass
    return json.dumps(phrasing, ensure_ascii=False)


def add_alternative(knowledge_dir: Path, entry: Entry, phrasing: str) -> None:
    path = knowledge_dir / entry.path
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    heading = entry.line_start - 1
    if heading >= len(lines) or lines[heading].strip() != f"## {entry.title}":
        raise CannotAdd(f"{entry.path}:{entry.line_start} no longer holds '{entry.title}': run `jiso index` and try again")
    item = f"  - {yaml_item(phrasing.strip())}\n"
    updated = _with_item(lines, heading, item)
    parsed = parse_document(entry.path, "".join(updated))
    if parsed.problems:
        raise CannotAdd(f"adding {phrasing!r} to {entry.path} would break it: {parsed.problems[0]}")
    expected = (*entry.alternatives, phrasing.strip())
    if not any(e.id == entry.id and e.alternatives == expected for e in parsed.entries):
        # e.g. an inline `also: [a, b]` list, which a second `also:` would silently replace
        raise CannotAdd(f"{entry.path}:{entry.line_start}: cannot add {phrasing!r} to the alternatives of '{entry.id}' without changing the others; add it by hand")
    write_atomically(path, "".join(updated))


def _with_item(lines: list[str], heading: int, item: str) -> list[str]:
    """The file's lines with `item` appended to the entry's `also:` list (made if missing)."""
    start = next((n for n in range(heading + 1, len(lines)) if lines[n].strip()), None)
    if start is None or not lines[start].lstrip().startswith("<!--"):
        return [*lines[: heading + 1], "<!--\n", "also:\n", item, "-->\n", *lines[heading + 1 :]]
    end = next((n for n in range(start, len(lines)) if "-->" in lines[n]), None)
    if end is None:
        raise CannotAdd("the entry's metadata comment is not closed")
    also = next((n for n in range(start, end) if re.match(r"^\s*also:\s*$", lines[n])), None)
    if also is None:
        return [*lines[:end], "also:\n", item, *lines[end:]]
    last = also
    while last + 1 < end and re.match(r"^\s+-\s", lines[last + 1]):
        last += 1
    return [*lines[: last + 1], item, *lines[last + 1 :]]


def write_atomically(path: Path, text: str) -> None:
    """Replace (or create) `path` with `text` in one step: readers see the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.chmod(temporary, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)  # the file keeps who may read it
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
