"""The nodes of a scenario graph: the simulated user plays a situation and goal (its scripted
opening turns first, then the simulator), saying when its goal is met or it gives up; the
judge decides each success criterion, then scores the rubrics as for questions."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast, get_type_hints

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.scenario import Scenario
from chatbench.datatypes import Completion, CriterionResult, NodeTiming, StopReason
from chatbench.errors import ConfigError
from chatbench.nodes._common import Node, node_timing
from chatbench.nodes.judge import judge_seed, score_rubrics
from chatbench.nodes.user import user_request, write_turn
from chatbench.scoring.answers import ScenarioTurn, read_scenario_turn
from chatbench.scoring.criteria import judge_criterion, scenario_verdict
from chatbench.scoring.judges import judgement_settings
from chatbench.simulators import TurnRequest, get_simulator
from chatbench.simulators.registry import SimulatorFn
from chatbench.state import JUDGE, USER, ConversationState

REDUCERS = {key: hint.__metadata__[0]
            for key, hint in get_type_hints(ConversationState, include_extras=True).items()
            if hasattr(hint, "__metadata__")}
"""The reducer of each state key that has one (``Annotated`` in ``ConversationState``)."""


def state_after(state: ConversationState, update: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` with a node's ``update`` applied by the state's own reducers (``REDUCERS``;
    other keys replaced), as the graph applies it: what a ``stopping_condition`` is shown."""
    after: dict[str, Any] = dict(state)
    for key, value in update.items():
        reducer, before = REDUCERS.get(key), after.get(key)
        after[key] = value if reducer is None or before is None else reducer(before, value)
    return after


def with_stopping_condition(node: Node) -> Node:
    """``node``, followed by the context's ``stopping_condition`` on the state it leaves:
    a true result sets ``stopped``, which ends the conversation at the next edge."""

    def run(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        update = node(state, runtime)
        condition = runtime.context.stopping_condition
        if condition is not None and not update.get("scenario_end") and condition(
                state_after(state, update)):
            update = {**update, "stopped": True}
        return update

    run.__name__ = getattr(node, "__name__", "node")
    return run


def scenario_of(state: ConversationState) -> Scenario:
    """The state's scenario: the graph's ``checked_input`` has refused any other input."""
    return cast(Scenario, state["question"])


def write_scenario_turn(
    simulate: SimulatorFn, scenario: Scenario, turn_index: int,
    request: Callable[[], TurnRequest],
) -> tuple[ScenarioTurn, Completion | None]:
    """The user's turn ``turn_index`` of ``scenario``, read for its stop token
    (``read_scenario_turn``): the scenario's next opening turn while any is left (no model
    call, no completion), else the simulator's turn for ``request()``.

    Raises:
        ModelOutputError: The simulator wrote an empty turn twice (``write_turn``).
    """
    if turn_index < len(scenario.opening_turns):
        return read_scenario_turn(scenario.opening_turns[turn_index]), None
    text, completion = write_turn(simulate, request())
    return read_scenario_turn(text), completion


def make_scenario_user_node(spec: GraphSpec) -> Node:
    """The node that writes the simulated user's next scenario turn: the scenario's next
    opening turn while any is left (no model call), else the simulator's; a turn that says
    the goal is met or the user gives up ends the conversation (``read_scenario_turn``)."""
    simulate = get_simulator(spec.simulator)

    def scenario_user_node(
        state: ConversationState, runtime: Runtime[SimContext]
    ) -> dict[str, Any]:
        turn_index = state.get("turns", 0)
        started = time.perf_counter()
        turn, completion = write_scenario_turn(
            simulate, scenario_of(state), turn_index,
            lambda: user_request(state, runtime, spec, "next" if turn_index else "first"))
        return {
            "messages": [HumanMessage(content=turn.text)],
            "turns": turn_index + 1,
            "scenario_end": turn.end,
            "timings": [node_timing(USER, USER, time.perf_counter() - started, completion)],
        }

    return scenario_user_node


def _criteria(
    state: ConversationState, ctx: SimContext, spec: GraphSpec, scenario: Scenario
) -> tuple[list[CriterionResult], list[NodeTiming]]:
    if ctx.judge is None:
        raise ConfigError(f"scenario {scenario.id!r} has success criteria: give a judge model "
                          f"(--judge, or judge=...)")
    results, timings = [], []
    for index, criterion in enumerate(scenario.criteria, start=1):
        started = time.perf_counter()
        result, completion = judge_criterion(
            ctx.judge, scenario, criterion, state.get("messages") or [],
            state.get("assistant_steps"), judgement_settings(spec.judge), ctx.call_timeout_s,
            seed=judge_seed(ctx, f"criterion:{index}"),
        )
        results.append(result)
        timings.append(node_timing(f"{JUDGE}:criterion:{index}", JUDGE,
                                   time.perf_counter() - started, completion))
    return results, timings


def scenario_stop_reason(state: ConversationState) -> StopReason:
    """How a scenario conversation ended: the user's stop token, the caller's condition, or
    the turn limit."""
    end = state.get("scenario_end")
    if end == "goal_met":
        return StopReason.GOAL_MET
    if end == "gave_up":
        return StopReason.GAVE_UP
    return StopReason.STOPPED if state.get("stopped") else StopReason.MAX_TURNS


def make_scenario_judge_node(spec: GraphSpec) -> Node:
    """The scenario judge: each criterion (pass/fail with a reason, from the transcript and
    the app's tool calls) by ``SimContext.judge``, success when all pass, then the rubrics."""

    def scenario_judge_node(
        state: ConversationState, runtime: Runtime[SimContext]
    ) -> dict[str, Any]:
        ctx = runtime.context
        scenario = scenario_of(state)
        results, timings = _criteria(state, ctx, spec, scenario)
        judgements, rubric_timings = score_rubrics(state, ctx.judge, spec, ctx, None)
        return {
            "criteria": results,
            "verdict": scenario_verdict(results),
            "stop_reason": scenario_stop_reason(state),
            "judgements": judgements,
            "timings": timings + rubric_timings,
        }

    return scenario_judge_node
