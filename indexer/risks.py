"""Content risks that are not errors: what makes jiso answer wrong, or not at all, in a locale.

- A FAQ entry with no translation twin leaves users of the other locale with a near miss (a
  Japanese user asking how to create a project got project visibility).
- Two entries whose phrasings are closer to each other than to their own entry steal each other's
  questions: jiso cannot tell them apart, so it answers the wrong one or has to ask.
Both are warnings for writers (`jiso lint`); neither blocks indexing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.documents import PASSAGE_ROLES, Entry, Problem
from indexer.store import KnowledgeIndex

QUESTION = PASSAGE_ROLES.index("question")
SENTENCE = PASSAGE_ROLES.index("sentence")


def twin_key(entry: Entry) -> str:
    """What an entry and its translations share: `translation_of`, else the id without a locale prefix."""
    explicit = entry.meta.get("translation_of")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()
    prefix = f"{entry.locale}-"
    return entry.id.removeprefix(prefix)


def missing_twins(entries: list[Entry], locales: tuple[str, ...]) -> list[Problem]:
    """A warning for each FAQ entry that has no entry with the same twin key in another locale."""
    faq = [entry for entry in entries if entry.kind == "faq"]
    present = {(entry.locale, twin_key(entry)) for entry in faq}
    in_use = {entry.locale for entry in faq}
    problems = []
    for entry in faq:
        for other in sorted(in_use & set(locales) - {entry.locale}):
            if (other, twin_key(entry)) not in present:
                expected = f"{other}-{twin_key(entry)}" if other != "en" else twin_key(entry)
                problems.append(Problem(entry.path, entry.line_start, f"warning: '{entry.id}' has no {other} translation (no entry with id '{expected}' or translation_of: {twin_key(entry)})"))
    return problems


@dataclass(frozen=True)
class Stolen:
    phrasing: str
    owner: Entry
    thief: Entry
    own: float  # cosine to the owner's closest other passage
    stolen: float  # cosine to the thief's closest passage


def stolen_phrasings(index: KnowledgeIndex, chunk: int = 1024) -> list[Stolen]:
    """Each question phrasing (FAQ heading or alternative) that is closer to another entry's
    question or whole text than to any other passage of its own entry. Compared in chunks of
    phrasings, so memory stays at `chunk` × passages whatever the size of the knowledge."""
    found = []
    for locale_index in index.locales.values():
        matrix = np.asarray(locale_index.matrix)
        owners, roles = locale_index.passage_entry, locale_index.passage_role
        candidates = np.flatnonzero(roles != SENTENCE)  # what the match reads: questions and whole texts
        questions = np.flatnonzero(roles == QUESTION)
        first_passage = np.searchsorted(owners, np.arange(len(locale_index.entries)))  # passages are grouped by entry, questions first
        for start in range(0, len(questions), chunk):
            rows = questions[start : start + chunk]
            similarity = matrix[rows] @ matrix[candidates].T
            similarity[rows[:, None] == candidates[None, :]] = -np.inf  # not itself
            mine = owners[rows][:, None] == owners[candidates][None, :]
            own = np.where(mine, similarity, -np.inf).max(axis=1)
            own = np.where(np.isfinite(own), own, -1.0)  # an entry with no other passage
            others = np.where(mine, -np.inf, similarity)
            best = others.argmax(axis=1)
            for n, passage in enumerate(rows.tolist()):
                owner = int(owners[passage])
                if others[n, best[n]] > own[n] and locale_index.entries[owner].kind == "faq":
                    entry = locale_index.entries[owner]
                    phrasing = (entry.title, *entry.alternatives)[passage - int(first_passage[owner])]
                    found.append(Stolen(phrasing, entry, locale_index.entries[int(owners[candidates[best[n]]])], float(own[n]), float(others[n, best[n]])))
    return found


def confusable_entries(index: KnowledgeIndex, entries: list[Entry]) -> list[Problem]:
    """One warning per pair of FAQ entries that steal each other's phrasings (each has a phrasing
    closer to the other entry than to the rest of itself): the pairs jiso cannot tell apart.
    One-way steals are common between neighbouring topics and left alone. Only pairs of
    `entries` (the knowledge being checked) count: the index may be older, or of another folder."""
    checked = {(entry.id, entry.path, entry.title) for entry in entries}
    stolen: dict[tuple[str, str], Stolen] = {}
    for item in stolen_phrasings(index):
        if item.thief.kind == "faq" and {(e.id, e.path, e.title) for e in (item.owner, item.thief)} <= checked:
            stolen.setdefault((item.owner.id, item.thief.id), item)
    problems = []
    for (owner, thief), item in sorted(stolen.items()):
        back = stolen.get((thief, owner))
        if back is None or owner > thief:
            continue  # not mutual, or reported from the other side
        problems.append(
            Problem(
                item.owner.path,
                item.owner.line_start,
                f"warning: '{item.owner.title}' and '{item.thief.title}' ({item.thief.path}:{item.thief.line_start}) steal each other's questions: "
                f"'{item.phrasing}' is closer to the other entry ({item.stolen:.2f} against {item.own:.2f}), and so is '{back.phrasing}' "
                f"({back.stolen:.2f} against {back.own:.2f}); jiso may not tell them apart: make the questions more distinct or merge the entries",
            )  # fmt: skip
        )
    return problems
