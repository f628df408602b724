"""Routers: the conditional edges that end a conversation or pass the turn."""

from __future__ import annotations

from collections.abc import Callable

from typing_extensions import TypedDict

from chatbench.config import GraphSpec
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, USER_COT


class RouteView(TypedDict, total=False):
    """The part of ``ConversationState`` the routers read.

    LangGraph gives a router a fresh copy of the state with its node's writes applied; with
    this narrower input schema it copies just these keys instead of re-running the
    ``messages`` reducer and reading every channel after each node.
    """

    turns: int
    final_choice: str | None


def route_after_user(state: RouteView) -> str:
    """To the judge once the user committed to an option, else to the assistant."""
    return JUDGE if state.get("final_choice") is not None else ASSISTANT


def make_route_after_assistant(spec: GraphSpec) -> Callable[[RouteView], str]:
    """Back to the user (through its scratchpad if the variant has one), or, once the user
    has had ``spec.max_turns`` turns, to the forced answer."""
    next_user = USER_COT if spec.user_cot else USER

    def route_after_assistant(state: RouteView) -> str:
        return FORCE_ANSWER if state.get("turns", 0) >= spec.max_turns else next_user

    return route_after_assistant
