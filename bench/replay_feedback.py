"""Does learning from use, with writers in control, help? A replay of simulated users.

    python bench/replay_feedback.py

In jiso a user's question becomes a suggested alternative phrasing of a FAQ entry when the user
confirms that entry: "This solved it" on a confident answer, or picking it when jiso asks "Did you
mean…" with two or three choices (bot/suggestions.py). A writer accepts the suggestion and the next
index lists it among the entry's `alternatives`. This bench replays that loop on each dataset:

1. Split the queries deterministically. The judged ones, in file order, alternate: even positions
   are the first half (the simulated users), odd positions the second half (the test). Queries
   without qrels (unanswerable) all go to the second half, so declining is still measured.
2. Baseline: index the corpus with the default configuration and replay the first half. A user
   confirms an entry when jiso answered with confidence and its entry is right, or when jiso asked
   which entry was meant and a right one was among the choices (the user picks it). Simulated users
   never confirm a wrong entry: this is the upper bound of careful users, not what careless ones
   would teach.
3. A writer accepts every suggestion jiso would show: the product's own rules apply (only FAQ
   entries get suggestions, questions longer than MAX_CHARS are skipped, a phrasing the entry
   already has, case, width and spacing aside, is not suggested again). Each accepted question is
   appended to its entry's alternatives and the corpus is indexed again the same way.
4. Both indexes are measured on the second half only, with the default (hybrid) ranking and the
   shipped calibrations. `confirmations` counts what users confirmed; `applied` what became an
   alternative; `exact repeats` counts second-half questions identical (as phrasings) to an applied
   one, which would be a trivial win.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api import runtime  # noqa: E402
from api.settings import Settings  # noqa: E402
from bot.engine import Engine, Policy  # noqa: E402
from bot.evaluation import Collection, indexed, load_beir, measure  # noqa: E402
from bot.suggestions import MAX_CHARS, phrasing_key  # noqa: E402
from indexer.embedder import Embedders  # noqa: E402
from indexer.pipeline import LocaleConfig  # noqa: E402

DATASETS = [ROOT / "bench" / "datasets" / name for name in ("en-heldout", "en-blind", "ja-heldout", "ja-confirmation")]
COLUMNS = ["p@1", "answered_share", "answered_precision", "clarified_share", "reached_correct", "aurc"]
DEPTH = 10  # hits read per question, as `measure` does


@dataclass
class Split:
    first: dict[str, str]  # the simulated users' questions (judged only)
    second: Collection  # the test: the other judged questions and every unanswerable one


@dataclass
class Replay:
    confirmations: list[tuple[str, str]]  # (question, confirmed entry id), in replay order
    answered: int  # confirmed with "This solved it" on a confident answer
    picked: int  # confirmed by picking the entry among the choices


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?")
    return f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def split(collection: Collection) -> Split:
    judged = [qid for qid in collection.queries if qid in collection.qrels]
    first = {qid: collection.queries[qid] for qid in judged[0::2]}
    second_ids = set(judged[1::2]) | {qid for qid in collection.queries if qid not in collection.qrels}
    second_queries = {qid: text for qid, text in collection.queries.items() if qid in second_ids}
    second_qrels = {qid: gold for qid, gold in collection.qrels.items() if qid in second_ids}
    return Split(first, Collection(collection.name, collection.corpus, second_queries, second_qrels))


def replay(engine: Engine, questions: dict[str, str], qrels: dict[str, set[str]]) -> Replay:
    """The first half asked as users would; careful users confirm only a right entry."""
    confirmations: list[tuple[str, str]] = []
    answered = picked = 0
    for qid, text in questions.items():
        gold = qrels[qid]
        locale = engine.locale_of(text)
        hits = engine.search(text, locale, k=DEPTH)
        answer = engine.decide(text, locale, hits)
        if answer.confident and hits[0].entry.id in gold:
            confirmations.append((text, hits[0].entry.id))
            answered += 1
        elif answer.decision == "clarify":
            choice = next((choice.id for choice in answer.choices if choice.id in gold), None)
            if choice is not None:
                confirmations.append((text, choice))
                picked += 1
    return Replay(confirmations, answered, picked)


def accepted(collection: Collection, confirmations: list[tuple[str, str]]) -> tuple[Collection, list[str]]:
    """The corpus with every suggestion jiso would show a writer accepted, and the applied phrasings."""
    by_id = {entry.id: entry for entry in collection.corpus}
    added: dict[str, list[str]] = {}
    applied: list[str] = []
    for question, entry_id in confirmations:
        entry = by_id[entry_id]
        question = question.strip()
        key = phrasing_key(question)
        known = {phrasing_key(text) for text in (entry.title, *entry.alternatives, *added.get(entry_id, []))}
        if entry.kind != "faq" or len(question) > MAX_CHARS or not key or key in known:
            continue
        added.setdefault(entry_id, []).append(question)
        applied.append(question)
    corpus = [replace(entry, alternatives=(*entry.alternatives, *added[entry.id])) if entry.id in added else entry for entry in collection.corpus]
    return Collection(collection.name, corpus, collection.queries, collection.qrels), applied


def row(label: str, result: dict, applied: int) -> str:
    metrics = result["methods"]["hybrid"]
    return f"| {label} | " + " | ".join(f"{metrics[column]:.3f}" for column in COLUMNS) + f" | {applied} |"


def bench(directory: Path, configs: dict[str, LocaleConfig], embedders: Embedders, policy: Policy) -> None:
    collection = load_beir(directory)
    halves = split(collection)
    print(f"### {collection.name}\n", flush=True)
    with indexed(collection, configs=configs, embedder_for=embedders, policy=policy) as engine:
        replayed = replay(engine, halves.first, collection.qrels)
        baseline = measure(halves.second, engine, ("hybrid",))
    learned, applied = accepted(halves.second, replayed.confirmations)
    with indexed(learned, configs=configs, embedder_for=embedders, policy=policy) as engine:
        improved = measure(learned, engine, ("hybrid",))
    unanswerable = len(halves.second.queries) - len(halves.second.qrels)
    repeats = len({phrasing_key(text) for text in halves.second.queries.values()} & {phrasing_key(text) for text in applied})
    print(
        f"{len(collection.corpus)} documents. First half: {len(halves.first)} judged questions replayed, "
        f'{len(replayed.confirmations)} confirmations ({replayed.answered} "This solved it", {replayed.picked} picked among choices), '
        f"{len(applied)} applied as alternatives (FAQ entries only). Second half: {len(halves.second.queries)} questions "
        f"({unanswerable} unanswerable); exact repeats of an applied phrasing: {repeats}.\n"
    )
    print("| index | " + " | ".join(COLUMNS) + " | confirmations applied |\n|" + "---|" * (len(COLUMNS) + 2))
    print(row("baseline", baseline, 0))
    print(row("with suggestions", improved, len(applied)))
    if unanswerable:
        print(f"\nUnanswerable questions declined: baseline {baseline['unanswerable_declined']:.3f}, with suggestions {improved['unanswerable_declined']:.3f}")
    print(flush=True)


def main() -> None:
    print(f"Machine: {machine()}\n")
    settings = Settings()
    embedders = runtime.embedders(settings)
    configs, policy = runtime.locale_configs(settings), runtime.policy(settings)
    for directory in DATASETS:
        bench(directory, configs, embedders, policy)


if __name__ == "__main__":
    main()
