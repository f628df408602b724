"""``build_graph(spec)``: the conversation state machine of one variant.

The structure shows the variant: with ``user_cot`` a ``user_cot`` node runs before every user
turn, so ``get_graph()`` differs between variants::

    START -> [user_cot ->] user -(answered)-> judge -> END
                             \\-(else)-> assistant -(turn limit)-> force_answer -> judge
                                                   \\-(else)-> [user_cot ->] user ...

With ``ask_user_satisfaction`` a ``user_feedback`` node follows the judge.
"""

from __future__ import annotations

import os
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer, RetryPolicy

from chatbench._yaml import shorten
from chatbench.config import GraphSpec, load_graph_spec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.errors import ChatBenchError, ConfigError
from chatbench.graphs.checkpoint import with_state_types
from chatbench.nodes import (
    make_assistant_node,
    make_force_answer_node,
    make_judge_node,
    make_route_after_assistant,
    make_user_cot_node,
    make_user_feedback_node,
    make_user_node,
    route_after_user,
    untraced,
)
from chatbench.nodes._common import Node
from chatbench.scoring.rubrics import get_rubric
from chatbench.simulators.registry import get_simulator
from chatbench.state import (
    ASSISTANT,
    FORCE_ANSWER,
    JUDGE,
    USER,
    USER_COT,
    USER_FEEDBACK,
    ConversationState,
)

_LANGGRAPH_RETRY_ON = RetryPolicy().retry_on
"""LangGraph's default test of a retryable exception, read from the public ``RetryPolicy``
(its function lives in a private module)."""


def transient_error(exc: Exception) -> bool:
    """Retry model-call failures and timeouts, never chatbench's own errors (bad config,
    unusable output). LangGraph's default gives up on ``OSError``, of which ``TimeoutError``
    is one."""
    if isinstance(exc, ChatBenchError):
        return False
    return isinstance(exc, TimeoutError) or _LANGGRAPH_RETRY_ON(exc)


def retry_policy(max_attempts: int = 3, initial_wait_s: float = 1.0) -> RetryPolicy:
    """Retries of transient model-call failures, with exponential backoff and jitter."""
    return RetryPolicy(max_attempts=max_attempts, initial_interval=initial_wait_s,
                       retry_on=transient_error)


DEFAULT_RETRY = retry_policy()
"""Three tries with exponential backoff and jitter on every model-calling node."""


def checked_input(node: Node) -> Node:
    """``node``, refusing to run without what every node reads: a ``SimContext`` (the
    ``context=`` of ``invoke``/``stream``) and a state with a ``Question`` (from
    ``initial_state``), with a ``ConfigError`` saying which is missing, not a ``KeyError`` or
    ``AttributeError`` from inside."""

    def run(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        if not isinstance(runtime.context, SimContext):
            got = type(runtime.context).__name__
            raise ConfigError(f"the conversation graph needs its context: invoke it with "
                              f"context=SimContext(assistant=..., user=...), not {got}")
        if not isinstance(state.get("question"), Question):
            raise ConfigError("the conversation graph's input has no question: invoke it with "
                              "initial_state(question), a chatbench Question")
        return node(state, runtime)

    run.__name__ = getattr(node, "__name__", "node")
    return run


def check_names(spec: GraphSpec, source: str | None = None) -> GraphSpec:
    """``spec``, once its simulator and rubrics name registered ones.

    A spec is plain data: ``GraphSpec`` checks its fields' shapes, and the names it holds are
    checked here, where a recipe is planned or a graph built, against the registries as they
    are then (so a rubric registered after the spec was made counts).

    Args:
        spec: The variant.
        source: What the spec came from, to start the message (a file, a grid cell);
            default ``graph spec 'NAME'``.

    Raises:
        ConfigError: An unknown name, with the field and the known names.
    """
    source = source or f"graph spec {spec.name!r}"
    problems = []
    try:
        get_simulator(spec.simulator)
    except ConfigError as exc:
        problems.append(f"{shorten(source)}: field 'simulator': {shorten(str(exc))}")
    for i, rubric in enumerate(spec.rubrics):
        try:
            get_rubric(rubric)
        except ConfigError as exc:
            problems.append(f"{shorten(source)}: field 'rubrics.{i}': {shorten(str(exc))}")
    if problems:
        raise ConfigError("\n".join(problems))
    return spec


def graph_spec(spec: GraphSpec | str | os.PathLike[str] | None) -> GraphSpec:
    """``spec`` as a checked ``GraphSpec``: None gives ``GraphSpec()``, a preset name or YAML
    path is loaded; its names are checked (``check_names``).

    Raises:
        ConfigError: It is none of these, names no preset or file, or holds an unknown name.
    """
    if spec is None:
        return GraphSpec()
    if isinstance(spec, GraphSpec):
        return check_names(spec)
    if isinstance(spec, (str, os.PathLike)):
        return check_names(load_graph_spec(spec), str(spec))
    raise ConfigError(f"argument 'spec': expected a GraphSpec, a preset name or a YAML path, "
                      f"got {type(spec).__name__}")


def build_state_graph(
    spec: GraphSpec | str, retry: RetryPolicy | None = DEFAULT_RETRY
) -> StateGraph[ConversationState, SimContext]:
    """The uncompiled graph of one variant, for users who add nodes of their own.

    Args:
        spec: The variant.
        retry: Retry policy of the model-calling nodes; None disables retries.

    Returns:
        A ``StateGraph`` with chatbench's nodes and edges, ready to extend or compile. To
        compile it with a checkpointer, give the saver ``serde=checkpoint_serde()`` (with
        the types of any fields you add), or LangGraph warns as it loads the state's types.
    """
    spec = graph_spec(spec)
    graph = StateGraph(ConversationState, context_schema=SimContext)
    user_entry = USER_COT if spec.user_cot else USER
    graph.add_node(USER, checked_input(make_user_node(spec)), retry_policy=retry)
    graph.add_node(ASSISTANT, checked_input(make_assistant_node(spec)), retry_policy=retry)
    graph.add_node(FORCE_ANSWER, checked_input(make_force_answer_node(spec)), retry_policy=retry)
    graph.add_node(JUDGE, checked_input(make_judge_node(spec)), retry_policy=retry)
    if spec.user_cot:
        graph.add_node(USER_COT, checked_input(make_user_cot_node(spec)), retry_policy=retry)
        graph.add_edge(USER_COT, USER)
    graph.add_edge(START, user_entry)
    graph.add_conditional_edges(USER, untraced(route_after_user), [JUDGE, ASSISTANT])
    graph.add_conditional_edges(
        ASSISTANT, untraced(make_route_after_assistant(spec)), [user_entry, FORCE_ANSWER]
    )
    graph.add_edge(FORCE_ANSWER, JUDGE)
    if spec.ask_user_satisfaction:
        graph.add_node(USER_FEEDBACK, checked_input(make_user_feedback_node(spec)),
                       retry_policy=retry)
        graph.add_edge(JUDGE, USER_FEEDBACK)
        graph.add_edge(USER_FEEDBACK, END)
    else:
        graph.add_edge(JUDGE, END)
    return graph


def build_graph(
    spec: GraphSpec | str | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    checkpointer: Checkpointer = None,
) -> CompiledStateGraph[ConversationState, SimContext]:
    """The compiled conversation graph of one variant.

    Args:
        spec: The variant; defaults to ``GraphSpec()`` (two-step, 10 turns, no persona). A
            preset name (``"quick"``) or a YAML path is loaded (``load_graph_spec``).
        retry: Retry policy of the model-calling nodes; None disables retries.
        checkpointer: A LangGraph checkpointer (``InMemorySaver()``, a SQLite or Postgres
            saver), so a conversation run with a ``thread_id`` can be inspected and resumed
            (``get_state``, ``get_state_history``). The graph uses it with a serializer that
            loads the state's own types without warnings (``with_state_types``).

    Returns:
        A compiled LangGraph graph; invoke it with ``initial_state(question)`` and
        ``context=SimContext(...)``.

    Example:
        >>> graph = build_graph(GraphSpec(user_cot=True))
        >>> "user_cot" in graph.get_graph().nodes
        True
    """
    spec = graph_spec(spec)
    # A conversation is up to 4 steps per user turn (cot, user, assistant, routing slack).
    return (
        build_state_graph(spec, retry)
        .compile(checkpointer=with_state_types(checkpointer))
        .with_config(recursion_limit=4 * spec.max_turns + 10)
    )
