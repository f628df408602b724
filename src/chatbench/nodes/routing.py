"""Routers: the conditional edges that end a conversation or pass the turn."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda
from typing_extensions import TypedDict

from chatbench.config import GraphSpec
from chatbench.data.scenario import Scenario, Task
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, USER_COT


class RouteView(TypedDict, total=False):
    """The part of ``ConversationState`` the routers read.

    LangGraph gives a router a fresh copy of the state with its node's writes applied; with
    this narrower input schema it copies just these keys instead of re-running the
    ``messages`` reducer and reading every channel after each node.
    """

    turns: int
    answered: bool


class ScenarioRouteView(RouteView, total=False):
    """What a scenario graph's routers read besides ``RouteView``: the scenario (its turn
    limit), the user's stop token, the stopping condition's result."""

    question: Task
    scenario_end: str | None
    stopped: bool


def route_after_user(state: RouteView) -> str:
    """To the judge once the user answered, else to the assistant."""
    return JUDGE if state.get("answered") else ASSISTANT


def make_route_after_assistant(spec: GraphSpec) -> Callable[[RouteView], str]:
    """Back to the user (through its scratchpad if the variant has one), or, once the user
    has had ``spec.max_turns`` turns, to the forced answer."""
    next_user = USER_COT if spec.user_cot else USER

    def route_after_assistant(state: RouteView) -> str:
        return FORCE_ANSWER if state.get("turns", 0) >= spec.max_turns else next_user

    return route_after_assistant


def route_after_scenario_user(state: ScenarioRouteView) -> str:
    """To the judge once the user's goal is met, it gave up or the stopping condition held,
    else to the assistant."""
    return JUDGE if state.get("scenario_end") or state.get("stopped") else ASSISTANT


def make_route_after_scenario_assistant(
    spec: GraphSpec,
) -> Callable[[ScenarioRouteView], str]:
    """Back to the user, or to the judge once the stopping condition held or the user has had
    the scenario's ``max_turns`` (else ``spec.max_turns``) turns."""
    next_user = USER_COT if spec.user_cot else USER

    def route_after_scenario_assistant(state: ScenarioRouteView) -> str:
        task = state["question"]
        limit = task.turn_limit(spec.max_turns) if isinstance(task, Scenario) else spec.max_turns
        if state.get("stopped") or state.get("turns", 0) >= limit:
            return JUDGE
        return next_user

    return route_after_scenario_assistant


class UntracedRouter(RunnableLambda[RouteView, str]):
    """A router that LangGraph calls as a plain function.

    LangGraph wraps a plain router function in a traced runnable, so every route opens and
    closes a callback run (a chain start and end, a child callback manager), which costs
    more than the routing itself and shows nothing worth seeing in a trace. A runnable is
    used as given; this one skips the callbacks. It stays a ``RunnableLambda`` so that
    LangGraph still reads the router's input annotation (``RouteView``) and copies only
    those keys for it.
    """

    def invoke(self, input: RouteView, config: RunnableConfig | None = None, **kwargs: Any) -> str:
        """Route ``input`` (the config and callbacks are not used)."""
        return self.func(input)  # type: ignore[call-arg]  # a one-argument router

    async def ainvoke(
        self, input: RouteView, config: RunnableConfig | None = None, **kwargs: Any
    ) -> str:
        """Route ``input`` in an async graph (routing never awaits)."""
        return self.invoke(input)


def untraced(router: Callable[[Any], str]) -> UntracedRouter:
    """``router`` for ``add_conditional_edges``, called without LangGraph's callback runs.

    Example:
        >>> untraced(route_after_user).invoke({"answered": True})
        'judge'
    """
    return UntracedRouter(router)
