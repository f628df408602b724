"""Routers: the conditional edges that end a conversation or pass the turn."""

from __future__ import annotations

from collections.abc import Callable

from chatbench.config import GraphSpec
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, USER_COT, ConversationState


def route_after_user(state: ConversationState) -> str:
    """To the judge once the user committed to an option, else to the assistant."""
    return JUDGE if state.get("final_choice") is not None else ASSISTANT


def make_route_after_assistant(spec: GraphSpec) -> Callable[[ConversationState], str]:
    """Back to the user (through its scratchpad if the variant has one), or, once the user
    has had ``spec.max_turns`` turns, to the forced answer."""
    next_user = USER_COT if spec.user_cot else USER

    def route_after_assistant(state: ConversationState) -> str:
        return FORCE_ANSWER if state.get("turns", 0) >= spec.max_turns else next_user

    return route_after_assistant
