"""The process executor: conversations spread over worker processes, stored by this one.

One Python process runs LangGraph's steps on one core however many threads it has, so a run
on fake or API models, whose calls cost this process little, is bound by chatbench's and
LangGraph's own Python. ``run_jobs_process`` starts ``processes`` workers (default: one per
CPU). Each runs the conversations it is sent with the thread runner's pool (``concurrency``
at a time) and no store, and sends each record back the moment its conversation ends; this
process, the one writer, stores it at once. So a kill loses no finished conversation that
reached this process, and a rerun resumes exactly as with threads.

Workers get each variant as a ``Recipe``: its spec, factors, retry policy, call timeout and,
per role, a model string (the worker builds the model again) or a model object, pickled.
Local models (``smollm2``, ``hf:``) would load once per worker, each copy batching only its
own conversations: they belong to the thread executor. Workers must be able to import
chatbench and any provider a model string names, and read the variants' persona files.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from langgraph.types import RetryPolicy

from chatbench._concurrency import map_bounded
from chatbench.config import ROLES, GraphSpec
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
from chatbench.models.base import TextCompleter
from chatbench.models.invoke import LOCAL_LLM_TYPE
from chatbench.records import ConversationRecord, sendable_json
from chatbench.runner.batch import Job, OnRecord, Recorder, Variant, execute_job
from chatbench.runner.build import build_models, is_local_model_string, is_model_string
from chatbench.storage import ResultStore

Task = tuple[int, Question, int, int]
"""One conversation for a worker: recipe index, question, replicate, seed."""
Outcome = tuple[str, Any]
"""What a worker sends back per task: ("record", the record as JSON) or ("failed", exception)."""
_POLL_S = 0.5
"""How often a waiting process checks that the other side is still alive."""


@dataclass(frozen=True)
class Recipe:
    """What a worker rebuilds a variant from: plain data and picklable models."""

    spec: GraphSpec
    models: dict[str, object]
    """Per role: a model string, a (picklable) model object, or None."""
    factors: dict[str, Any]
    retry: RetryPolicy | None
    call_timeout_s: float | None

    def build(self) -> Variant:
        """The variant, with its models resolved and its graph compiled, in this process."""
        user, assistant, judge = (self.models[role] for role in ROLES)
        models = build_models(self.spec, user, assistant, judge)  # type: ignore[arg-type]  # str or model
        return Variant.build(self.spec, models, self.factors, self.retry, self.call_timeout_s)


def default_processes() -> int:
    """Worker processes when none are asked for: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def run_jobs_process(
    jobs: Sequence[Job],
    *,
    run_id: str,
    store: ResultStore | None = None,
    concurrency: int = 1,
    on_record: OnRecord | None = None,
    processes: int | None = None,
) -> Iterator[ConversationRecord]:
    """Run jobs in worker processes (skipping those already stored), yielding records in
    the order they finish. Each record is stored, in this process, before it is yielded.

    If a worker cannot build a variant (a persona file it cannot read, a model it cannot
    make), no new conversations are sent, those in flight are still stored, and then the
    error is raised; a rerun finishes the run. Errors inside a conversation are recorded, as
    always. If a worker process dies, the conversations it was running are lost (a rerun
    runs them) and a ``RuntimeError`` is raised.

    Args:
        jobs: Planned conversations (``plan_jobs``).
        run_id: Name of the run in the store.
        store: Where records are written as they arrive.
        concurrency: Conversations each worker runs at once (threads, as ``run_jobs``).
        on_record: Called with each new record (progress display).
        processes: Worker processes; None for one per CPU.

    Returns:
        An iterator of the records of the conversations run now, in finishing order.

    Raises:
        ConfigError: A model object cannot be pickled, or ``processes`` is below 1.
    """
    if processes is not None and processes < 1:
        raise ConfigError(f"processes must be at least 1, got {processes}")
    variants = {id(job.variant): job.variant for job in jobs}
    recipes = {key: recipe_for(variant) for key, variant in variants.items()}
    _warn_about_local_models(variants.values(), processes or default_processes())
    return _run(jobs, recipes, run_id, store, on_record, concurrency,
                processes or default_processes())


def recipe_for(variant: Variant) -> Recipe:
    """The variant as a worker can rebuild it.

    Raises:
        ConfigError: A role's model object, or anything else in the variant, cannot be
            pickled.
    """
    names = variant.models.names
    resolved = dict(zip(ROLES, (variant.models.user, variant.models.assistant,
                                variant.models.judge), strict=True))
    models: dict[str, object] = {}
    for role, model in resolved.items():
        if model is None or is_model_string(names[role]):
            models[role] = None if model is None else names[role]
            continue
        try:
            pickle.dumps(model)
        except Exception as exc:  # pickling raises TypeError, AttributeError, PicklingError...
            raise ConfigError(
                f"the process executor sends each worker its models, but the {role} model "
                f"(the {role!r} argument: {names[role]}) cannot be pickled ({exc}); give it "
                f"as a model string such as 'openai:gpt-4o' or 'fake:echo', or use the "
                f"thread executor"
            ) from None
        models[role] = model
    recipe = Recipe(variant.spec, models, variant.factors, variant.retry, variant.call_timeout_s)
    try:
        pickle.dumps(recipe)
    except Exception as exc:
        raise ConfigError(
            f"variant {variant.spec.name!r} cannot be sent to a worker process ({exc}); its "
            f"factors and retry policy must be picklable"
        ) from None
    return recipe


def _warn_about_local_models(variants: Iterable[Variant], processes: int) -> None:
    """Local models load once per worker: warn (once per model) rather than refuse."""
    local = set()
    for variant in variants:
        for role in ROLES:
            model, name = getattr(variant.models, role), variant.models.names[role]
            is_local = isinstance(model, TextCompleter) or (
                getattr(model, "_llm_type", "") == LOCAL_LLM_TYPE
            )
            if model is not None and (is_local or is_local_model_string(name)):
                local.add(name)
    for name in sorted(local):
        warnings.warn(
            f"the process executor loads the local model {name} in each of its {processes} "
            f"worker processes; local models batch concurrent conversations in one process, "
            f"so the thread executor suits them better",
            UserWarning,
            stacklevel=3,
        )


def _context() -> BaseContext:
    """Forkserver where there is one: workers fork from a small server process that has
    chatbench imported already, so they start in milliseconds (spawn would import it again
    in each) and safely (forking this process would copy its threads' locks mid-use)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Only takes effect when the server starts, that is on the first run in this process.
    context.set_forkserver_preload(
        [__name__, "chatbench.models.fake", "chatbench.simulators.prompted"]
    )
    return context


def _run(
    jobs: Sequence[Job],
    recipes: dict[int, Recipe],
    run_id: str,
    store: ResultStore | None,
    on_record: OnRecord | None,
    concurrency: int,
    processes: int,
) -> Iterator[ConversationRecord]:
    """The generator behind ``run_jobs_process``: starts the workers on first use, as
    ``run_jobs`` starts its threads, and only when something is left to run."""
    recorder = Recorder(run_id, store, on_record)
    pending = recorder.pending(jobs)
    first = next(pending, None)
    if first is None:
        return
    keys = {key: index for index, key in enumerate(recipes)}
    tasks: Iterator[Task] = (
        (keys[id(job.variant)], job.question, job.replicate, job.seed)
        for job in itertools.chain([first], pending)
    )

    pool = _Pool(_context(), list(recipes.values()), run_id, concurrency, processes)
    finished = False
    try:
        yield from (recorder.finish(record) for record in pool.stream(tasks))
        finished = True
    finally:
        pool.close(graceful=finished)


class _Pool:
    """Worker processes fed from one task queue (whichever is free takes the next task),
    each answering through its own pipe."""

    def __init__(self, context: BaseContext, recipes: list[Recipe], run_id: str,
                 concurrency: int, processes: int) -> None:
        self.inbox = context.Queue()
        # Enough queued per worker to keep its threads busy, few enough that a failure stops
        # the run soon and memory stays flat however many jobs there are.
        self.window = processes * (2 * concurrency + 2)
        self.workers: dict[Connection, BaseProcess] = {}
        self.received: deque[Outcome] = deque()
        try:
            for index in range(processes):
                receive, send = context.Pipe(duplex=False)
                worker = context.Process(
                    target=_work,
                    args=(self.inbox, send, recipes, run_id, concurrency),
                    name=f"chatbench-worker-{index}",
                    daemon=True,
                )
                self.workers[receive] = worker
                worker.start()
                send.close()  # the worker's now: its exit closes the pipe, which we then see
        except BaseException:
            self.close(graceful=False)
            raise

    def stream(self, tasks: Iterator[Task]) -> Iterator[ConversationRecord]:
        """Send tasks, ``window`` at most in flight, and yield records as they come back.

        After a failed task no new task is sent; those in flight are still yielded, then the
        first failure is raised.
        """
        in_flight = 0
        failure: BaseException | None = None
        while True:
            while failure is None and in_flight < self.window:
                task = next(tasks, None)
                if task is None:
                    break
                self.inbox.put(task)
                in_flight += 1
            if not in_flight:
                break
            kind, payload = self._receive()
            in_flight -= 1
            if kind == "record":
                yield ConversationRecord.model_validate_json(payload)
            else:
                failure = failure or payload
        if failure is not None:
            raise failure

    def _receive(self) -> Outcome:
        """The next outcome; raises if a worker died, since its tasks will never answer."""
        while not self.received:
            for pipe in wait(list(self.workers), timeout=_POLL_S):
                try:
                    self.received.append(pipe.recv())  # type: ignore[union-attr]  # a Connection
                except EOFError:
                    worker = self.workers[pipe]  # type: ignore[index]  # a Connection
                    worker.join(timeout=_POLL_S)
                    raise RuntimeError(
                        f"worker process {worker.name} exited with code {worker.exitcode}; "
                        f"the conversations it was running were not stored (rerun to "
                        f"finish). Workers import the main script: if it starts a run "
                        f"outside an `if __name__ == \"__main__\":` block, add one"
                    ) from None
        return self.received.popleft()

    def close(self, *, graceful: bool) -> None:
        """Stop the workers: idle ones exit at their end marker; after an error or an early
        stop, busy ones are terminated (what they were running was not stored)."""
        started = [worker for worker in self.workers.values() if worker.pid is not None]
        if graceful:
            for _ in started:
                self.inbox.put(None)
            for worker in started:
                worker.join(timeout=10)
        else:
            self.inbox.cancel_join_thread()  # nobody may read what is still queued
        for worker in started:
            if worker.is_alive():
                worker.terminate()
            worker.join()
        for pipe in self.workers:
            pipe.close()
        self.inbox.close()


class _Outbox:
    """A worker's end of its pipe: its threads send one outcome at a time, written at once
    (a ``Queue`` would hand each one to a feeder thread, which then competes for the GIL
    with the conversations)."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.lock = threading.Lock()

    def send(self, outcome: Outcome) -> None:
        """Send ``outcome``; blocks while the pipe is full, raises once the parent is gone."""
        with self.lock:
            self.pipe.send(outcome)


def _work(
    inbox: Any, pipe: Connection, recipes: list[Recipe], run_id: str, concurrency: int
) -> None:
    """A worker process: run the tasks from ``inbox`` until its end marker, ``concurrency``
    at a time, sending each record through ``pipe`` as its conversation ends."""
    outbox = _Outbox(pipe)
    run = partial(_run_and_send, outbox=outbox, run_id=run_id)
    try:
        for _ in map_bounded(run, _jobs(inbox, outbox, recipes), concurrency, "chatbench-conv"):
            pass
    except BrokenPipeError:  # the parent is gone (killed): nobody is left to tell
        return


def _run_and_send(job: Job, *, outbox: _Outbox, run_id: str) -> None:
    """Run one conversation and send its record at once (from the thread that ran it, not
    when the pool gets round to it: the pool may be waiting for the next task). Records
    travel as JSON, which costs both sides less than pickling the model."""
    outbox.send(("record", sendable_json(execute_job(job, run_id))))


def _jobs(inbox: Any, outbox: _Outbox, recipes: list[Recipe]) -> Iterator[Job]:
    """The worker's tasks as jobs, its variants built on first use; a variant that cannot
    be built answers its tasks with the error. Ends at the end marker, or when the parent
    process is gone."""
    variants: dict[int, Variant] = {}
    parent = multiprocessing.parent_process()
    while True:
        try:
            task: Task | None = inbox.get(timeout=_POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if task is None:
            return
        index, question, replicate, seed = task
        try:
            if index not in variants:
                variants[index] = recipes[index].build()
        except Exception as exc:  # answered, not raised: the parent decides what to do
            outbox.send(("failed", _sendable(exc)))
            continue
        yield Job(question, variants[index], replicate, seed)


def _sendable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a ``RuntimeError`` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
