"""Batches of conversations: questions x replicates, stored as each one ends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from chatbench._concurrency import map_bounded
from chatbench._text import encodable
from chatbench.config import GraphSpec, RunConfig
from chatbench.context import SimContext
from chatbench.data.questions import Question, load_questions
from chatbench.graphs import build_graph
from chatbench.graphs.builder import DEFAULT_RETRY, retry_policy
from chatbench.personas import Persona
from chatbench.records import ConversationRecord, error_record
from chatbench.runner.build import (
    ModelLike,
    Models,
    absolute_config,
    build_models,
    build_persona,
    build_spec,
    check_timing,
    run_id_for,
)
from chatbench.runner.identity import (
    RunIdentity,
    VariantIdentity,
    claim_run,
    run_identity,
    variant_identity,
    warn_about,
)
from chatbench.runner.simulate import conversation_id, simulate
from chatbench.seeding import derive_seed
from chatbench.state import ConversationState
from chatbench.storage import ResultStore, UnstorableRecordError

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
        model-calling nodes).

        Raises:
            ConfigError: A bad persona, or a call timeout or retry wait that can only fail
                (``check_timing``).
        """
        check_timing(call_timeout_s, None if retry is None else retry.initial_interval)
        graph = build_graph(spec, retry=retry)
        return cls(spec, models, build_persona(spec), graph, dict(factors or {}), call_timeout_s,
                   retry)

    def identity(self) -> VariantIdentity:
        """What determines this variant's conversations (part of a run's identity)."""
        return variant_identity(self.spec, self.persona,
                                self.models.identity or self.models.names)


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
        """The jobs whose conversations are not in the store yet, are stored as failed, or
        whose rows no version can read (``ResultStore.lost_ids``), as read from it now: such
        a conversation runs again and its new record replaces the row.
        ``execute(retry_failed=False)`` leaves failed ones out beforehand."""
        done = set()
        if self.store is not None:
            done = (self.store.ids(self.run_id) - self.store.failed_ids(self.run_id)
                    - self.store.lost_ids(self.run_id))
        # the store keeps ids as UTF-8 can hold them (``encodable``)
        return (job for job in jobs if encodable(job.id(self.run_id)) not in done)

    def finish(self, record: ConversationRecord) -> ConversationRecord:
        """Store ``record`` and report it; returns what was stored.

        A record the store cannot hold as it is becomes its ``error_record`` (stop reason
        ``error``, with the reason), so the conversation is accounted for and the run goes
        on. Only a store that cannot be written at all (``StoreError``) stops the run.
        """
        if self.store is not None:
            try:
                self.store.write(record)
            except UnstorableRecordError as exc:
                record = error_record(record, f"the record could not be stored: {exc}")
                self.store.write(record)
        if self.on_record is not None:
            self.on_record(record)
        return record


def execute_job(job: Job, run_id: str) -> ConversationRecord:
    """Run one job's conversation and return its record (never raises for a model failure:
    a failed conversation is an error record). Every executor calls this, in whatever
    thread, process or Ray task runs the job."""
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
    records = map_bounded(lambda job: execute_job(job, run_id), recorder.pending(jobs), concurrency,
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
    retry_failed: bool = True,
) -> Iterator[ConversationRecord]:
    """Run jobs on the chosen executor: threads in this process, worker processes on this
    machine (``processes`` of them, each running ``concurrency`` conversations at once), or
    Ray tasks (a local cluster, or the one at ``ray_address``). Same resume and storage
    semantics either way: this process stores each record as it arrives.

    Conversations stored already are skipped, except failed ones (stop reason ``error``):
    those run again, their rows replaced, unless ``retry_failed`` is False.
    """
    if not retry_failed and store is not None:
        failed = store.failed_ids(run_id)
        jobs = [job for job in jobs if encodable(job.id(run_id)) not in failed]
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
    retry_failed: bool = True,
) -> list[ConversationRecord]:
    """Run every question x replicate of one variant; store each record as it ends.

    Conversations already in ``store`` under the same id are skipped, so calling this
    again after an interruption finishes the run; failed ones run again (``retry_failed``).
    The store keeps the run's identity (``chatbench.runner.identity``): calling this with
    a ``run_id`` the store holds for other questions, spec, persona or models is refused.

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
        retry_failed: Run again conversations stored as failed (stop reason ``error``),
            replacing their rows; False skips them like any stored conversation.

    Returns:
        The records of the conversations run now (not those skipped), in finishing order.

    Raises:
        ConfigError: Bad models, or ``run_id`` is stored in ``store`` with other settings.

    Example:
        >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
        ...     user="fake:say:Answer: A", assistant="fake:echo")
        >>> records[0].stop_reason.value
        'accepted'
    """
    models = user if isinstance(user, Models) else build_models(spec, user, assistant, judge)
    variant = Variant.build(spec, models)
    if store is not None:
        identity = run_identity([variant.identity()], questions, seed, replicates)
        warn_about(claim_run(store, run_id, identity, names={spec.name: models.names}))
    jobs = plan_jobs(questions, [variant], replicates, seed)
    return list(execute(jobs, run_id=run_id, store=store, concurrency=concurrency,
                        executor=executor, processes=processes, on_record=on_record,
                        retry_failed=retry_failed))


@dataclass(frozen=True)
class RunPlan:
    """A ``RunConfig`` resolved and checked: everything a run needs, before it starts."""

    config: RunConfig
    run_id: str
    spec: GraphSpec
    questions: list[Question]
    models: Models
    identity: RunIdentity
    """What determines the run's results; a stored run with another is refused."""

    @property
    def planned(self) -> int:
        """Conversations in the run."""
        return len(self.questions) * self.config.replicates

    def claim(self, store: ResultStore) -> list[str]:
        """Check the run against what ``store`` holds under its id, then record it there
        (config and identity) for ``--resume``.

        Returns:
            Warnings to show (a run stored by an older chatbench).

        Raises:
            ConfigError: The store holds the run id with other settings.
        """
        return claim_run(store, self.run_id, self.identity,
                         names={self.spec.name: self.models.names}, kind="run",
                         config=self.config.model_dump(mode="json"))


def plan_run(config: RunConfig) -> RunPlan:
    """Resolve a config's names (questions, graph, persona, models), failing fast on mistakes.

    The plan's config has absolute paths (a resume from another directory reads the same
    files); its run id, unless given, is a hash of the run's identity: what the files
    hold, not their names.

    Raises:
        ConfigError: Bad questions, graph, persona or model names, or timing settings that
            can only fail.
    """
    check_timing(config.call_timeout_s, config.retry_wait_s)
    config = absolute_config(config)
    spec = build_spec(config)
    persona = build_persona(spec)  # validate now, not at the first conversation
    questions = load_questions(config.questions, subjects=config.subjects, limit=config.limit)
    models = build_models(spec, config.user, config.assistant, config.judge)
    identity = run_identity([variant_identity(spec, persona, models.identity)], questions,
                            config.seed, config.replicates)
    return RunPlan(config, run_id_for(config, identity.digest()), spec, questions, models,
                   identity)


def run(
    config: RunConfig | RunPlan, *, on_record: OnRecord | None = None
) -> list[ConversationRecord]:
    """Run an evaluation described by a ``RunConfig`` (or its plan) into its store.

    Stored conversations are skipped, except failed ones, which run again unless
    ``config.retry_failed`` is False.

    Returns:
        Every record of the run in the store (earlier ones included, on a rerun).

    Raises:
        ConfigError: Bad questions, graph, persona or model names, or the store holds the
            run id with other settings (edited files, other models...).
    """
    plan = run_to_store(config, on_record=on_record)
    with ResultStore(plan.config.out, read_only=True) as store:
        return list(store.records(plan.run_id))


def run_to_store(config: RunConfig | RunPlan, *, on_record: OnRecord | None = None) -> RunPlan:
    """``run``, keeping no record in memory: for runs of any size (the CLI summarises the
    store in SQL afterwards, ``ResultStore.summarize``).

    Returns:
        The run's plan (its ``run_id``, and ``config.out``, the store).

    Raises:
        ConfigError: As ``run``.
    """
    plan = config if isinstance(config, RunPlan) else plan_run(config)
    config = plan.config
    retry = retry_policy(config.max_attempts, config.retry_wait_s)
    variant = Variant.build(plan.spec, plan.models, retry=retry,
                            call_timeout_s=config.call_timeout_s)
    jobs = plan_jobs(plan.questions, [variant], config.replicates, config.seed)
    with ResultStore(config.out) as store:
        warn_about(plan.claim(store))
        for _ in execute(jobs, run_id=plan.run_id, store=store, concurrency=config.concurrency,
                         executor=config.executor, ray_address=config.ray_address,
                         processes=config.processes, on_record=on_record,
                         retry_failed=config.retry_failed):
            pass
    return plan
