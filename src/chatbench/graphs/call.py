"""One model call outside a conversation, retried by the same LangGraph ``RetryPolicy`` as
the conversation graph's nodes (AI-alone baselines, graders): one retry mechanism."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy
from typing_extensions import TypedDict

Result = TypeVar("Result")


class _CallState(TypedDict, total=False):
    result: Any


@dataclass(frozen=True)
class _Call:
    fn: Callable[[], Any]


def _run(state: _CallState, runtime: Runtime[_Call]) -> _CallState:
    return {"result": runtime.context.fn()}


@functools.lru_cache(maxsize=32)
def _graph(retry: RetryPolicy | None) -> CompiledStateGraph[_CallState, _Call]:
    graph = StateGraph(_CallState, context_schema=_Call)
    graph.add_node("call", _run, retry_policy=retry)
    graph.add_edge(START, "call")
    graph.add_edge("call", END)
    return graph.compile()


def call_with_retry(fn: Callable[[], Result], retry: RetryPolicy | None) -> Result:
    """``fn()``, retried as ``retry`` says (None: once).

    Raises:
        Exception: What ``fn`` raised last, once the attempts are spent (or at once for an
            error ``retry`` does not retry).

    Example:
        >>> from chatbench.graphs.builder import retry_policy
        >>> call_with_retry(lambda: 6 * 7, retry_policy(3, 0.0))
        42
    """
    state = _graph(retry).invoke({}, context=_Call(fn))
    return state["result"]  # type: ignore[no-any-return]  # what fn returned
