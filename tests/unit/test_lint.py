from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from indexer.content import scan_knowledge

pytestmark = pytest.mark.unit

GOOD = "---\nlocale: en\n---\n# FAQ\n\n## How do I log in?\n<!--\nid: log-in\n-->\n\nUse your email. See [the guide](../manual/guide.md).\n"


def test_lint_reports_each_problem_with_file_and_line(write, tmp_path: Path) -> None:
    write("en/manual/guide.md", "# Guide\n\nHello.\n\n![diagram](../../assets/missing.png)\n")
    write("en/faq/a.md", GOOD)
    write("en/faq/b.md", "---\nlocale: en\n---\n## How do I log in?\n\nAgain.\n\n## Other?\n<!--\nid: log-in\n-->\n\nText.\n")
    write("en/faq/c.md", "## Q?\n\nbad byte \xff".encode("latin-1"))
    write("en/faq/d.md", b"\x89PNG\r\n\x1a\n\x00\x00")
    write("en/faq/e.md", "## Big?\n\n" + "x" * 2000)
    scan = scan_knowledge(tmp_path / "knowledge", max_bytes=1000)
    assert [str(p) for p in scan.problems] == [
        "en/faq/b.md:4: duplicate question 'How do I log in?': already asked at en/faq/a.md:6",
        "en/faq/b.md:8: duplicate id 'log-in': already used at en/faq/a.md:6",
        "en/faq/c.md:3: not UTF-8 text: invalid byte 0xff at offset 16; save the file as UTF-8",
        "en/faq/d.md:1: binary file: knowledge files must be UTF-8 markdown text",
        "en/faq/e.md:1: file is 2,009 bytes, over the 1,000-byte limit: split it into smaller pages",
        "en/manual/guide.md:5: broken link: '../../assets/missing.png' does not exist",
    ]
    assert [f.path for f in scan.files if not f.refused] == ["en/faq/a.md"]
    assert [e.id for e in scan.entries] == ["log-in"]


def test_lint_command_exits_1_on_problems_and_0_when_clean(write, tmp_path: Path) -> None:
    write("en/faq/a.md", GOOD)
    write("en/manual/guide.md", "# Guide\n\nHello.\n")
    runner = CliRunner()
    clean = runner.invoke(app, ["lint", str(tmp_path / "knowledge")])
    assert clean.exit_code == 0, clean.output
    write("en/faq/broken.md", "---\nlocale: xx\n---\n## Q?\n\nA.\n")
    dirty = runner.invoke(app, ["lint", str(tmp_path / "knowledge")])
    assert dirty.exit_code == 1
    assert "en/faq/broken.md:2: unknown locale 'xx' (known: en, ja)" in dirty.output


def test_the_writers_guide_at_the_top_is_not_content(write, tmp_path: Path) -> None:
    write("README.md", "# How to write\n\n## Not a question\n")
    write("en/faq/a.md", GOOD)
    write("en/manual/guide.md", "# Guide\n\nHello.\n")
    scan = scan_knowledge(tmp_path / "knowledge")
    assert [f.path for f in scan.files] == ["en/faq/a.md", "en/manual/guide.md"]


def test_files_and_folders_linked_from_outside_the_knowledge_folder_are_refused(write, tmp_path: Path, embedder_for) -> None:
    from indexer.pipeline import index_knowledge

    from .conftest import FAKE_CONFIGS

    write("en/faq/a.md", GOOD)
    write("en/manual/guide.md", "# Guide\n\nHello.\n")
    outside = tmp_path / "outside"
    (outside / "faq").mkdir(parents=True)
    (outside / "secret.md").write_text("---\nlocale: en\n---\n## What is the root password?\n\nhunter2\n", encoding="utf-8")
    (outside / "faq" / "more.md").write_text("---\nlocale: en\n---\n## Another secret?\n\nYes.\n", encoding="utf-8")
    knowledge = tmp_path / "knowledge"
    (knowledge / "en" / "faq" / "secret.md").symlink_to(outside / "secret.md")
    (knowledge / "ja" / "faq").mkdir(parents=True)
    (knowledge / "ja" / "faq" / "more").symlink_to(outside / "faq")
    (knowledge / "en" / "manual" / "alias.md").symlink_to(knowledge / "en" / "manual" / "guide.md")  # inside: fine
    (knowledge / "en" / "again").symlink_to(knowledge / "en")  # a folder linked inside: not walked twice

    scan = scan_knowledge(knowledge)
    assert [str(p) for p in scan.problems] == [
        f"en/faq/secret.md:1: this file is a link to {(outside / 'secret.md').resolve()}, outside the knowledge folder: move or copy the content into the knowledge folder instead of linking to it",
        f"ja/faq/more:1: this folder is a link to {(outside / 'faq').resolve()}, outside the knowledge folder: move or copy the content into the knowledge folder instead of linking to it",
    ]
    assert sorted(file.path for file in scan.files if not file.refused) == ["en/faq/a.md", "en/manual/alias.md", "en/manual/guide.md"]

    result = CliRunner().invoke(app, ["lint", str(knowledge)])
    assert result.exit_code == 1 and "en/faq/secret.md:1: this file is a link to" in result.output

    report = index_knowledge(scan, tmp_path / "index", configs=FAKE_CONFIGS, embedder_for=embedder_for)
    assert report.refused_files == ["en/faq/secret.md", "ja/faq/more"]
    from indexer import store

    assert not any("secret" in entry.plain or "hunter2" in entry.body for entry in store.load_index(tmp_path / "index").entries)


CHECKLIST = "steps:\n  - id: invite-members\n    title: {en: Invite}\n    events: [member.invited]\n    required: true\n"
FRONT = "---\nlocale: en\ntitle: {title}\nowner: cs@example.com\nreviewed: 2026-10-15\n---\n"


def test_lint_prints_every_problem_at_once_each_at_its_own_line(write, tmp_path: Path) -> None:
    write("onboarding.yml", CHECKLIST)
    write("en/manual/guide.md", "# Guide\n\nHello.\n")
    # A broken link used to hide the invalid step, which was reported at the first heading.
    write("en/faq/a.md", FRONT.format(title="A").replace("reviewed:", "onboarding_step: bogus-step\nreviewed:") + "# A\n\n## How do I log in?\n\nSee [the guide](../manual/nope.md).\n")
    write("en/faq/b.md", FRONT.format(title="B").replace("title: B\n", "title: B\ntags: [a, b\n") + "## Why?\n\nBecause.\n")
    write("en/faq/c.md", FRONT.format(title="C").replace("2026-10-15", "2026-13-45") + "## When?\n\nNow.\n")
    write("en/faq/d.md", FRONT.format(title="D").replace("2026-10-15", "last week") + "## Who?\n\nMe.\n")
    write("en/faq/e.md", "## Where?\n\nHere.\n")
    write("en/faq/f.md", FRONT.format(title="F").replace("owner:", "audience: aliens\nowner:") + "## Which?\n<!--\nid: which\nonboarding_step: nope\n-->\n\nThat.\n")
    result = CliRunner().invoke(app, ["lint", str(tmp_path / "knowledge")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "en/faq/a.md:5: onboarding_step 'bogus-step' is not a step of onboarding.yml (invite-members)",
        "en/faq/a.md:12: broken link: '../manual/nope.md' does not exist",
        "en/faq/b.md:4: broken front matter: the list opened on this line is not closed (expected ',' or ']', but got ':')",
        "en/faq/c.md:5: 'reviewed' must be a date written YYYY-MM-DD, e.g. 2026-10-15; got '2026-13-45'",
        "en/faq/d.md:5: 'reviewed' must be a date written YYYY-MM-DD, e.g. 2026-10-15; got 'last week'",
        "en/faq/e.md:1: FAQ file has no front matter: start it with a '---' block giving its title, locale, owner and reviewed date (see knowledge/README.md › Front matter)",
        "en/faq/f.md:4: unknown audience 'aliens' (known: admin, member, everyone)",
        "en/faq/f.md:11: onboarding_step 'nope' is not a step of onboarding.yml (invite-members)",
    ]
