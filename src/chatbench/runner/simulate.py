"""One conversation, start to record: runs the graph and never loses what it computed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StreamMode

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.scenario import Scenario, Task, task_kind
from chatbench.datatypes import StopReason
from chatbench.models.apps import CONVERSATION_ID
from chatbench.models.invoke import message_text, unseeded_roles
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.state import ConversationState, initial_state


def conversation_id(run_id: str, variant: str, question_id: str, replicate: int) -> str:
    """The idempotent key of one planned conversation."""
    return f"{run_id}/{variant}/{question_id}/{replicate}"


def run_config(run_id: str, spec: GraphSpec, question_id: str, replicate: int,
               seed: int | None) -> RunnableConfig:
    """The ``RunnableConfig`` a conversation's graph runs under: a run name, tags and metadata
    that every callback handler sees (LangSmith groups a conversation's traces into one thread
    by its ``conversation_id``), and that an app with memory takes its thread id from.

    Example:
        >>> run_config("r", GraphSpec(name="v"), "q1", 0, 7)["metadata"]["conversation_id"]
        'r/v/q1/0'
    """
    cid = conversation_id(run_id, spec.name, question_id, replicate)
    return RunnableConfig(
        run_name=f"chatbench:{spec.name}",
        tags=["chatbench", f"run:{run_id}", f"variant:{spec.name}"],
        metadata={"run_id": run_id, "variant": spec.name, "question_id": question_id,
                  "replicate": replicate, "seed": seed, CONVERSATION_ID: cid},
    )


def _transcript(state: ConversationState) -> list[TranscriptTurn]:
    """User and assistant messages, each assistant turn with an app's inner steps."""
    steps = state.get("assistant_steps") or {}
    turns = []
    for message in state.get("messages", []):
        if isinstance(message, HumanMessage):
            turns.append(TranscriptTurn(role="user", content=message_text(message)))
        elif isinstance(message, AIMessage):
            turns.append(TranscriptTurn(role="assistant", content=message_text(message),
                                        steps=steps.get(message.id or "", [])))
    return turns


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


STREAM_MODES: list[StreamMode] = ["updates", "values"]
"""What the graph streams: the updates are shown (streaming), the values make the record."""


class NodeUpdate(NamedTuple):
    """One node's partial update of the conversation state, as the node returned it."""

    node: str
    """The node's name (``chatbench.state``: ``user``, ``assistant``, ``judge``...)."""
    update: dict[str, Any]
    """The keys it wrote: new ``messages``, ``turns``, ``final_choice``, ``timings``..."""


@dataclass
class Conversation:
    """One conversation from its first state to its record: the one loop every way of
    running a conversation uses (``simulate`` for batches, ``updates`` for
    ``stream_conversation``, ``aupdates`` for the async API).

    The graph is streamed state by state, so a model call that fails after its retries
    leaves the transcript up to that point; the record then has stop reason ``error`` and
    the message. Errors never propagate: a batch goes on. It runs under ``run_config``: its
    run name, tags and metadata reach every callback handler (tracing).
    """

    graph: CompiledStateGraph[ConversationState, SimContext]
    question: Task
    """The question, or the scenario (the graph must be built for it: ``task="scenario"``)."""
    context: SimContext
    """Models, persona and seed of this conversation."""
    spec: GraphSpec
    """The variant the graph was built from (stored with the record)."""
    run_id: str = "run"
    replicate: int = 0
    models: dict[str, str] | None = None
    """Model name per role, for the record."""
    factors: dict[str, Any] | None = None
    """Ablation factor values of this conversation's variant, for the record."""
    state: ConversationState = field(init=False)
    error: str | None = field(default=None, init=False)
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc),
                                 init=False)
    started: float = field(default_factory=time.perf_counter, init=False)

    def __post_init__(self) -> None:
        persona = self.context.persona.name if self.context.persona else None
        self.state = initial_state(self.question, persona)

    @property
    def config(self) -> RunnableConfig:
        """The run name, tags and metadata the graph runs under."""
        return run_config(self.run_id, self.spec, self.question.id, self.replicate,
                          self.context.seed)

    def _take(self, mode: str, chunk: Any) -> list[NodeUpdate]:
        if mode == "values":
            self.state = chunk
            return []
        return [NodeUpdate(node, update or {}) for node, update in chunk.items()]

    def updates(self) -> Iterator[NodeUpdate]:
        """Run the conversation, yielding each node's update as it finishes; a failure ends
        it like a normal end, noted for the record (never raised)."""
        try:
            for mode, chunk in self.graph.stream(self.state, self.config, context=self.context,
                                                 stream_mode=STREAM_MODES):
                yield from self._take(mode, chunk)
        except Exception as exc:  # recorded, never raised: one failure must not end a batch
            self.error = error_text(exc)

    async def aupdates(self) -> AsyncIterator[NodeUpdate]:
        """``updates`` on the event loop."""
        try:
            async for mode, chunk in self.graph.astream(
                self.state, self.config, context=self.context, stream_mode=STREAM_MODES,
            ):
                for update in self._take(mode, chunk):
                    yield update
        except Exception as exc:  # recorded, as ``updates`` does
            self.error = error_text(exc)

    def run(self) -> ConversationRecord:
        """Run the conversation to its end and return its record."""
        for _ in self.updates():
            pass
        return self.record()

    def record(self) -> ConversationRecord:
        """The record of the conversation so far."""
        return final_record(self.state, self.spec, self.context, self.error, self.started,
                            self.started_at, run_id=self.run_id, replicate=self.replicate,
                            models=self.models, factors=self.factors)


def simulate(
    graph: CompiledStateGraph[ConversationState, SimContext],
    question: Task,
    context: SimContext,
    spec: GraphSpec,
    *,
    run_id: str = "run",
    replicate: int = 0,
    models: dict[str, str] | None = None,
    factors: dict[str, Any] | None = None,
) -> ConversationRecord:
    """Run one conversation (``Conversation``) and return its record.

    Args:
        graph: A compiled graph from ``build_graph(spec)``.
        question: The question the simulated user works on.
        context: Models, persona and seed of this conversation.
        spec: The variant the graph was built from (stored with the record).
        run_id: The run this conversation belongs to.
        replicate: Index of this repeat of the same question and variant.
        models: Model name per role, for the record.
        factors: Ablation factor values of this conversation's variant, for the record.

    Returns:
        The conversation's record.
    """
    return Conversation(graph, question, context, spec, run_id=run_id, replicate=replicate,
                        models=models, factors=factors).run()


def final_record(
    state: ConversationState,
    spec: GraphSpec,
    context: SimContext,
    error: str | None,
    started: float,
    started_at: datetime,
    *,
    run_id: str,
    replicate: int,
    models: dict[str, str] | None,
    factors: dict[str, Any] | None,
) -> ConversationRecord:
    """The record of a conversation's last state (or of the failure ``error``); a state the
    record cannot hold becomes a record of that failure. Every way of running a conversation
    (batches, streaming, async: ``Conversation``) ends here."""
    caller_fields = {
        "run_id": run_id,
        "replicate": replicate,
        "seed": context.seed,
        "models": models or {},
        "factors": factors or {},
        "unseeded_roles": unseeded_roles(
            {"user": context.user, "assistant": context.assistant, "judge": context.judge}
        ),
    }
    seconds = time.perf_counter() - started
    try:
        return _record(state, spec, error, seconds, started_at, caller_fields)
    except Exception as exc:  # a state the record cannot hold (a reply that is not text...)
        failed = error_text(exc) if error is None else f"{error}; then {error_text(exc)}"
        return _record(_bare(state), spec, failed, seconds, started_at, caller_fields)


def _bare(state: ConversationState) -> ConversationState:
    """The state with only what ``initial_state`` made: for a record of a failure."""
    return initial_state(state["question"], state.get("persona"))


def _record(
    state: ConversationState,
    spec: GraphSpec,
    error: str | None,
    seconds: float,
    started_at: datetime,
    extra: dict[str, Any],
) -> ConversationRecord:
    question = state["question"]
    scenario = isinstance(question, Scenario)
    return ConversationRecord(
        id=conversation_id(extra["run_id"], spec.name, question.id, extra["replicate"]),
        question_id=question.id,
        subject=question.subject,
        task=task_kind(question),
        criteria=[] if error else list(state.get("criteria", [])),
        variant=spec.name,
        spec=spec.model_dump(mode="json"),
        persona=state.get("persona"),
        transcript=_transcript(state),
        scratchpad=list(state.get("user_scratchpad", [])),
        final_choice=None if error else state.get("final_choice"),
        invalid_answer=None if error else state.get("invalid_answer"),
        correct_answer=(question.expected_outcome or "") if scenario else question.answer,
        verdict=None if error else state.get("verdict"),
        stop_reason=StopReason.ERROR if error else state.get("stop_reason", StopReason.ERROR),
        assistant_choices=list(state.get("assistant_choices", [])),
        judgements=dict(state.get("judgements", {})),
        turns=state.get("turns", 0),
        error=error,
        timings=list(state.get("timings", [])),
        seconds=seconds,
        started_at=started_at,
        **extra,
    )
