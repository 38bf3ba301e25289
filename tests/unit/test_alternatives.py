"""Writing an accepted phrasing into a FAQ entry's markdown: nothing else may change."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from indexer.alternatives import CannotAdd, add_alternative
from indexer.content import scan_knowledge

pytestmark = pytest.mark.unit
HEAD = "---\ntype: faq\nlocale: en\ntitle: Members\n---\n\n"


def entry_of(root: Path, entry_id: str):
    return next(entry for entry in scan_knowledge(root).entries if entry.id == entry_id)


@pytest.mark.parametrize(
    ("meta", "before"),
    [
        ("<!--\nid: invite\nalso:\n  - Add a teammate\nonboarding_step: invite-teammate\n-->\n", ("Add a teammate",)),
        ("<!--\nid: invite\n-->\n", ()),
        ("", ()),
    ],
)
def test_the_phrasing_joins_the_entry_s_alternatives(tmp_path: Path, meta: str, before: tuple[str, ...]) -> None:
    path = tmp_path / "en" / "faq" / "members.md"
    path.parent.mkdir(parents=True)
    path.write_text(HEAD + "## How do I invite a teammate?\n" + meta + "\nOpen Members.\n", encoding="utf-8")
    path.chmod(0o644)
    entry = next(e for e in scan_knowledge(tmp_path).entries)
    add_alternative(tmp_path, entry, "how to get my coworker: in?")
    after = next(e for e in scan_knowledge(tmp_path).entries if e.title == entry.title)
    assert after.alternatives == (*before, "how to get my coworker: in?") and after.id == entry.id
    assert not scan_knowledge(tmp_path).problems
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # who may read the file does not change


@pytest.mark.parametrize("also", ["also: [Add a teammate, Invite colleagues]", "also: Add a teammate"])
def test_an_inline_list_is_refused_rather_than_replaced(tmp_path: Path, also: str) -> None:
    path = tmp_path / "en" / "faq" / "members.md"
    path.parent.mkdir(parents=True)
    text = HEAD + f"## How do I invite a teammate?\n<!--\nid: invite\n{also}\n-->\n\nOpen Members.\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CannotAdd, match="without changing the others"):
        add_alternative(tmp_path, entry_of(tmp_path, "invite"), "send an invite")
    assert path.read_text(encoding="utf-8") == text
