"""Open-ended tasks: the ``Scenario`` model (a user's situation, goal and success criteria) and
its loaders (JSONL, YAML, Python objects), each problem named by file, line and field.

A scenario stands where a multiple-choice ``Question`` stands: a conversation works on one
``Task`` (either), stored under its ``id`` and ``subject``; the graph built for a scenario
(``build_graph(spec, task="scenario")``) ends when the simulated user says its goal is met or
gives up, and its judge scores each criterion.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from chatbench import _json as strict_json
from chatbench._files import read_lines, read_text
from chatbench._text import valid_id
from chatbench._yaml import load_yaml_items, shorten
from chatbench.data.question import MAX_NAME_CHARS, Question, bounded_text
from chatbench.data.rows import validated_row
from chatbench.errors import ConfigError

SCENARIO_SUBJECT = "scenario"
"""The subject of a scenario that names none: what reports group it under."""
MAX_CRITERIA = 50
"""Most success criteria of one scenario (each is one judge call)."""


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty")
    return bounded_text(value)


def _name(value: str) -> str:
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{len(value)} characters; at most {MAX_NAME_CHARS}")
    return value


Line = Annotated[str, AfterValidator(_text)]
"""Non-blank text within ``MAX_TEXT_CHARS``."""


class Scenario(BaseModel):
    """One open-ended task: what the simulated user knows and wants, and how success is judged.

    Example:
        >>> s = Scenario(id="cancel-1234", description="You want to cancel order 1234.",
        ...              criteria=["The assistant cancels order 1234."])
        >>> s.subject, s.criteria
        ('scenario', ('The assistant cancels order 1234.',))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["scenario"] = "scenario"
    """Tells a stored scenario from a stored question (``task_from_data``)."""
    id: Annotated[str, AfterValidator(_name), AfterValidator(valid_id), AfterValidator(_text)]
    """Stable identifier, the key its conversations are stored under."""
    subject: Annotated[str, AfterValidator(_name)] = SCENARIO_SUBJECT
    """A category reports group scenarios by (``support``, ``tutoring``)."""
    description: Line
    """The user's situation and goal, in the second person: what the simulated user knows and
    wants ("You want to cancel order 1234. You won't give your email unless asked.")."""
    persona: Line | None = None
    """How this user behaves in this situation ("annoyed, terse"), added to the variant's
    persona (``GraphSpec.persona``), which stays the ablation factor."""
    criteria: tuple[Line, ...] = Field(min_length=1, max_length=MAX_CRITERIA)
    """Success criteria, one natural-language line each; the judge decides each pass or fail
    from the transcript and the app's inner steps (tool calls). Success is all of them met."""
    expected_outcome: Line | None = None
    """What should happen, shown to the judge as the reference ("order 1234 is cancelled")."""
    opening_turns: tuple[Line, ...] = ()
    """The user's first turns, sent as written before the simulator takes over."""
    max_turns: StrictInt | None = Field(default=None, ge=1, le=100)
    """User turns before the conversation ends unfinished; None for the variant's
    ``GraphSpec.max_turns``."""

    @field_validator("criteria", "opening_turns", mode="before")
    @classmethod
    def _list_of_lines(cls, value: object) -> object:
        if isinstance(value, str):  # one line given as text, not a list: a list of one
            return (value,)
        return value

    @field_validator("max_turns")
    @classmethod
    def _room_for_opening_turns(cls, value: int | None, info: ValidationInfo) -> int | None:
        opening = info.data.get("opening_turns") or ()
        if value is not None and len(opening) > value:
            raise ValueError(f"{value} user turns leave no room for the {len(opening)} "
                             f"opening turns; give max_turns >= {len(opening)}")
        return value

    def turn_limit(self, default: int) -> int:
        """User turns this scenario may take: its own ``max_turns``, else ``default``."""
        return self.max_turns if self.max_turns is not None else default

    def format(self) -> str:
        """The scenario as the simulated user is told it: situation and goal, manner."""
        manner = f"\nHow you behave: {self.persona}" if self.persona else ""
        return f"{self.description}{manner}"

    def format_for_judge(self) -> str:
        """The scenario as the judge is told it: situation, and the expected outcome."""
        expected = f"\nExpected outcome: {self.expected_outcome}" if self.expected_outcome else ""
        return f"{self.description}{expected}"


Task = Question | Scenario
"""What one conversation works on: a multiple-choice question or an open-ended scenario."""

TaskKind = Literal["question", "scenario"]


def task_kind(task: Task) -> TaskKind:
    """``"scenario"`` for a ``Scenario``, else ``"question"``."""
    return "scenario" if isinstance(task, Scenario) else "question"


def task_from_data(data: Mapping[str, Any]) -> Task:
    """A stored task (``model_dump``) read back: a scenario if its ``kind`` says so.

    Raises:
        pydantic.ValidationError: The data is neither.
    """
    if data.get("kind") == "scenario":
        return Scenario.model_validate(data)
    return Question.model_validate(data)


def _checked(where: str, data: object, seen: dict[str, str]) -> Scenario:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of scenario fields, got "
                          f"{type(data).__name__}")
    scenario = validated_row(Scenario, where, dict(data))
    if scenario.id in seen:
        raise ConfigError(f"{where}: field 'id': duplicate id {shorten(scenario.id, 60)!r} "
                          f"(already used at {seen[scenario.id]})")
    seen[scenario.id] = where
    return scenario


def _jsonl_items(path: Path) -> Iterator[tuple[str, object]]:
    lines = read_lines(path, "scenario file", newline="\n")
    for _, where, value in strict_json.jsonl_values(lines, str(path)):
        yield where, value


def _yaml_items(path: Path) -> Iterator[tuple[str, object]]:
    text = read_text(path, "scenario file")
    for line, item in load_yaml_items(text, str(path), key="scenarios"):
        yield f"{path}, line {line}", item


def load_scenarios(path: str | os.PathLike[str]) -> list[Scenario]:
    """The scenarios of a ``.jsonl`` file (one object per line) or a ``.yaml``/``.yml`` file (a
    list of mappings, or a mapping whose ``scenarios`` key holds one).

    Raises:
        ConfigError: A missing or unreadable file, an unknown file type, invalid JSON or YAML,
            a bad field (named with its line), a repeated id, or no scenarios at all.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        items: Iterable[tuple[str, object]] = _jsonl_items(path)
    elif suffix in (".yaml", ".yml"):
        items = _yaml_items(path)
    else:
        raise ConfigError(f"{path}: unknown scenario file type {suffix or '(none)'!r}; "
                          f"expected .jsonl, .yaml or .yml")
    seen: dict[str, str] = {}
    scenarios = [_checked(where, item, seen) for where, item in items]
    if not scenarios:
        raise ConfigError(f"{path}: no scenarios in the file")
    return scenarios


def scenario_list(scenarios: object, argument: str = "scenarios") -> list[Scenario]:
    """The scenarios of a Python call: ``Scenario`` objects, dicts of their fields, or a
    scenario file's path (``load_scenarios``).

    Raises:
        ConfigError: Anything else, or an item that is no valid scenario (named by index).
    """
    if isinstance(scenarios, (str, os.PathLike)):
        return load_scenarios(scenarios)
    if isinstance(scenarios, Scenario):
        return [scenarios]
    if isinstance(scenarios, (bytes, Mapping)) or not isinstance(scenarios, Iterable):
        raise ConfigError(f"argument {argument!r}: expected Scenario objects or a scenario "
                          f"file's path, got {type(scenarios).__name__}")
    seen: dict[str, str] = {}
    out = []
    for index, item in enumerate(scenarios):
        where = f"argument {argument!r}, item {index}"
        if isinstance(item, Scenario):
            item = item.model_dump()
        out.append(_checked(where, item, seen))
    return out
