"""What a simulator is asked for and what it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import AnyMessage

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.scenario import Task

TurnMode = Literal["first", "next", "forced", "think", "feedback"]
"""first: opening message; next: a later turn; forced: the answer only (turn limit reached);
think: private chain-of-thought notes for the scratchpad; feedback: after the answer, the
user's satisfaction in character (never part of the transcript)."""


@dataclass(frozen=True)
class TurnRequest:
    """Everything a simulator may use to write one turn."""

    question: Task
    """The question, or in a scenario graph the ``Scenario`` the user plays."""
    messages: Sequence[AnyMessage]
    """The canonical transcript (assistant's view); simulators flip it themselves."""
    mode: TurnMode
    context: SimContext
    spec: GraphSpec
    scratchpad: str | None = None
    """This turn's private notes, when the variant has user chain of thought."""
    seed: int | None = None
    """Sampling seed for this call, derived from the conversation seed."""
    turn_index: int = 0
    """0-based index of the user turn being written."""
