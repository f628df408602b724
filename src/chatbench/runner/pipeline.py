"""The run pipeline: jobs, executors, and the one core that windows and records them.

A job is plain data (a dataclass with a ``recipe`` field, ``id(run_id)`` and
``run(run_id)``): a conversation (``Job``), an AI-alone answer
(``chatbench.baselines.BaselineJob``)... Its ``record_kind`` (a ``RecordKind``) says how its
records are stored. An executor (``JobExecutor``: threads here, worker processes in
``process_executor``, Ray in ``ray_executor``) turns jobs into records in finishing order.
``execute`` is the shared core around it: skip what the store holds, run the rest, store
each record before anyone sees it.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from chatbench._text import encodable, model_json
from chatbench.config import DEFAULT_CONCURRENCY
from chatbench.data.question import Question
from chatbench.data.scenario import Scenario
from chatbench.models.demand import local_demand
from chatbench.records import ConversationRecord, error_record
from chatbench.runner.recipe import Recipe, Variant, resolve
from chatbench.runner.simulate import Conversation, conversation_id
from chatbench.seeding import conversation_seed
from chatbench.storage import ResultStore, UnstorableRecordError

Item = TypeVar("Item")
Result = TypeVar("Result")
R = TypeVar("R", bound=BaseModel)
OnRecord = Callable[[Any], None]


# --------------------------------------------------------------------------------------------
# What a job is, and how its records are stored
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """How the records of one kind of job are read from and written to the store."""

    record_type: type[R]
    ids: Callable[[ResultStore, str], set[str]]
    """Ids stored under a run."""
    failed_ids: Callable[[ResultStore, str], set[str]]
    """Ids stored as failed (run again unless ``retry_failed`` is False)."""
    lost_ids: Callable[[ResultStore, str], set[str]]
    """Ids whose rows no version can read (always run again)."""
    write: Callable[[ResultStore, R], None]
    unstorable: Callable[[R, str], R]
    """The record cut down to what any store holds, failed with the reason."""

    def sendable_json(self, record: R) -> str:
        """``record`` as JSON text for another process (lone surrogates escaped); one JSON
        cannot hold is sent as its ``unstorable`` record, as the store would keep it,
        rather than failing the worker that ran it."""
        try:
            return model_json(record)
        except Exception as exc:  # pydantic raises PydanticSerializationError, ValueError...
            return model_json(self.unstorable(record, f"the record could not be sent: {exc}"))


CONVERSATIONS: RecordKind[ConversationRecord] = RecordKind(
    ConversationRecord,
    ids=lambda store, run_id: store.ids(run_id),
    failed_ids=lambda store, run_id: store.failed_ids(run_id),
    lost_ids=lambda store, run_id: store.lost_ids(run_id),
    write=lambda store, record: store.write(record),
    unstorable=error_record,
)


class Task(Protocol):
    """What every executor runs: a dataclass with a ``recipe`` field (sent once per worker)
    whose ``run`` never raises for a model failure (the failure is in the record)."""

    @property
    def recipe(self) -> Any: ...

    @property
    def record_kind(self) -> RecordKind[Any]: ...

    def id(self, run_id: str) -> str: ...

    def run(self, run_id: str) -> Any: ...


@dataclass(frozen=True)
class Job:
    """One planned conversation: a question (or scenario), its variant's recipe, replicate
    and seed."""

    question: Question | Scenario
    recipe: Recipe
    replicate: int
    seed: int
    record_kind = CONVERSATIONS

    def __post_init__(self) -> None:
        if isinstance(self.recipe, Variant):  # a built variant: its recipe resolves to it
            object.__setattr__(self, "recipe", self.recipe.recipe)

    @property
    def variant(self) -> Variant:
        """The built variant (built in this process on first use)."""
        return resolve(self.recipe)

    def id(self, run_id: str) -> str:
        """The conversation's idempotent key in the store."""
        return conversation_id(run_id, self.recipe.spec.name, self.question.id, self.replicate)

    def run(self, run_id: str) -> ConversationRecord:
        """Run the conversation; a model failure is an error record, never raised."""
        return execute_job(self, run_id)


def plan_jobs(
    questions: Sequence[Question | Scenario], variants: Sequence[Recipe | Variant], replicates: int,
    seed: int,
) -> list[Job]:
    """Every variant x question x replicate, each with a seed derived from (run seed,
    question, variant, replicate), so reruns reproduce the same conversations."""
    recipes = [v.recipe if isinstance(v, Variant) else v for v in variants]
    return [
        Job(q, recipe, r, conversation_seed(seed, q.id, recipe.spec.name, r))
        for recipe in recipes
        for q in questions
        for r in range(replicates)
    ]


def execute_job(job: Job, run_id: str) -> ConversationRecord:
    """Run one job's conversation and return its record (never raises for a model failure:
    a failed conversation is an error record). Builds the job's variant in this process on
    first use (``resolve``), which raises if a model cannot be made here."""
    return conversation_of(job, resolve(job.recipe), run_id).run()


def conversation_of(job: Job, variant: Variant, run_id: str) -> Conversation:
    """The ``Conversation`` of ``job`` on its built ``variant``: how batches, streams and the
    async API all start one (its context made once: an ``app:`` factory's app is this
    conversation's own)."""
    return Conversation(variant.graph_for(job.question), job.question, variant.context(job.seed),
                        variant.spec,
                        run_id=run_id, replicate=job.replicate, models=variant.models.names,
                        factors=variant.factors)


# --------------------------------------------------------------------------------------------
# The shared core: window, record
# --------------------------------------------------------------------------------------------


def windowed(
    items: Iterable[Item],
    start: Callable[[Item], None],
    next_done: Callable[[], list[Result]],
    limit: int,
) -> Iterator[Result]:
    """Start items while fewer than ``limit`` are in flight and yield the results of each
    one that finishes (``next_done`` waits for one and returns its results, or raises its
    failure). After a failure no new item starts; those in flight are still yielded, then
    the first failure is raised. Every executor runs its jobs through this.
    """
    items = iter(items)
    in_flight = 0
    failure: BaseException | None = None
    while True:
        while failure is None and in_flight < limit:
            item = next(items, _END)
            if item is _END:
                break
            start(item)  # type: ignore[arg-type]  # not the end marker
            in_flight += 1
        if not in_flight:
            break
        in_flight -= 1
        try:
            results = next_done()
        except Exception as exc:  # one item failed as a whole: keep the others in flight
            failure = failure or exc
            continue
        yield from results
    if failure is not None:
        raise failure


_END = object()


@dataclass(frozen=True)
class Recorder:
    """Where every executor's records go: into the store first, then to ``on_record``."""

    run_id: str
    store: ResultStore | None
    on_record: OnRecord | None
    kind: RecordKind[Any] = CONVERSATIONS

    def pending(self, jobs: Iterable[Task], retry_failed: bool = True) -> Iterator[Task]:
        """The jobs whose records are not in the store yet, as read from it now; stored
        failures (unless ``retry_failed`` is False) and rows no version can read
        (``lost_ids``) run again, their new records replacing the rows."""
        done: set[str] = set()
        if self.store is not None:
            done = self.kind.ids(self.store, self.run_id) - self.kind.lost_ids(self.store,
                                                                             self.run_id)
            if retry_failed:
                done -= self.kind.failed_ids(self.store, self.run_id)
        # the store keeps ids as UTF-8 can hold them (``encodable``)
        return (job for job in jobs if encodable(job.id(self.run_id)) not in done)

    def finish(self, record: Any) -> Any:
        """Store ``record`` and report it; returns what was stored.

        A record the store cannot hold as it is becomes its kind's ``unstorable`` record
        (failed, with the reason), so the job is accounted for and the run goes on. Only a
        store that cannot be written at all (``StoreError``) stops the run.
        """
        if self.store is not None:
            try:
                self.kind.write(self.store, record)
            except UnstorableRecordError as exc:
                record = self.kind.unstorable(record, f"the record could not be stored: {exc}")
                self.kind.write(self.store, record)
        if self.on_record is not None:
            self.on_record(record)
        return record


class JobExecutor(Protocol):
    """Runs jobs somewhere (threads, processes, Ray) and yields their records as they finish.

    ``check`` refuses, before anything runs, jobs this executor cannot carry. ``map`` must
    stop starting jobs after a failure, yield the records of those in flight, then raise it.
    It never stores: ``execute`` does, in this process.
    """

    def check(self, jobs: Sequence[Task]) -> None: ...

    def map(self, jobs: Iterator[Task], run_id: str, kind: RecordKind[Any]) -> Iterator[Any]: ...


def execute(
    jobs: Sequence[Task],
    executor: JobExecutor,
    *,
    run_id: str,
    store: ResultStore | None = None,
    on_record: OnRecord | None = None,
    retry_failed: bool = True,
    kind: RecordKind[Any] | None = None,
) -> Iterator[Any]:
    """Run the jobs not stored yet on ``executor``, yielding records in finishing order;
    each record is stored (by this process) before it is yielded.

    Raises:
        ConfigError: The executor cannot carry these jobs (``check``), before anything runs.
    """
    kind = kind or (jobs[0].record_kind if jobs else CONVERSATIONS)
    executor.check(jobs)
    recorder = Recorder(run_id, store, on_record, kind)
    records = executor.map(recorder.pending(jobs, retry_failed), run_id, kind)
    return _stored(records, recorder, len(jobs))


def _stored(records: Iterator[Any], recorder: Recorder, jobs: int) -> Iterator[Any]:
    """Each record stored as it comes; local engines loaded meanwhile in this process are
    told no more than ``jobs`` calls are ever in flight (a run of 5 conversations at
    concurrency 32 needs 5 slots, ``models.demand``)."""
    with local_demand(slots_at_most=max(1, jobs)):
        for record in records:
            yield recorder.finish(record)


# --------------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadExecutor:
    """Jobs on ``concurrency`` threads of this process (inline for 1). Calls to one local
    model from concurrent conversations are batched by its engine. At most
    ``2 * concurrency`` jobs are in flight, so memory stays flat however long the run."""

    concurrency: int = DEFAULT_CONCURRENCY

    def check(self, jobs: Sequence[Task]) -> None:
        """Threads carry anything."""

    def map(self, jobs: Iterator[Task], run_id: str, kind: RecordKind[Any]) -> Iterator[Any]:
        """Records of ``jobs`` in finishing order."""
        return run_in_threads(lambda job: job.run(run_id), jobs, self.concurrency)


def run_in_threads(
    fn: Callable[[Item], Result], items: Iterable[Item], concurrency: int,
    thread_name: str = "chatbench-job",
) -> Iterator[Result]:
    """``fn`` over ``items`` on ``concurrency`` threads through ``windowed`` (in the calling
    thread, in order, for ``concurrency <= 1``). Every executor runs its jobs through this,
    in whichever process runs them, so it is where local engines loaded by the jobs learn
    the run's concurrency (``models.demand``: their slots)."""
    with local_demand(slots=max(1, concurrency)):
        if concurrency <= 1:  # one at a time: a failure raises before the next item starts
            for item in items:
                yield fn(item)
        else:
            yield from _threaded(fn, items, concurrency, thread_name)


def _threaded(
    fn: Callable[[Item], Result], items: Iterable[Item], concurrency: int, thread_name: str
) -> Iterator[Result]:
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix=thread_name)
    finished: queue.SimpleQueue[Future[Result]] = queue.SimpleQueue()

    def start(item: Item) -> None:
        pool.submit(fn, item).add_done_callback(finished.put)

    def next_finished() -> list[Result]:
        while True:  # a blocking SimpleQueue.get() would hold Ctrl-C until a job finishes
            try:
                return [finished.get(timeout=INTERRUPT_POLL_S).result()]
            except queue.Empty:
                continue

    interrupted = False
    try:
        yield from windowed(items, start, next_finished, 2 * concurrency)
    except KeyboardInterrupt:
        interrupted = True  # jobs in a hung model call must not hold the interrupt
        raise
    finally:
        # When the caller stops early (a closed generator), jobs not started are dropped.
        pool.shutdown(wait=not interrupted, cancel_futures=True)


INTERRUPT_POLL_S = 0.2
"""How often a thread waiting for jobs wakes to let Ctrl-C through."""

