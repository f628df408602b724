"""The async API, for apps that run on an event loop: ``arun_conversations`` (the semantics
of ``run_conversations``) and ``astream_conversation`` (of ``stream_conversation``).

Conversations run concurrently on the loop through LangGraph's ``astream``; chatbench's nodes
are synchronous, so LangGraph runs each node call in the loop's thread pool. Records are
stored in the loop's thread (``Recorder``), as each conversation ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence

from chatbench.config import GraphSpec
from chatbench.data.questions import Question
from chatbench.models.demand import local_demand
from chatbench.records import ConversationRecord
from chatbench.runner.batch import planned_conversations, records_of
from chatbench.runner.build import ModelLike
from chatbench.runner.execution import DEFAULT_CONCURRENCY, Execution
from chatbench.runner.pipeline import Job, OnRecord, Recorder, conversation_of
from chatbench.runner.stream import NodeUpdate, conversation_job
from chatbench.storage import ResultStore


class AsyncConversationStream(AsyncIterator[NodeUpdate]):
    """The node updates of one conversation running on the event loop; ``record`` once it
    has ended (``ConversationStream``'s async twin)."""

    def __init__(self, job: Job, run_id: str) -> None:
        self.record: ConversationRecord | None = None
        """The conversation's record, set when the iteration ends (None before)."""
        self._updates = self._run(job, run_id)

    async def __anext__(self) -> NodeUpdate:
        return await self._updates.__anext__()

    async def _run(self, job: Job, run_id: str) -> AsyncIterator[NodeUpdate]:
        # Building a variant may load local weights: off the loop.
        variant = await asyncio.to_thread(lambda: job.variant)
        conversation = conversation_of(job, variant, run_id)
        async for update in conversation.aupdates():
            yield update
        self.record = conversation.record()


async def asimulate(job: Job, run_id: str) -> ConversationRecord:
    """Run one job's conversation on the event loop and return its record (a model failure
    is an error record, never raised).

    Raises:
        ConfigError: The job's models cannot be made here.
    """
    stream = AsyncConversationStream(job, run_id)
    async for _ in stream:
        pass
    assert stream.record is not None  # set when the iteration ends
    return stream.record


def astream_conversation(
    question: Question,
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicate: int = 0,
    run_id: str = "run",
) -> AsyncConversationStream:
    """``stream_conversation`` on the event loop: ``async for node, update in ...``.

    Args:
        question: The question the simulated user works on.
        spec: The variant.
        user: The simulator's model: a chat model or a model string (None for scripted).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; the conversation's seed is derived as ``run_conversations`` does.
        replicate: Which repeat of the question this is (part of the derived seed).
        run_id: The run named in the record (nothing is stored).

    Returns:
        An async iterator of ``NodeUpdate(node, update)``; once it is exhausted, its
        ``record`` is the conversation's record.

    Raises:
        ConfigError: Bad models (before anything runs).

    Example:
        >>> stream = astream_conversation(question, GraphSpec(), user="fake:user",
        ...                               assistant="fake:echo")  # doctest: +SKIP
        >>> async for node, update in stream:  # doctest: +SKIP
        ...     print(node, update.get("messages"))
    """
    job = conversation_job(question, spec, user=user, assistant=assistant, judge=judge,
                           seed=seed, replicate=replicate)
    return AsyncConversationStream(job, run_id)


async def arun_conversations(
    questions: Sequence[Question],
    spec: GraphSpec | str | None = None,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicates: int = 1,
    run_id: str | None = None,
    store: ResultStore | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_record: OnRecord | None = None,
    retry_failed: bool = True,
) -> list[ConversationRecord]:
    """``run_conversations`` on the event loop: every question x replicate of one variant,
    ``concurrency`` conversations at a time; each record is stored as its conversation ends.

    Same store semantics: conversations stored under the same id are skipped (failed ones
    run again unless ``retry_failed`` is False), and a ``run_id`` the store holds for other
    questions, spec, persona or models is refused. If a conversation's models cannot be
    built, no new one starts; those running finish and are stored, then the error is raised.

    Args:
        questions: The questions.
        spec: The variant.
        user: The simulator's model: a chat model or a model string (None for scripted), or
            all roles' models already resolved (``Models``).
        assistant: The assistant: a chat model or a model string.
        judge: Optional judge model for final messages the rules cannot read.
        seed: Run seed; each conversation's seed is derived as ``run_conversations`` does.
        replicates: Conversations per question.
        run_id: Name of the run in the store; None gives ``run-<hash>`` of the settings, as
            ``run_conversations`` does.
        store: Where records are written as they finish.
        concurrency: Conversations running at once on the loop (8 by default, as the CLI).
        on_record: Called with each new record, in the loop's thread.
        retry_failed: Run again conversations stored as failed.

    Returns:
        Every conversation's record in plan order, as ``run_conversations`` returns them
        (those a rerun skipped read from the store).

    Raises:
        ConfigError: Bad models, or ``run_id`` is stored in ``store`` with other settings.

    Example:
        >>> records = asyncio.run(arun_conversations(load_questions(limit=2), GraphSpec(),
        ...     user="fake:user", assistant="fake:echo", concurrency=2))  # doctest: +SKIP
    """
    execution = Execution(concurrency=concurrency, retry_failed=retry_failed)
    run_id, jobs = planned_conversations(questions, spec, user=user, assistant=assistant,
                                         judge=judge, seed=seed, replicates=replicates,
                                         run_id=run_id, store=store)
    recorder = Recorder(run_id, store, on_record)
    with local_demand(slots_at_most=max(1, len(jobs))):  # no more slots than conversations
        fresh = await run_bounded(recorder.pending(jobs, execution.retry_failed), recorder,
                                  execution.concurrency)
    return records_of(jobs, run_id, fresh, store)


async def run_bounded(
    jobs: Iterable[Job], recorder: Recorder, concurrency: int
) -> list[ConversationRecord]:
    """Run ``jobs`` on the loop, at most ``concurrency`` at once, storing each record as it
    comes (``recorder``); after a failure no new job starts, those running finish and are
    stored, then the first failure is raised. Cancelling this cancels the running jobs.
    Local engines the jobs load size their slots for ``concurrency`` (``models.demand``)."""
    with local_demand(slots=max(1, concurrency)):
        return await _run_bounded(jobs, recorder, concurrency)


async def _run_bounded(
    jobs: Iterable[Job], recorder: Recorder, concurrency: int
) -> list[ConversationRecord]:
    pending = iter(jobs)
    running: set[asyncio.Task[ConversationRecord]] = set()
    records: list[ConversationRecord] = []
    failure: BaseException | None = None
    try:
        while True:
            while failure is None and len(running) < max(1, concurrency):
                job = next(pending, None)
                if job is None:
                    break
                running.add(asyncio.create_task(asimulate(job, recorder.run_id)))
            if not running:
                break
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                try:
                    records.append(recorder.finish(task.result()))
                except Exception as exc:  # keep the others running, then raise the first
                    failure = failure or exc
    finally:
        for task in running:
            task.cancel()
    if failure is not None:
        raise failure
    return records
