"""The process executor: conversations spread over worker processes, stored by this one.

One Python process runs LangGraph's steps on one core however many threads it has, so a run
on fake or API models, whose calls cost this process little, is bound by chatbench's and
LangGraph's own Python. ``run_jobs_process`` starts ``processes`` workers (default: one per
CPU). Each runs the conversations it is sent with the thread runner's pool (``concurrency``
at a time) and no store, and sends each record back the moment its conversation ends; this
process, the one writer, stores it at once. So a kill loses no finished conversation that
reached this process, and a rerun resumes exactly as with threads.

Workers get each job with its variant's ``Recipe`` (pickled once per variant): its spec,
persona, factors, retry policy, call timeout and, per role, a model string (the worker builds
the model) or a model object, pickled. Each worker builds a variant once, at its first job.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from chatbench.config import DEFAULT_CONCURRENCY
from chatbench.errors import ConfigError
from chatbench.runner.pipeline import (
    OnRecord,
    RecordKind,
    Task,
    execute,
    run_in_threads,
    windowed,
)
from chatbench.runner.recipe import Recipe
from chatbench.storage import ResultStore

Sent = tuple[str, bytes, Any]
"""One job for a worker: its recipe's token, the recipe pickled, the job without it."""
Outcome = tuple[str, Any]
"""What a worker sends back per job: ("record", the record as JSON) or ("failed", exception)."""
_POLL_S = 0.5
"""How often a waiting process checks that the other side is still alive."""


def default_processes() -> int:
    """Worker processes when none are asked for: the CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ProcessExecutor:
    """Jobs in ``processes`` worker processes (None: one per CPU), each running
    ``concurrency`` at once on threads; this process stores every record.

    If a worker cannot build a variant (a model it cannot make or load), no new jobs are
    sent, those in flight are still stored, and then the error is raised; a rerun finishes
    the run. If a worker process dies, the jobs it was running are lost (a rerun runs them)
    and a ``RuntimeError`` is raised.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    processes: int | None = None

    @property
    def workers(self) -> int:
        return self.processes or default_processes()

    def check(self, jobs: Sequence[Task]) -> None:
        """Refuse jobs a worker cannot receive; warn about local models (one copy each).

        Raises:
            ConfigError: ``processes`` below 1, or a model object that cannot be pickled.
        """
        if self.processes is not None and self.processes < 1:
            raise ConfigError(f"processes must be at least 1, got {self.processes}")
        recipes = {job.recipe.token: job.recipe for job in jobs}
        local: set[str] = set()
        for recipe in recipes.values():
            recipe.check_portable("process")
            local.update(recipe.local_models())
        for name in sorted(local):
            warnings.warn(
                f"the process executor loads the local model {name} in each of its "
                f"{self.workers} worker processes; local models batch concurrent "
                f"conversations in one process, so the thread executor suits them better",
                UserWarning,
                stacklevel=4,
            )

    def map(self, jobs: Iterator[Task], run_id: str, kind: RecordKind[Any]) -> Iterator[Any]:
        """Records of ``jobs`` in finishing order; workers start on first use, and only when
        something is left to run."""
        first = next(jobs, None)
        if first is None:
            return
        pickled: dict[str, bytes] = {}

        def sent(job: Task) -> Sent:
            recipe: Recipe = job.recipe
            if recipe.token not in pickled:
                pickled[recipe.token] = pickle.dumps(recipe)
            return recipe.token, pickled[recipe.token], replace(job, recipe=None)  # type: ignore[type-var]  # a dataclass

        pool = _Pool(_context(), run_id, self.concurrency, self.workers)
        finished = False
        try:
            yield from windowed((sent(job) for job in itertools.chain([first], jobs)),
                                pool.inbox.put, lambda: pool.next_records(kind), pool.window)
            finished = True
        finally:
            pool.close(graceful=finished)


def run_jobs_process(
    jobs: Sequence[Task],
    *,
    run_id: str,
    store: ResultStore | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_record: OnRecord | None = None,
    processes: int | None = None,
) -> Iterator[Any]:
    """``execute`` on a ``ProcessExecutor``: records in finishing order, each stored (in
    this process) before it is yielded; jobs already stored are skipped.

    Raises:
        ConfigError: A model object cannot be pickled, or ``processes`` is below 1.
    """
    return execute(jobs, ProcessExecutor(concurrency, processes), run_id=run_id, store=store,
                   on_record=on_record)


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


class _Pool:
    """Worker processes fed from one task queue (whichever is free takes the next task),
    each answering through its own pipe."""

    def __init__(self, context: BaseContext, run_id: str, concurrency: int,
                 processes: int) -> None:
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
                    args=(self.inbox, send, run_id, concurrency),
                    name=f"chatbench-worker-{index}",
                    daemon=True,
                )
                self.workers[receive] = worker
                worker.start()
                send.close()  # the worker's now: its exit closes the pipe, which we then see
        except BaseException:
            self.close(graceful=False)
            raise

    def next_records(self, kind: RecordKind[Any]) -> list[Any]:
        """The record of the next job to finish, or its failure raised."""
        what, payload = self._receive()
        if what == "record":
            return [kind.record_type.model_validate_json(payload)]
        raise payload

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


def _work(inbox: Any, pipe: Connection, run_id: str, concurrency: int) -> None:
    """A worker process: run the jobs from ``inbox`` until its end marker, ``concurrency``
    at a time, sending each record through ``pipe`` as its job ends."""
    outbox = _Outbox(pipe)
    try:
        for _ in run_in_threads(lambda job: _run_and_send(job, outbox, run_id),
                                _jobs(inbox, outbox), concurrency, "chatbench-conv"):
            pass
    except BrokenPipeError:  # the parent is gone (killed): nobody is left to tell
        return


def _run_and_send(job: Task, outbox: _Outbox, run_id: str) -> None:
    """Run one job and send its record at once (from the thread that ran it, not when the
    pool gets round to it: the pool may be waiting for the next job). Records travel as
    JSON, which costs both sides less than pickling. A job whose variant cannot be built
    here is answered with the error: the parent decides what to do."""
    try:
        record = job.run(run_id)
    except Exception as exc:
        outbox.send(("failed", _sendable(exc)))
        return
    outbox.send(("record", job.record_kind.sendable_json(record)))


def _jobs(inbox: Any, outbox: _Outbox) -> Iterator[Task]:
    """The worker's jobs, each with its recipe (unpickled once per variant; a recipe that
    cannot be unpickled here answers its jobs with the error). Ends at the end marker, or
    when the parent process is gone."""
    recipes: dict[str, Recipe] = {}
    parent = multiprocessing.parent_process()
    while True:
        try:
            sent: Sent | None = inbox.get(timeout=_POLL_S)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if sent is None:
            return
        token, pickled, job = sent
        try:
            if token not in recipes:
                recipes[token] = pickle.loads(pickled)
        except Exception as exc:  # answered, not raised: the parent decides what to do
            outbox.send(("failed", _sendable(exc)))
            continue
        yield replace(job, recipe=recipes[token])


def _sendable(exc: Exception) -> Exception:
    """``exc`` if it survives pickling, else a ``RuntimeError`` with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc
