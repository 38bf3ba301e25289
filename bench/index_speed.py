"""Indexing cost: a full build of a large knowledge base vs reindexing after one file changed.

    python bench/index_speed.py [FILES] [ENTRIES_PER_FILE]      # default 100 × 20 = 2,000 entries

Generates English FAQ files (seeded), indexes them with the default configuration, edits one
answer in one file, reindexes, and prints the times, the number of entries embedded each time,
and the ratio of the two — all measured in the same run.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import runtime  # noqa: E402
from api.settings import Settings  # noqa: E402
from indexer.pipeline import index_knowledge  # noqa: E402

WORDS = "account workspace project task board invite member role admin guest billing invoice plan seat export import csv slack calendar sso saml scim notification email digest reminder due date comment attachment token api webhook password login domain".split()


def faq_file(rng: random.Random, number: int, entries: int) -> str:
    lines = ["---", "locale: en", f"title: Generated topic {number}", "---", f"# Generated topic {number}", ""]
    for entry in range(entries):
        topic = " ".join(rng.sample(WORDS, 4))
        lines += [f"## How do I handle {topic} case {number}-{entry}?", "", " ".join(rng.choices(WORDS, k=60)) + ".", ""]
    return "\n".join(lines)


def main(files: int, per_file: int) -> None:
    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as scratch:
        knowledge = Path(scratch) / "knowledge" / "en" / "faq"
        knowledge.mkdir(parents=True)
        for number in range(files):
            (knowledge / f"topic-{number:04d}.md").write_text(faq_file(rng, number, per_file), encoding="utf-8")
        settings = Settings(knowledge_dir=Path(scratch) / "knowledge", index_dir=Path(scratch) / "index", locales=["en"])
        embedders = runtime.embedders(settings)
        embedders("en")  # load the model outside the timings

        def run() -> tuple[float, object]:
            started = time.perf_counter()
            report = index_knowledge(runtime.scan(settings), settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=embedders)
            return time.perf_counter() - started, report

        full_seconds, full = run()
        unchanged_seconds, unchanged = run()
        edited = knowledge / "topic-0007.md"
        edited.write_text(edited.read_text(encoding="utf-8").replace(".\n", ". Edited.\n", 1), encoding="utf-8")
        one_seconds, one = run()
    print(f"knowledge: {files} files × {per_file} entries = {files * per_file} entries")
    print("| run | seconds | entries embedded | summary |\n|---|---|---|---|")
    print(f"| full build | {full_seconds:.1f} | {full.embedded_entries} | {full.summary()} |")
    print(f"| nothing changed | {unchanged_seconds:.1f} | {unchanged.embedded_entries} | {unchanged.summary()} |")
    print(f"| one answer edited | {one_seconds:.1f} | {one.embedded_entries} | {one.summary()} |")
    print(f"one-edit reindex / full build: {one_seconds / full_seconds:.3f}×")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
