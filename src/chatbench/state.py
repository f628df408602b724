"""Conversation state: the one canonical transcript plus what the judge and the store need."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from chatbench.data.questions import Question
from chatbench.data.scenario import Scenario, Task
from chatbench.datatypes import CriterionResult, Judgement, NodeTiming, StopReason, Verdict
from chatbench.errors import ConfigError

# Graph node names. Routers and tests refer to these, never to string literals.
USER = "user"
USER_COT = "user_cot"
ASSISTANT = "assistant"
FORCE_ANSWER = "force_answer"
JUDGE = "judge"
USER_FEEDBACK = "user_feedback"

END_TOKEN = "[END]"
"""Terminator of a user turn in the chatbench-distilgpt2 text format."""

class ConversationState(TypedDict, total=False):
    """The state that flows through a chatbench graph.

    ``messages`` is the assistant's view and the only transcript: ``HumanMessage`` is the
    simulated user, ``AIMessage`` the assistant. The simulator sees a role-flipped rendering
    of it. The user's private chain of thought lives in ``user_scratchpad`` and never enters
    ``messages``.
    """

    question: Task
    """The multiple-choice question, or in a scenario graph the ``Scenario``."""
    persona: str | None
    """Name of the persona the simulator plays (its text lives in the runtime context)."""
    messages: Annotated[list[AnyMessage], add_messages]
    user_scratchpad: Annotated[list[str], operator.add]
    """One entry per chain-of-thought step, in order."""
    turns: int
    """Number of user turns so far (the forced answer included)."""
    answered: bool
    """The user's last turn is its answer (under the variant's accept rule)."""
    final_choice: str | None
    """The option letter the user committed to, when it did."""
    invalid_answer: str | None
    """What the user answered when it is not an option letter (the paper scores it wrong)."""
    forced: bool
    """True once the turn limit forced the user to answer."""
    stop_reason: StopReason
    verdict: Verdict
    assistant_choices: list[str | None]
    """Per assistant turn, the option its reply pointed to (set by the judge)."""
    judgements: Annotated[dict[str, Judgement], operator.or_]
    """Rubric scores by name; each node adds its own."""
    timings: Annotated[list[NodeTiming], operator.add]
    assistant_steps: Annotated[dict[str, list[dict[str, Any]]], operator.or_]
    """An app's inner steps (tool calls, tool results, documents...) by the id of the
    assistant message they led to; only replies with steps have an entry."""
    error: str | None
    scenario_end: str | None
    """Scenarios: ``goal_met`` or ``gave_up`` once the simulated user's turn says so."""
    stopped: bool
    """Scenarios: the caller's ``stopping_condition`` ended the conversation."""
    criteria: list[CriterionResult]
    """Scenarios: the judge's decision on each success criterion, in the scenario's order."""


CHECKPOINT_TYPES: tuple[type, ...] = (Question, Scenario, StopReason, Judgement, CriterionResult)
"""The chatbench types a state holds besides LangChain messages: those a checkpointer's
serializer must allow (``chatbench.graphs.checkpoint``). A new field of a new type adds it here.
"""


def initial_state(question: Task, persona: str | None = None) -> ConversationState:
    """The state a conversation starts from.

    Args:
        question: The question the simulated user tries to answer, or the scenario it plays.
        persona: Name of the persona, recorded for the store.

    Returns:
        A state with an empty transcript.

    Raises:
        ConfigError: ``question`` is not a ``Question`` or a ``Scenario``.
    """
    if not isinstance(question, (Question, Scenario)):
        raise ConfigError(f"initial_state argument 'question': expected a chatbench Question "
                          f"(e.g. from load_questions) or Scenario, got "
                          f"{type(question).__name__}")
    return ConversationState(
        question=question,
        persona=persona,
        messages=[],
        user_scratchpad=[],
        turns=0,
        answered=False,
        final_choice=None,
        invalid_answer=None,
        forced=False,
        assistant_choices=[],
        judgements={},
        timings=[],
        assistant_steps={},
        error=None,
    )
