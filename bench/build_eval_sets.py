"""Build BEIR-layout evaluation sets from the sample knowledge and the hand-written queries.

    python bench/build_eval_sets.py   # writes bench/datasets/{en,ja}-{onboarding,heldout}/

The corpus is every entry the product indexes for that locale (FAQ entries with their
alternative phrasings, manual sections). Queries of the development sets come from
bench/eval-sets/<locale>-onboarding.tsv (paraphrases a new user would type, each with the FAQ
entry that answers it) and <locale>-unanswerable.tsv (questions the knowledge does not answer:
they have no qrels, and the right behaviour is to decline). The held-out sets
(<locale>-heldout.tsv) were written later, by someone who had not seen the development queries
and never ran the system, and are never used to choose a setting. The Japanese confirmation set
(ja-confirmation.tsv) was written last, just as blind, to decide one setting by a rule fixed before
it existed (docs/BENCHMARKS.md). The English blind set (en-blind.tsv, en-blind-unanswerable.tsv) was
written as real new users type (typos, fragments, several asks in one, off-topic) by someone who
had seen neither the system nor any other set, and committed before it was first measured.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from indexer.content import scan_knowledge  # noqa: E402


def build(locale: str, knowledge: Path, out: Path, queries: str, unanswerable: str | None) -> None:
    scan = scan_knowledge(knowledge)
    if scan.problems:
        raise SystemExit("\n".join(map(str, scan.problems)))
    entries = [entry for entry in scan.entries if entry.locale == locale]
    ids = {entry.id for entry in entries}
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for entry in entries:
            doc = {
                "_id": entry.id,
                "title": entry.heading if entry.kind == "manual" else entry.title,
                "text": entry.plain,
                "alternatives": list(entry.alternatives),
                "locale": locale,
                "kind": entry.kind,
            }
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sets = ROOT / "bench" / "eval-sets"
    with (sets / queries).open(encoding="utf-8") as handle:
        answerable = list(csv.DictReader(handle, delimiter="\t"))
    declined: list[dict] = []
    if unanswerable:
        with (sets / unanswerable).open(encoding="utf-8") as handle:
            declined = list(csv.DictReader(handle, delimiter="\t"))
    unknown = sorted({row["entry_id"] for row in answerable} - ids)
    if unknown:
        raise SystemExit(f"{locale}: queries name unknown entries: {', '.join(unknown)}")
    with (out / "queries.jsonl").open("w", encoding="utf-8") as queries, (out / "qrels" / "test.tsv").open("w", encoding="utf-8") as qrels:
        qrels.write("query-id\tcorpus-id\tscore\n")
        for number, row in enumerate(answerable, 1):
            queries.write(json.dumps({"_id": f"{locale}-q{number:04d}", "text": row["query"]}, ensure_ascii=False) + "\n")
            qrels.write(f"{locale}-q{number:04d}\t{row['entry_id']}\t1\n")
        for number, row in enumerate(declined, 1):
            queries.write(json.dumps({"_id": f"{locale}-none{number:03d}", "text": row["query"]}, ensure_ascii=False) + "\n")
    print(f"{out}: {len(entries)} documents, {len(answerable)} answerable + {len(declined)} unanswerable queries")


if __name__ == "__main__":
    for locale in ("en", "ja"):
        build(locale, ROOT / "knowledge", ROOT / "bench" / "datasets" / f"{locale}-onboarding", f"{locale}-onboarding.tsv", f"{locale}-unanswerable.tsv")
        build(locale, ROOT / "knowledge", ROOT / "bench" / "datasets" / f"{locale}-heldout", f"{locale}-heldout.tsv", None)
    build("ja", ROOT / "knowledge", ROOT / "bench" / "datasets" / "ja-confirmation", "ja-confirmation.tsv", None)
    build("en", ROOT / "knowledge", ROOT / "bench" / "datasets" / "en-blind", "en-blind.tsv", "en-blind-unanswerable.tsv")
