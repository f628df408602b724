"""The base layer: plain data every other layer shares (a conversation's end, its verdict,
its timings, a judgement, a summary, a generated text and what makes one). It imports
nothing from chatbench, so state, records, storage, models and scoring can all import it
without importing each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

Verdict = Literal["correct", "wrong", "no_answer"]


class StopReason(str, Enum):
    """Why a conversation ended."""

    ACCEPTED = "accepted"
    """The simulated user committed to an answer on its own."""
    FORCED = "forced"
    """The turn limit was reached and the user was asked for the answer only."""
    ERROR = "error"
    """A model call failed after its retries, or its output was unusable."""
    GOAL_MET = "goal_met"
    """Scenarios: the simulated user said its goal was met (its stop token)."""
    GAVE_UP = "gave_up"
    """Scenarios: the simulated user gave up (its stop token)."""
    MAX_TURNS = "max_turns"
    """Scenarios: the turn limit was reached with the goal neither met nor given up."""
    STOPPED = "stopped"
    """Scenarios: the caller's ``stopping_condition(state)`` ended the conversation."""


class NodeTiming(TypedDict):
    """Wall time and token counts of one node call."""

    node: str
    seconds: float
    input_tokens: int | None
    output_tokens: int | None
    role: NotRequired[str]
    """The role whose model the call used (``user``, ``assistant``, ``judge``), recorded at
    the call; records stored before it was kept lack it (``scoring.usage.role_of``)."""
    truncated: NotRequired[dict[str, int]]
    """Only when the call's reply was cut to the role's ``RoleSettings.max_reply_chars``:
    ``{"text": characters the reply had}``, ``{"steps": size of an app's inner steps}``
    (``chatbench.models.base.bounded``)."""


class Judgement(BaseModel):
    """One rubric score with its reason; ``score`` is None when the reply was unparseable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: int | float | None = Field(default=None, allow_inf_nan=False)
    """1-5 from a judge model; an evaluator's score as it gave it (a boolean as 1 or 0)."""
    reason: str = ""
    raw: str = ""
    """The judge's reply as written."""


class CriterionResult(BaseModel):
    """The judge's decision on one success criterion of a scenario; ``passed`` is None when
    its reply could not be read (the scenario is then unscored, never counted a success)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    criterion: str
    passed: bool | None = None
    reason: str = ""
    raw: str = ""
    """The judge's reply as written (or an evaluator's result)."""


CRITERION_VERDICTS = {True: "PASS", False: "FAIL", None: "UNDECIDED"}
"""How ``CriterionResult.passed`` is written wherever a verdict is shown."""


@dataclass(frozen=True)
class Summary:
    """Accuracy and conversation shape of a group of records.

    Failed conversations (stop reason ``error``) are counted, never scored. Accuracy is the
    mean over questions of each question's mean, as ``chatbench report`` and the paper
    compute it, in the paper's two conventions: over answered conversations (no answer left
    out, as the authors' code does) and over all scored ones (no answer counts as wrong).
    ``correct`` and ``answered`` are pooled counts; ``pooled_accuracy`` is their ratio, which
    differs from ``accuracy`` when questions have unequal numbers of answers.
    """

    group: str
    conversations: int
    errors: int
    answered: int
    correct: int
    questions: int
    accuracy: float | None
    accuracy_all: float | None
    mean_turns: float | None
    mean_seconds: float | None

    @property
    def scored(self) -> int:
        """Conversations that reached the judge."""
        return self.conversations - self.errors

    @property
    def pooled_accuracy(self) -> float | None:
        """Correct over answered, pooled over questions; None when nothing was answered."""
        return self.correct / self.answered if self.answered else None

    @property
    def answered_share(self) -> float | None:
        """Answered over scored."""
        return self.answered / self.scored if self.scored else None


@dataclass(frozen=True)
class Completion:
    """One generated text with its token counts (None where the model reports none)."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    steps: tuple[dict[str, Any], ...] = ()
    """An app's inner steps behind this text (JSON data, in order); empty for a plain model."""
    truncated: Mapping[str, int] = field(default_factory=dict)
    """What ``bounded`` cut to the role's ``max_reply_chars``, with its size before:
    ``{"text": characters}`` for the reply, ``{"steps": size}`` for an app's inner steps
    (their texts' characters, plus one per item); empty when nothing was cut."""


@runtime_checkable
class TextCompleter(Protocol):
    """A causal LM that continues plain text prompts (no chat template)."""

    name: str
    context_window: int

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` encodes to."""
        ...

    def complete(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str],
        seed: int | None = None,
    ) -> list[Completion]:
        """Continue each prompt; the text is cut before the first stop string."""
        ...
