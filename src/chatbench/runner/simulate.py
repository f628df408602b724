"""One conversation, start to record: runs the graph and never loses what it computed."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.models.invoke import message_text
from chatbench.records import ConversationRecord, TranscriptTurn
from chatbench.state import ConversationState, StopReason, initial_state


def conversation_id(run_id: str, variant: str, question_id: str, replicate: int) -> str:
    """The idempotent key of one planned conversation."""
    return f"{run_id}/{variant}/{question_id}/{replicate}"


def _transcript(state: ConversationState) -> list[TranscriptTurn]:
    turns = []
    for message in state.get("messages", []):
        if isinstance(message, HumanMessage):
            turns.append(TranscriptTurn(role="user", content=message_text(message)))
        elif isinstance(message, AIMessage):
            turns.append(TranscriptTurn(role="assistant", content=message_text(message)))
    return turns


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def simulate(
    graph: CompiledStateGraph[ConversationState, SimContext],
    question: Question,
    context: SimContext,
    spec: GraphSpec,
    *,
    run_id: str = "run",
    replicate: int = 0,
    models: dict[str, str] | None = None,
    factors: dict[str, Any] | None = None,
) -> ConversationRecord:
    """Run one conversation and turn its final state into a record.

    The graph is streamed state by state, so a model call that fails after its retries
    leaves the transcript up to that point; the record then has stop reason ``error`` and
    the message. Errors never propagate: a batch goes on.

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
    persona = context.persona.name if context.persona else None
    state: ConversationState = initial_state(question, persona)
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    error: str | None = None
    try:
        for values in graph.stream(state, context=context, stream_mode="values"):
            state = values
    except Exception as exc:  # recorded, never raised: one failure must not end a batch
        error = _error_text(exc)
    caller_fields = {
        "run_id": run_id,
        "replicate": replicate,
        "seed": context.seed,
        "models": models or {},
        "factors": factors or {},
    }
    seconds = time.perf_counter() - started
    try:
        return _record(state, spec, error, seconds, started_at, caller_fields)
    except Exception as exc:  # a state the record cannot hold (a reply that is not text...)
        failed = _error_text(exc) if error is None else f"{error}; then {_error_text(exc)}"
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
    return ConversationRecord(
        id=conversation_id(extra["run_id"], spec.name, question.id, extra["replicate"]),
        question_id=question.id,
        subject=question.subject,
        variant=spec.name,
        spec=spec.model_dump(mode="json"),
        persona=state.get("persona"),
        transcript=_transcript(state),
        scratchpad=list(state.get("user_scratchpad", [])),
        final_choice=None if error else state.get("final_choice"),
        invalid_answer=None if error else state.get("invalid_answer"),
        correct_answer=question.answer,
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
