"""Batches of conversations: questions x replicates, stored as each one ends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from chatbench._concurrency import map_bounded
from chatbench.config import GraphSpec, RunConfig
from chatbench.context import SimContext
from chatbench.graphs import build_graph
from chatbench.graphs.builder import DEFAULT_RETRY, retry_policy
from chatbench.personas import Persona
from chatbench.questions import Question, load_questions
from chatbench.records import ConversationRecord
from chatbench.runner.build import (
    ModelLike,
    Models,
    build_models,
    build_persona,
    build_spec,
    run_id_for,
)
from chatbench.runner.simulate import conversation_id, simulate
from chatbench.seeding import derive_seed
from chatbench.state import ConversationState
from chatbench.storage import ResultStore

OnRecord = Callable[[ConversationRecord], None]


@dataclass(frozen=True)
class Variant:
    """One cell of a run: a graph spec with its resolved models, persona and compiled graph."""

    spec: GraphSpec
    models: Models
    persona: Persona | None
    graph: CompiledStateGraph[ConversationState, SimContext]
    factors: dict[str, Any] = field(default_factory=dict)
    """Ablation factor values of this cell (empty outside ablations)."""
    call_timeout_s: float | None = None
    """Longest wait for one model call."""
    retry: RetryPolicy | None = DEFAULT_RETRY
    """Retry policy the graph's model-calling nodes were compiled with."""

    @classmethod
    def build(
        cls,
        spec: GraphSpec,
        models: Models,
        factors: dict[str, Any] | None = None,
        retry: RetryPolicy | None = DEFAULT_RETRY,
        call_timeout_s: float | None = None,
    ) -> Variant:
        """Load the persona and compile the graph of ``spec`` (with ``retry`` on its
        model-calling nodes)."""
        graph = build_graph(spec, retry=retry)
        return cls(spec, models, build_persona(spec), graph, dict(factors or {}), call_timeout_s,
                   retry)


@dataclass(frozen=True)
class Job:
    """One planned conversation."""

    question: Question
    variant: Variant
    replicate: int
    seed: int

    def id(self, run_id: str) -> str:
        """The conversation's idempotent key in the store."""
        return conversation_id(run_id, self.variant.spec.name, self.question.id, self.replicate)


def plan_jobs(
    questions: Sequence[Question], variants: Sequence[Variant], replicates: int, seed: int
) -> list[Job]:
    """Every variant x question x replicate, each with a seed derived from (run seed,
    question, variant, replicate), so reruns reproduce the same conversations."""
    return [
        Job(q, v, r, derive_seed(seed, q.id, v.spec.name, r))
        for v in variants
        for q in questions
        for r in range(replicates)
    ]


@dataclass(frozen=True)
class Recorder:
    """Where every executor's records go: into the store first, then to ``on_record``."""

    run_id: str
    store: ResultStore | None
    on_record: OnRecord | None

    def pending(self, jobs: Iterable[Job]) -> Iterator[Job]:
        """The jobs whose conversations are not in the store yet (read from it now)."""
        done = self.store.ids(self.run_id) if self.store is not None else set()
        return (job for job in jobs if job.id(self.run_id) not in done)

    def finish(self, record: ConversationRecord) -> ConversationRecord:
        """Store ``record`` and report it; returns it."""
        if self.store is not None:
            self.store.write(record)
        if self.on_record is not None:
            self.on_record(record)
        return record


def _execute(job: Job, run_id: str) -> ConversationRecord:
    variant = job.variant
    context = SimContext(
        assistant=variant.models.assistant,
        user=variant.models.user,
        judge=variant.models.judge,
        persona=variant.persona,
        seed=job.seed,
        call_timeout_s=variant.call_timeout_s,
    )
    return simulate(variant.graph, job.question, context, variant.spec, run_id=run_id,
                    replicate=job.replicate, models=variant.models.names,
                    factors=variant.factors)


def run_jobs(
    jobs: Iterable[Job],
    *,
    run_id: str,
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnRecord | None = None,
) -> Iterator[ConversationRecord]:
    """Run jobs (skipping those already stored), ``concurrency`` at a time, yielding records
    in the order they finish. Each record is stored before it is yielded.

    Conversations run in threads; calls to one local model from concurrent conversations
    are batched into one ``generate`` by the model's micro-batcher. At most
    ``2 * concurrency`` jobs are in flight, so memory stays flat however long the run.
    """
    recorder = Recorder(run_id, store, on_record)
    records = map_bounded(lambda job: _execute(job, run_id), recorder.pending(jobs), concurrency,
                          "chatbench-conv")
    yield from (recorder.finish(record) for record in records)


Executor = Literal["thread", "ray", "process"]


def execute(
    jobs: Sequence[Job],
    *,
    run_id: str,
    store: ResultStore | None = None,
    concurrency: int = 1,
    executor: Executor = "thread",
    ray_address: str | None = None,
    processes: int | None = None,
    on_record: OnRecord | None = None,
) -> Iterator[ConversationRecord]:
    """Run jobs on the chosen executor: threads in this process, worker processes on this
    machine (``processes`` of them, each running ``concurrency`` conversations at once), or
    Ray tasks (a local cluster, or the one at ``ray_address``). Same resume and storage
    semantics either way: this process stores each record as it arrives."""
    if executor == "ray":
        from chatbench.runner.ray_executor import run_jobs_ray

        return run_jobs_ray(jobs, run_id=run_id, store=store, on_record=on_record,
                            address=ray_address)
    if executor == "process":
        from chatbench.runner.process_executor import run_jobs_process

        return run_jobs_process(jobs, run_id=run_id, store=store, concurrency=concurrency,
                                on_record=on_record, processes=processes)
    return run_jobs(jobs, run_id=run_id, store=store, concurrency=concurrency,
                    on_record=on_record)


def run_conversations(
    questions: Sequence[Question],
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str = "run",
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnRecord | None = None,
    executor: Executor = "thread",
    processes: int | None = None,
) -> list[ConversationRecord]:
    """Run every question x replicate of one variant; store each record as it ends.

    Conversations already in ``store`` under the same id are skipped, so calling this
    again after an interruption finishes the run.

    Args:
        questions: The questions.
        spec: The variant.
        user: The simulator's model: a chat model or a model string (None for scripted), or
            all roles' models already resolved (``Models``).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; each conversation's seed is derived from (seed, question, variant,
            replicate), so reruns with local models reproduce the same transcripts.
        replicates: Conversations per question.
        run_id: Name of the run in the store.
        store: Where records are written as they finish.
        concurrency: Conversations run at once (local models batch their calls); with
            the process executor, in each worker process.
        on_record: Called with each new record (progress display).
        executor: ``"thread"`` (this process), ``"process"`` (worker processes: for fake
            and API models given as strings or picklable objects) or ``"ray"``.
        processes: Worker processes of the process executor; None for one per CPU.

    Returns:
        The records of the conversations run now (not those skipped), in finishing order.

    Example:
        >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
        ...     user="fake:say:Answer: A", assistant="fake:echo")
        >>> records[0].stop_reason.value
        'accepted'
    """
    models = user if isinstance(user, Models) else build_models(spec, user, assistant, judge)
    jobs = plan_jobs(questions, [Variant.build(spec, models)], replicates, seed)
    return list(execute(jobs, run_id=run_id, store=store, concurrency=concurrency,
                        executor=executor, processes=processes, on_record=on_record))


@dataclass(frozen=True)
class RunPlan:
    """A ``RunConfig`` resolved and checked: everything a run needs, before it starts."""

    config: RunConfig
    run_id: str
    spec: GraphSpec
    questions: list[Question]
    models: Models

    @property
    def planned(self) -> int:
        """Conversations in the run."""
        return len(self.questions) * self.config.replicates


def plan_run(config: RunConfig) -> RunPlan:
    """Resolve a config's names (questions, graph, persona, models), failing fast on mistakes.

    Raises:
        ConfigError: Bad questions, graph, persona or model names.
    """
    spec = build_spec(config)
    build_persona(spec)  # validate now, not at the first conversation
    questions = load_questions(config.questions, subjects=config.subjects, limit=config.limit)
    models = build_models(spec, config.user, config.assistant, config.judge)
    return RunPlan(config, run_id_for(config), spec, questions, models)


def run(
    config: RunConfig | RunPlan, *, on_record: OnRecord | None = None
) -> list[ConversationRecord]:
    """Run an evaluation described by a ``RunConfig`` (or its plan) into its store.

    Returns:
        Every record of the run in the store (earlier ones included, on a rerun).

    Raises:
        ConfigError: Bad questions, graph, persona or model names.
    """
    plan = config if isinstance(config, RunPlan) else plan_run(config)
    config = plan.config
    retry = retry_policy(config.max_attempts, config.retry_wait_s)
    variant = Variant.build(plan.spec, plan.models, retry=retry,
                            call_timeout_s=config.call_timeout_s)
    jobs = plan_jobs(plan.questions, [variant], config.replicates, config.seed)
    with ResultStore(config.out) as store:
        store.write_run(plan.run_id, "run", config.model_dump(mode="json"),
                        datetime.now(timezone.utc).isoformat())
        for _ in execute(jobs, run_id=plan.run_id, store=store, concurrency=config.concurrency,
                         executor=config.executor, ray_address=config.ray_address,
                         processes=config.processes, on_record=on_record):
            pass
        return list(store.records(plan.run_id))
