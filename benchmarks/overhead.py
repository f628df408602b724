"""Framework overhead: instant fake models through the full graph, judge and storage.

Every model is a ``fake:`` model that answers instantly, so the time measured is chatbench's
own: LangGraph steps, prompt building, ``extract_choice``, record validation and the SQLite
store. Each scenario runs ``run_conversations`` into a fresh ``ResultStore`` and counts user
turns (``record.turns`` summed, the forced answer included).

Usage::

    python benchmarks/overhead.py [--conversations 300] [--max-turns 10] [--repeat 3]
                                  [--executor thread process] [--processes N]

Prints a table, then the fastest headline row and, as its last line, ``turns_per_s: N`` for
the full scenario (forced answer + judge + storage) on the best executor, each row the best of
``--repeat`` runs. With the thread executor every scenario runs in this process, one
conversation at a time; with the process executor the full scenario runs in ``--processes``
worker processes (default: one per CPU) while this process stores every record. The workers'
one-time start-up (a fork server that imports chatbench, as a fresh interpreter would) happens
in the warm-up, like this process's own imports; each timed run still starts its workers.
Their CPU time is not visible here, so process rows show wall time only.

Two reference rows put it in context: ``what-if: synchronous=FULL`` (an fsync per commit; the
store uses NORMAL under WAL) and ``langgraph floor`` (the same graph with stub nodes, in one
process: LangGraph's own cost, which chatbench cannot go below in one process).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

from chatbench import (
    GraphSpec,
    ResultStore,
    SimContext,
    initial_state,
    load_questions,
    run_conversations,
)
from chatbench.data.questions import Question
from chatbench.graphs.builder import DEFAULT_RETRY
from chatbench.models.registry import get_chat_model
from chatbench.nodes import make_route_after_assistant, route_after_user, untraced
from chatbench.runner.batch import Executor
from chatbench.runner.process_executor import default_processes
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, ConversationState, StopReason


@dataclass(frozen=True)
class Scenario:
    """One benchmark configuration."""

    name: str
    user: str
    assistant: str
    judge: str | None
    store: bool
    sqlite_pragma: str | None = None
    """Run on the store's connection first (a what-if for settings storage.py does not make)."""


SCENARIOS: tuple[Scenario, ...] = (
    # The headline: the user never answers, so every conversation runs max_turns user turns,
    # a forced answer the rules cannot read, and a judge call; each record is committed.
    Scenario("full: say:hmm + judge + store", "fake:say:hmm", "fake:echo", "fake:say:B", True),
    Scenario("no judge, store", "fake:say:hmm", "fake:echo", None, True),
    Scenario("no judge, no store", "fake:say:hmm", "fake:echo", None, False),
    # Short conversations: one question, one answer; per-conversation costs dominate.
    Scenario("fake:user (2 turns) + store", "fake:user", "fake:echo", None, True),
    Scenario(
        "what-if: synchronous=FULL",
        "fake:say:hmm",
        "fake:echo",
        "fake:say:B",
        True,
        sqlite_pragma="PRAGMA synchronous=FULL",
    ),
)
HEADLINE = SCENARIOS[0].name


@dataclass(frozen=True)
class Result:
    """Timing of one scenario run."""

    conversations: int
    turns: int
    seconds: float
    cpu_seconds: float | None
    """Process CPU time: steadier than wall time when other work shares the cores (None
    when worker processes did the work)."""

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds

    @property
    def conversations_per_s(self) -> float:
        return self.conversations / self.seconds


def _questions(n: int) -> list[Question]:
    """``n`` questions: the bundled ones, cycled with distinct ids when ``n`` exceeds them."""
    bundled = load_questions(limit=None)
    return [
        q if i < len(bundled) else q.model_copy(update={"id": f"{q.id}#{i // len(bundled)}"})
        for i, q in ((i, bundled[i % len(bundled)]) for i in range(n))
    ]


def run_scenario(
    scenario: Scenario,
    questions: list[Question],
    spec: GraphSpec,
    executor: Executor = "thread",
    processes: int | None = None,
) -> Result:
    """Run every question once under ``scenario`` into a fresh store, on ``executor``."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "bench.sqlite") if scenario.store else None
        if store is not None and scenario.sqlite_pragma:
            store._db.execute(scenario.sqlite_pragma)  # what-if only: the store has no option
        try:
            gc.collect()
            started, cpu_started = time.perf_counter(), time.process_time()
            records = run_conversations(
                questions,
                spec,
                user=scenario.user,
                assistant=scenario.assistant,
                judge=scenario.judge,
                store=store,
                run_id="bench",
                executor=executor,
                processes=processes,
            )
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started if executor == "thread" else None
        finally:
            if store is not None:
                store.close()
    errors = [r.error for r in records if r.error]
    if errors:
        raise SystemExit(f"{scenario.name}: {len(errors)} conversations failed: {errors[0]}")
    return Result(len(records), sum(r.turns for r in records), seconds, cpu_seconds)


def langgraph_floor(questions: list[Question], spec: GraphSpec) -> Result:
    """chatbench's graph shape (nodes, routers, retry policy, context, streamed values) with
    stub nodes that return same-shaped updates: no simulator, model, choice extraction,
    record or store. What LangGraph itself costs per turn on this machine."""

    def timing(node: str) -> list[dict[str, object]]:
        return [{"node": node, "seconds": 0.0, "input_tokens": None, "output_tokens": None}]

    def user(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, object]:
        return {
            "messages": [HumanMessage(content="hmm")],
            "turns": state.get("turns", 0) + 1,
            "final_choice": None,
            "forced": False,
            "timings": timing(USER),
        }

    def assistant(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, object]:
        return {"messages": [AIMessage(content="hmm")], "timings": timing(ASSISTANT)}

    def force_answer(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, object]:
        return {**user(state, runtime), "forced": True, "timings": timing(FORCE_ANSWER)}

    def judge(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, object]:
        return {"verdict": "no_answer", "stop_reason": StopReason.FORCED, "timings": timing(JUDGE)}

    graph = StateGraph(ConversationState, context_schema=SimContext)
    for name, node in ((USER, user), (ASSISTANT, assistant), (FORCE_ANSWER, force_answer)):
        graph.add_node(name, node, retry_policy=DEFAULT_RETRY)
    graph.add_node(JUDGE, judge, retry_policy=DEFAULT_RETRY)
    graph.add_edge(START, USER)
    graph.add_conditional_edges(USER, untraced(route_after_user), [JUDGE, ASSISTANT])
    graph.add_conditional_edges(
        ASSISTANT, untraced(make_route_after_assistant(spec)), [USER, FORCE_ANSWER]
    )
    graph.add_edge(FORCE_ANSWER, JUDGE)
    compiled = graph.compile().with_config(recursion_limit=4 * spec.max_turns + 10)
    context = SimContext(assistant=get_chat_model("fake:echo"), seed=0)
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    turns = 0
    for question in questions:
        # Drained like simulate() does; the last state counts the turns.
        (final,) = deque(
            compiled.stream(initial_state(question), context=context, stream_mode="values"),
            maxlen=1,
        )
        turns += final["turns"]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return Result(len(questions), turns, seconds, cpu_seconds)


def best_of(repeat: int, fn: Callable[[], Result]) -> Result:
    """The fastest of ``repeat`` runs (the least disturbed by the rest of the machine)."""
    return min((fn() for _ in range(repeat)), key=lambda r: r.seconds)


def _row(name: str, result: Result) -> str:
    cpu = "-" if result.cpu_seconds is None else f"{result.cpu_seconds:.3f}"
    per_cpu = "-" if result.cpu_seconds is None else f"{result.turns / result.cpu_seconds:.0f}"
    return (
        f"{name:<40} {result.conversations:>6} {result.turns:>7} {result.seconds:>7.3f} "
        f"{cpu:>7} {result.turns_per_s:>8.0f} {per_cpu:>11} {result.conversations_per_s:>8.1f}"
    )


def _runs(
    args: argparse.Namespace, questions: list[Question], spec: GraphSpec
) -> list[tuple[str, Callable[[], Result]]]:
    """The rows to time: scenarios on threads, the headline on worker processes, the floor."""
    runs: list[tuple[str, Callable[[], Result]]] = []
    if "thread" in args.executor:
        scenarios = SCENARIOS[:1] if args.only_headline else SCENARIOS
        runs += [(s.name, partial(run_scenario, s, questions, spec)) for s in scenarios]
    if "process" in args.executor:
        name = f"full, process executor ({args.processes} workers)"
        runs.append((name, partial(run_scenario, SCENARIOS[0], questions, spec, "process",
                                   args.processes)))
    if not args.only_headline:
        runs.append(("langgraph floor (stub nodes)", partial(langgraph_floor, questions, spec)))
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--max-turns", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only-headline", action="store_true")
    parser.add_argument("--executor", nargs="+", choices=("thread", "process"),
                        default=["thread", "process"], help="executors to time (default: both)")
    parser.add_argument("--processes", type=int, default=default_processes(),
                        help="worker processes of the process executor (default: one per CPU)")
    args = parser.parse_args(argv)

    spec = GraphSpec(max_turns=args.max_turns)
    questions = _questions(args.conversations)
    # Warm up imports, regex compilation, LangGraph's lazy setup and the process executor's
    # fork server outside the timings.
    for executor in args.executor:
        run_scenario(SCENARIOS[0], questions[:5], spec, executor, args.processes)

    header = (
        f"{'scenario':<40} {'convs':>6} {'turns':>7} {'wall s':>7} {'cpu s':>7} "
        f"{'turns/s':>8} {'turns/cpu-s':>11} {'convs/s':>8}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, Result] = {}
    for name, run in _runs(args, questions, spec):
        results[name] = best_of(args.repeat, run)
        print(_row(name, results[name]))
    headline = [name for name in results if name == HEADLINE or name.startswith("full, process")]
    best = max(headline, key=lambda name: results[name].turns_per_s)
    print(f"best headline: {best}")
    print(f"turns_per_s: {results[best].turns_per_s:.0f}")


if __name__ == "__main__":
    main()
