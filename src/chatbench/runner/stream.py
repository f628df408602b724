"""Watching a conversation as it happens: ``stream_conversation`` yields each node's update
(LangGraph's ``stream_mode="updates"``) as the node finishes, then holds the conversation's
record, the one ``run_conversations`` would store for the same question, seed and replicate.

The async twin (``astream_conversation``, ``arun_conversations``) is in ``runner/aio.py``;
both share ``Conversation``, which follows one conversation's state to its record as
``simulate`` does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from langgraph.types import StreamMode

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.records import ConversationRecord
from chatbench.runner.batch import plan_conversations
from chatbench.runner.build import ModelLike
from chatbench.runner.pipeline import Job
from chatbench.runner.recipe import Variant
from chatbench.runner.simulate import error_text, final_record, run_config
from chatbench.state import ConversationState, initial_state

STREAM_MODES: list[StreamMode] = ["updates", "values"]
"""What the graph streams: the updates are shown, the values make the record."""


class NodeUpdate(NamedTuple):
    """One node's partial update of the conversation state, as the node returned it."""

    node: str
    """The node's name (``chatbench.state``: ``user``, ``assistant``, ``judge``...)."""
    update: dict[str, Any]
    """The keys it wrote: new ``messages``, ``turns``, ``final_choice``, ``timings``..."""


@dataclass
class Conversation:
    """One conversation in progress: its job, built variant and latest state."""

    job: Job
    variant: Variant
    run_id: str
    state: ConversationState = field(init=False)
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        persona = self.variant.persona.name if self.variant.persona else None
        self.state = initial_state(self.job.question, persona)

    @cached_property
    def context(self) -> SimContext:
        """Models, persona and seed of the conversation (as ``execute_job`` gives them),
        made once: an ``app:`` factory's app is this conversation's own."""
        return self.variant.context(self.job.seed)

    @property
    def config(self) -> RunnableConfig:
        """The run name, tags and metadata ``simulate`` runs the graph under."""
        job = self.job
        return run_config(self.run_id, self.variant.spec, job.question.id, job.replicate,
                          job.seed)

    def take(self, mode: str, chunk: Any) -> list[NodeUpdate]:
        """Follow one streamed chunk: keep the latest state, return the node updates."""
        if mode == "values":
            self.state = chunk
            return []
        return [NodeUpdate(node, update or {}) for node, update in chunk.items()]

    def fail(self, exc: Exception) -> None:
        """Note the failure that ended the conversation (recorded, never raised)."""
        self.error = error_text(exc)

    def record(self) -> ConversationRecord:
        """The record of the conversation so far, as ``simulate`` makes it."""
        variant = self.variant
        return final_record(self.state, variant.spec, self.context, self.error, self.started,
                            self.started_at, run_id=self.run_id, replicate=self.job.replicate,
                            models=variant.models.names, factors=variant.factors)


class ConversationStream(Iterator[NodeUpdate]):
    """The node updates of one running conversation; ``record`` once it has ended.

    Iterating runs the conversation: each item comes as its node finishes. A model failure
    ends the iteration like a normal end, with an error record.
    """

    def __init__(self, conversation: Conversation) -> None:
        self.record: ConversationRecord | None = None
        """The conversation's record, set when the iteration ends (None before)."""
        self._conversation = conversation
        self._updates = self._run()

    def __next__(self) -> NodeUpdate:
        return next(self._updates)

    def _run(self) -> Iterator[NodeUpdate]:
        conversation = self._conversation
        graph = conversation.variant.graph
        try:
            for mode, chunk in graph.stream(conversation.state, conversation.config,
                                            context=conversation.context,
                                            stream_mode=STREAM_MODES):
                yield from conversation.take(mode, chunk)
        except Exception as exc:  # recorded, as ``simulate`` does
            conversation.fail(exc)
        self.record = conversation.record()


def conversation_job(
    question: Question,
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicate: int = 0,
) -> Job:
    """The job ``run_conversations`` would run for ``question`` as replicate ``replicate``
    (same models, same derived seed).

    Raises:
        ConfigError: Bad models.
    """
    jobs = plan_conversations([question], spec, user=user, assistant=assistant, judge=judge,
                              seed=seed, replicates=replicate + 1)
    return jobs[replicate]


def stream_conversation(
    question: Question,
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicate: int = 0,
    run_id: str = "run",
) -> ConversationStream:
    """Run one conversation, yielding each node's update as it finishes (for a notebook).

    Args:
        question: The question the simulated user works on.
        spec: The variant.
        user: The simulator's model: a chat model or a model string (None for scripted).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; the conversation's seed is derived as ``run_conversations`` does.
        replicate: Which repeat of the question this is (part of the derived seed).
        run_id: The run named in the record (nothing is stored).

    Returns:
        An iterator of ``NodeUpdate(node, update)``; once it is exhausted, its ``record`` is
        the conversation's record, equal to ``run_conversations``'s for the same arguments
        (apart from timings).

    Raises:
        ConfigError: Bad models (before anything runs).

    Example:
        >>> stream = stream_conversation(load_questions(limit=1)[0], GraphSpec(),
        ...                              user="fake:user", assistant="fake:echo")
        >>> [node for node, update in stream]
        ['user', 'assistant', 'user', 'judge']
        >>> stream.record.stop_reason.value
        'accepted'
    """
    job = conversation_job(question, spec, user=user, assistant=assistant, judge=judge,
                           seed=seed, replicate=replicate)
    return ConversationStream(Conversation(job, job.variant, run_id))
