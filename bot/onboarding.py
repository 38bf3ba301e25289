"""The onboarding checklist writers keep in `knowledge/onboarding.yml`: steps, the events that
complete them, which are required, and an optional active-time criterion.

Loading never half-works: a file with any problem yields `file:line: message` problems (as
`jiso lint` prints them) and no checklist.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from indexer.documents import Problem, StepReference

CHECKLIST_FILE = "onboarding.yml"
STEP_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")
MAX_STEPS = 62  # the steps a user has done are kept as one 64-bit bitmask (onboarding_states.steps_done)


class _ActiveMinutes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min: int = Field(ge=1, le=100_000)
    within_days: int = Field(ge=1, le=3650)


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: dict[str, str]
    events: list[str] = Field(default_factory=list)
    required: bool = False
    active_minutes: _ActiveMinutes | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("step ids are lowercase letters, digits and dashes, e.g. invite-members")
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: dict[str, str]) -> dict[str, str]:
        if not value.get("en", "").strip():
            raise ValueError("needs at least an English title: title: {en: ..., ja: ...}")
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        for name in value:
            if not EVENT_NAME.match(name):
                raise ValueError(f"'{name}' is not an event name (letters, digits, . _ : -)")
        return value


class _Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    steps: list[_Step] = Field(min_length=1, max_length=MAX_STEPS)


@dataclass(frozen=True)
class ActiveMinutes:
    minutes: int
    within_days: int


@dataclass(frozen=True)
class Step:
    id: str
    titles: dict[str, str]
    events: tuple[str, ...]
    required: bool
    active_minutes: ActiveMinutes | None = None

    def title(self, locale: str) -> str:
        return self.titles.get(locale) or self.titles["en"]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "titles": dict(self.titles),
            "events": list(self.events),
            "required": self.required,
            "active_minutes": None if self.active_minutes is None else {"min": self.active_minutes.minutes, "within_days": self.active_minutes.within_days},
        }


@dataclass(frozen=True)
class Checklist:
    steps: tuple[Step, ...] = ()
    version: int = 1

    @property
    def event_names(self) -> frozenset[str]:
        return frozenset(name for step in self.steps for name in step.events)

    @property
    def required(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.required)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self.steps)

    @property
    def fingerprint(self) -> str:
        """What the onboarding rules read of the checklist (steps in order: events, required,
        active minutes; not titles): stored onboarding states computed under another one are stale."""
        rules = [[list(step.events), step.required, None if step.active_minutes is None else [step.active_minutes.minutes, step.active_minutes.within_days]] for step in self.steps]
        return hashlib.sha256(json.dumps(rules).encode()).hexdigest()[:32]


class ChecklistInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = problems


def _line_of(node: yaml.Node | None, location: Iterable[Any]) -> int:
    """Follow a pydantic error location through the YAML node tree to a 1-based line."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in location:
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def parse_checklist(text: str, path: str = CHECKLIST_FILE) -> tuple[Checklist | None, list[Problem]]:
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        return None, [Problem(path, mark.line + 1 if mark else 1, f"not valid YAML: {getattr(error, 'problem', error)}")]
    try:
        parsed = _Checklist.model_validate(data)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            where = ".".join(str(part) for part in issue["loc"])
            message = issue["msg"].removeprefix("Value error, ")
            problems.append(Problem(path, _line_of(root, issue["loc"]), f"{where}: {message}"))
        return None, sorted(problems)
    problems: list[Problem] = []
    seen_ids: set[str] = set()
    owner: dict[str, str] = {}
    for position, step in enumerate(parsed.steps):
        line = _line_of(root, ("steps", position))
        if step.id in seen_ids:
            problems.append(Problem(path, line, f"step id '{step.id}' is used twice"))
        seen_ids.add(step.id)
        if not step.events and step.active_minutes is None:
            problems.append(Problem(path, line, f"step '{step.id}' can never be done: give it events or active_minutes"))
        for name in step.events:
            if name in owner:
                problems.append(Problem(path, line, f"event '{name}' already completes step '{owner[name]}': an event completes one step"))
            owner.setdefault(name, step.id)
    if not any(step.required for step in parsed.steps):
        problems.append(Problem(path, _line_of(root, ("steps",)), "no step is required, so nobody could ever complete onboarding"))
    if problems:
        return None, problems
    steps = tuple(
        Step(
            id=step.id,
            titles=dict(step.title),
            events=tuple(step.events),
            required=step.required,
            active_minutes=ActiveMinutes(step.active_minutes.min, step.active_minutes.within_days) if step.active_minutes else None,
        )
        for step in parsed.steps
    )
    return Checklist(steps=steps, version=parsed.version), []


def load_checklist(knowledge_dir: Path) -> Checklist:
    """The checklist in `knowledge_dir`; an empty one when the file does not exist."""
    path = knowledge_dir / CHECKLIST_FILE
    if not path.is_file():
        return Checklist()
    checklist, problems = parse_checklist(path.read_text(encoding="utf-8"), CHECKLIST_FILE)
    if checklist is None:
        raise ChecklistInvalid(problems)
    return checklist


def check_knowledge(knowledge_dir: Path, references: Iterable[StepReference]) -> list[Problem]:
    """Lint: the checklist itself, and every `onboarding_step` a file names (at its own line) being one of its steps."""
    path = knowledge_dir / CHECKLIST_FILE
    if not path.is_file():
        return []
    checklist, problems = parse_checklist(path.read_text(encoding="utf-8"), CHECKLIST_FILE)
    if checklist is None:
        return problems
    ids = set(checklist.ids)
    for reference in references:
        if reference.step not in ids:
            problems.append(Problem(reference.path, reference.line, f"onboarding_step '{reference.step}' is not a step of {CHECKLIST_FILE} ({', '.join(checklist.ids)})"))
    return problems
