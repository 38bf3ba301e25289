"""The indexer's vocabulary: problems found in content, and the entries it indexes."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["faq", "manual"]
BREADCRUMB_SEPARATOR = " › "

# What a passage is to the ranking: a question a user might ask (the FAQ heading and its
# alternatives), the entry's whole content, or one sentence of it.
PassageRole = Literal["question", "content", "sentence"]
PASSAGE_ROLES: tuple[PassageRole, ...] = ("question", "content", "sentence")
# A sentence ends at Japanese or Western end punctuation, or at the end of a block (paragraph, list item).
SENTENCE_BREAK = re.compile(r"(?<=[。．！？])|(?<=[.!?])\s+(?=[A-Z0-9\"“(])|\n+")
MIN_SENTENCE_CHARS = 4


@dataclass(frozen=True)
class Passage:
    role: PassageRole
    text: str


def sentences(plain: str) -> list[str]:
    return [part.strip() for part in SENTENCE_BREAK.split(plain) if len(part.strip()) >= MIN_SENTENCE_CHARS]


@dataclass(frozen=True, order=True)
class Problem:
    """A content error, reported to writers as `file:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True, order=True)
class StepReference:
    """A place where a file names an onboarding step, checked by lint against the checklist."""

    path: str
    line: int
    step: str


@dataclass(frozen=True)
class Entry:
    """One retrievable unit: a FAQ entry or a manual section (or a part of a long one)."""

    id: str
    kind: Kind
    locale: str
    path: str  # relative to the knowledge directory, with forward slashes
    title: str  # the FAQ question or the section heading
    breadcrumb: tuple[str, ...]  # document title, then the heading path
    line_start: int  # 1-based, inclusive: the heading line
    line_end: int  # 1-based, inclusive
    body: str  # the writers' markdown, shown as the answer
    plain: str  # the body as plain text, for matching
    alternatives: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def heading(self) -> str:
        return BREADCRUMB_SEPARATOR.join(self.breadcrumb)

    @property
    def content_hash(self) -> str:
        """Changes exactly when what we embed or show changes; line moves do not count."""
        payload = [self.kind, self.locale, self.title, list(self.breadcrumb), list(self.alternatives), self.plain]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()[:32]

    def passages(self) -> list[Passage]:
        """The texts embedded for this entry. Each sentence carries the title, so a sentence
        like "Open Settings › Members" still says which question it answers."""
        if self.kind == "faq":
            whole = [Passage("question", self.title), *(Passage("question", text) for text in self.alternatives), Passage("content", f"{self.title}\n{self.plain}")]
        else:
            whole = [Passage("content", f"{self.heading}\n{self.plain}")]
        return whole + [Passage("sentence", f"{self.title} {sentence}") for sentence in sentences(self.plain)]

    def lexical_text(self) -> str:
        return "\n".join([self.heading, *self.alternatives, self.plain])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["breadcrumb"] = list(self.breadcrumb)
        data["alternatives"] = list(self.alternatives)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            **{
                **data,
                "breadcrumb": tuple(data["breadcrumb"]),
                "alternatives": tuple(data["alternatives"]),
            }
        )
