"""What the nodes share: their type and per-call timing records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from chatbench.context import SimContext
from chatbench.datatypes import Completion, NodeTiming
from chatbench.state import ConversationState

Node = Callable[[ConversationState, Runtime[SimContext]], dict[str, Any]]
"""A graph node: reads the state and the runtime context, returns a partial update."""


def node_timing(node: str, role: str, seconds: float,
                completion: Completion | None = None) -> NodeTiming:
    """A ``NodeTiming`` for one call of ``role``'s model, with the completion's token counts
    when there is one and, when its reply was cut to the role's ``max_reply_chars``, what was
    (``truncated``)."""
    timing = NodeTiming(
        node=node,
        seconds=seconds,
        input_tokens=completion.input_tokens if completion else None,
        output_tokens=completion.output_tokens if completion else None,
        role=role,
    )
    if completion is not None and completion.truncated:
        timing["truncated"] = dict(completion.truncated)
    return timing
