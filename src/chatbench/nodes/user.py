"""Simulated-user nodes: write a turn, think in the scratchpad, or give the forced answer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.datatypes import Completion
from chatbench.errors import ModelOutputError
from chatbench.models.base import bounded
from chatbench.nodes._common import Node, node_timing
from chatbench.scoring.answers import UserTurn, read_turn
from chatbench.scoring.judges import USER_SATISFACTION, parse_judgement
from chatbench.seeding import call_seed
from chatbench.simulators import TurnMode, TurnRequest, get_simulator
from chatbench.simulators.prompted import paper_exact
from chatbench.simulators.registry import SimulatorFn
from chatbench.state import (
    END_TOKEN,
    FORCE_ANSWER,
    USER,
    USER_COT,
    USER_FEEDBACK,
    ConversationState,
)


def user_request(
    state: ConversationState, runtime: Runtime[SimContext], spec: GraphSpec, mode: TurnMode
) -> TurnRequest:
    """The simulator's request for the state's next user turn, with the scratchpad note
    written for it (``turn_request``)."""
    ctx = runtime.context
    turn_index = state.get("turns", 0)
    notes = state.get("user_scratchpad") or []
    # A scratchpad entry belongs to the turn it was written for: one entry per user turn.
    scratchpad = notes[-1] if mode != "think" and len(notes) > turn_index else None
    return turn_request(spec, ctx, state["question"], state.get("messages", []), mode,
                        turn_index, scratchpad)


def turn_request(spec: GraphSpec, context: SimContext, question: Question,
                 messages: Sequence[AnyMessage], mode: TurnMode, turn_index: int,
                 scratchpad: str | None = None) -> TurnRequest:
    """The simulator's request for user turn ``turn_index``, seeded as every user node seeds
    it: ``derive_seed(conversation seed, "user", mode, turn_index)`` (None when unseeded)."""
    seed = call_seed(context.seed, USER, mode, turn_index)
    return TurnRequest(question=question, messages=messages, mode=mode, context=context,
                       spec=spec, scratchpad=scratchpad, seed=seed, turn_index=turn_index)


def _clean(text: str) -> str:
    return text.replace(END_TOKEN, "").strip()


def simulated(simulate: SimulatorFn, request: TurnRequest) -> Completion:
    """The simulator's reply, cut to the user's ``max_reply_chars`` (``bounded``): chat
    models and the causal LM are cut where they reply, and this bounds any registered
    simulator's too."""
    return bounded(simulate(request), request.spec.user.max_reply_chars)


def write_turn(simulate: SimulatorFn, request: TurnRequest,
               paper: bool = False) -> tuple[str, Completion]:
    """Call the simulator; an empty turn is retried once with another seed, then an error.

    Args:
        simulate: The simulator.
        request: The turn to write.
        paper: The paper's protocol (``paper_exact``): the reply as the model wrote it, one
            call, ``[END]`` kept and an empty turn sent as it is, as the paper's code does
            (``read_turn`` then cleans it as the paper does).

    Returns:
        The turn without ``[END]`` and surrounding space (``paper``: as written), and the
        call's completion.

    Raises:
        ModelOutputError: The turn was empty twice (never with ``paper``).
    """
    completion = simulated(simulate, request)
    if paper:
        return completion.text, completion
    if not _clean(completion.text):
        retry_seed = None if request.seed is None else request.seed + 1
        completion = simulated(simulate, TurnRequest(**{**vars(request), "seed": retry_seed}))
    text = _clean(completion.text)
    if not text:
        raise ModelOutputError(
            f"the simulator wrote an empty {request.mode} turn twice "
            f"(user turn {request.turn_index + 1})"
        )
    return text, completion


def stored_turn(spec: GraphSpec, question: Question, text: str, *, first: bool) -> UserTurn:
    """A simulator's turn read by ``spec``'s accept rule, with ``text`` as the conversation
    stores and sends it: the paper presets send what the paper's cleaning leaves, empty
    included, as its code does; chatbench's rule never gets an empty turn (``write_turn``
    retries it) and keeps the turn as written when the rule's cleaning leaves nothing."""
    turn = read_turn(text, question, rule=spec.accept, simulator=spec.simulator, first=first)
    return turn if paper_exact(spec) else replace(turn, text=turn.text or text)


def _turn_node(spec: GraphSpec, mode: TurnMode, name: str) -> Node:
    simulate = get_simulator(spec.simulator)
    paper = paper_exact(spec)

    def node(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        first = mode == "next" and not state.get("turns")
        request = user_request(state, runtime, spec, "first" if first else mode)
        started = time.perf_counter()
        text, completion = write_turn(simulate, request, paper=paper)
        turn = stored_turn(spec, state["question"], text, first=first)
        return {
            "messages": [HumanMessage(content=turn.text)],
            "turns": request.turn_index + 1,
            "answered": turn.answered,
            "final_choice": turn.choice,
            "invalid_answer": turn.invalid_answer,
            "forced": mode == "forced",
            "timings": [node_timing(name, USER, time.perf_counter() - started, completion)],
        }

    node.__name__ = f"{name}_node"
    return node


def make_user_node(spec: GraphSpec) -> Node:
    """The node that writes the simulated user's next turn and reads any answer in it."""
    return _turn_node(spec, "next", USER)


def make_force_answer_node(spec: GraphSpec) -> Node:
    """The node that asks for the answer only, once the turn limit is reached."""
    return _turn_node(spec, "forced", FORCE_ANSWER)


def make_user_feedback_node(spec: GraphSpec) -> Node:
    """After the judge: the simulator, in character, rates its satisfaction with the AI.

    The reply is parsed like a judge's; an unparseable one is stored with a missing score.
    """
    simulate = get_simulator(spec.simulator)

    def user_feedback_node(
        state: ConversationState, runtime: Runtime[SimContext]
    ) -> dict[str, Any]:
        request = user_request(state, runtime, spec, "feedback")
        started = time.perf_counter()
        completion = simulated(simulate, request)
        return {
            "judgements": {USER_SATISFACTION: parse_judgement(completion.text)},
            "timings": [node_timing(USER_FEEDBACK, USER,
                                    time.perf_counter() - started, completion)],
        }

    return user_feedback_node


def make_user_cot_node(spec: GraphSpec) -> Node:
    """The node where the simulator reasons privately; its notes go to the scratchpad only."""
    simulate = get_simulator(spec.simulator)

    def user_cot_node(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        request = user_request(state, runtime, spec, "think")
        started = time.perf_counter()
        text, completion = write_turn(simulate, request)
        return {
            "user_scratchpad": [text],
            "timings": [node_timing(USER_COT, USER, time.perf_counter() - started, completion)],
        }

    return user_cot_node
