"""``build_graph(spec)``: the conversation state machine of one variant.

The structure shows the variant: with ``user_cot`` a ``user_cot`` node runs before every user
turn, so ``get_graph()`` differs between variants::

    START -> [user_cot ->] user -(answered)-> judge -> END
                             \\-(else)-> assistant -(turn limit)-> force_answer -> judge
                                                   \\-(else)-> [user_cot ->] user ...

With ``ask_user_satisfaction`` a ``user_feedback`` node follows the judge.

A scenario graph (``task="scenario"``: an open-ended ``Scenario`` instead of a question) has
no forced answer: the conversation ends when the user's turn says its goal is met or it gives
up, when the context's ``stopping_condition`` holds, or at the turn limit; its judge decides
each success criterion::

    START -> [user_cot ->] user -(goal met, gave up, stopped)-> judge -> END
                             \\-(else)-> assistant -(turn limit, stopped)-> judge
                                                   \\-(else)-> [user_cot ->] user ...
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
from chatbench.data.scenario import Scenario, TaskKind
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
from chatbench.nodes.routing import (
    make_route_after_scenario_assistant,
    route_after_scenario_user,
)
from chatbench.nodes.scenario import (
    make_scenario_judge_node,
    make_scenario_user_node,
    with_stopping_condition,
)
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


TASK_KINDS: tuple[TaskKind, ...] = ("question", "scenario")


def checked_input(node: Node, task: TaskKind = "question") -> Node:
    """``node``, refusing to run without what every node reads: a ``SimContext`` (the
    ``context=`` of ``invoke``/``stream``) and a state with a ``Question`` (a scenario graph:
    a ``Scenario``) from ``initial_state``, with a ``ConfigError`` saying which is missing,
    not a ``KeyError`` or ``AttributeError`` from inside."""
    expected = Scenario if task == "scenario" else Question

    def run(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        if not isinstance(runtime.context, SimContext):
            got = type(runtime.context).__name__
            raise ConfigError(f"the conversation graph needs its context: invoke it with "
                              f"context=SimContext(assistant=..., user=...), not {got}")
        if not isinstance(state.get("question"), expected):
            other = "build_graph(spec)" if task == "scenario" else \
                "build_graph(spec, task='scenario')"
            got = type(state.get("question")).__name__
            raise ConfigError(f"the {task} graph's input has no {task}: invoke it with "
                              f"initial_state({task}), a chatbench {expected.__name__} (got "
                              f"{got}; a {'question' if task == 'scenario' else 'scenario'} "
                              f"needs {other})")
        return node(state, runtime)

    run.__name__ = getattr(node, "__name__", "node")
    return run


CAUSAL_LM = "causal_lm"


def check_task(spec: GraphSpec, task: TaskKind) -> None:
    """Refuse a variant that cannot play ``task``.

    Raises:
        ConfigError: An unknown task, or a scenario with the causal-LM simulator (trained on
            multiple-choice conversations; it has no way to be told a scenario).
    """
    if task not in TASK_KINDS:
        raise ConfigError(f"argument 'task': expected one of {', '.join(TASK_KINDS)}, got "
                          f"{task!r}")
    if task == "scenario" and spec.simulator == CAUSAL_LM:
        raise ConfigError(f"graph spec {spec.name!r}: simulator 'causal_lm' plays multiple-"
                          f"choice questions only; scenarios need a prompted simulator "
                          f"(two_step...), scripted turns, or one registered for scenarios")


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
    spec: GraphSpec | str, retry: RetryPolicy | None = DEFAULT_RETRY,
    task: TaskKind = "question",
) -> StateGraph[ConversationState, SimContext]:
    """The uncompiled graph of one variant, for users who add nodes of their own.

    Args:
        spec: The variant.
        retry: Retry policy of the model-calling nodes; None disables retries.
        task: ``"question"`` (multiple choice) or ``"scenario"`` (see the module docstring).

    Returns:
        A ``StateGraph`` with chatbench's nodes and edges, ready to extend or compile. To
        compile it with a checkpointer, give the saver ``serde=checkpoint_serde()`` (with
        the types of any fields you add), or LangGraph warns as it loads the state's types.
    """
    spec = graph_spec(spec)
    check_task(spec, task)
    if task == "scenario":
        return scenario_graph(spec, retry)
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


def scenario_graph(
    spec: GraphSpec, retry: RetryPolicy | None
) -> StateGraph[ConversationState, SimContext]:
    """The uncompiled scenario graph of ``spec`` (``build_state_graph(spec, task="scenario")``)."""
    graph = StateGraph(ConversationState, context_schema=SimContext)
    user_entry = USER_COT if spec.user_cot else USER

    def add(name: str, node: Node) -> None:
        graph.add_node(name, checked_input(node, "scenario"), retry_policy=retry)

    add(USER, with_stopping_condition(make_scenario_user_node(spec)))
    add(ASSISTANT, with_stopping_condition(make_assistant_node(spec)))
    add(JUDGE, make_scenario_judge_node(spec))
    if spec.user_cot:
        add(USER_COT, make_user_cot_node(spec))
        graph.add_edge(USER_COT, USER)
    graph.add_edge(START, user_entry)
    graph.add_conditional_edges(USER, untraced(route_after_scenario_user), [JUDGE, ASSISTANT])
    graph.add_conditional_edges(
        ASSISTANT, untraced(make_route_after_scenario_assistant(spec)), [user_entry, JUDGE]
    )
    if spec.ask_user_satisfaction:
        add(USER_FEEDBACK, make_user_feedback_node(spec))
        graph.add_edge(JUDGE, USER_FEEDBACK)
        graph.add_edge(USER_FEEDBACK, END)
    else:
        graph.add_edge(JUDGE, END)
    return graph


def build_graph(
    spec: GraphSpec | str | None = None,
    retry: RetryPolicy | None = DEFAULT_RETRY,
    checkpointer: Checkpointer = None,
    task: TaskKind = "question",
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
        task: ``"question"`` (the default: multiple choice) or ``"scenario"``: the graph of an
            open-ended ``Scenario`` (see the module docstring).

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
    # A scenario may set its own turn limit, up to the largest a spec may (100).
    turns = 100 if task == "scenario" else spec.max_turns
    return (
        build_state_graph(spec, retry, task)
        .compile(checkpointer=with_state_types(checkpointer))
        .with_config(recursion_limit=4 * turns + 10)
    )
