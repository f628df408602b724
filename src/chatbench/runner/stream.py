"""Watching a conversation as it happens: ``stream_conversation`` yields each node's update
(LangGraph's ``stream_mode="updates"``) as the node finishes, then holds the conversation's
record, the one ``run_conversations`` would store for the same question, seed and replicate.

The async twin (``astream_conversation``, ``arun_conversations``) is in ``runner/aio.py``;
both run ``simulate.Conversation``, the one loop batches run too.
"""

from __future__ import annotations

from collections.abc import Iterator

from chatbench.config import GraphSpec
from chatbench.data.questions import Question
from chatbench.records import ConversationRecord
from chatbench.runner.batch import plan_conversations
from chatbench.runner.build import ModelLike
from chatbench.runner.pipeline import Job, conversation_of
from chatbench.runner.simulate import Conversation, NodeUpdate


class ConversationStream(Iterator[NodeUpdate]):
    """The node updates of one running conversation; ``record`` once it has ended.

    Iterating runs the conversation (``Conversation.updates``): each item comes as its node
    finishes. A model failure ends the iteration like a normal end, with an error record.
    """

    def __init__(self, conversation: Conversation) -> None:
        self.record: ConversationRecord | None = None
        """The conversation's record, set when the iteration ends (None before)."""
        self._conversation = conversation
        self._updates = self._run()

    def __next__(self) -> NodeUpdate:
        return next(self._updates)

    def _run(self) -> Iterator[NodeUpdate]:
        yield from self._conversation.updates()
        self.record = self._conversation.record()


def conversation_job(
    question: Question,
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicate: int = 0,
) -> Job:
    """The job ``run_conversations`` would run for ``question`` as replicate ``replicate``
    (same models, same derived seed).

    Raises:
        ConfigError: Bad models.
    """
    jobs = plan_conversations([question], spec, user=user, assistant=assistant, judge=judge,
                              seed=seed, replicates=replicate + 1)
    return jobs[replicate]


def stream_conversation(
    question: Question,
    spec: GraphSpec,
    *,
    user: object,
    assistant: ModelLike,
    judge: ModelLike | None = None,
    seed: int = 0,
    replicate: int = 0,
    run_id: str = "run",
) -> ConversationStream:
    """Run one conversation, yielding each node's update as it finishes (for a notebook).

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
        An iterator of ``NodeUpdate(node, update)``; once it is exhausted, its ``record`` is
        the conversation's record, equal to ``run_conversations``'s for the same arguments
        (apart from timings).

    Raises:
        ConfigError: Bad models (before anything runs).

    Example:
        >>> stream = stream_conversation(load_questions(limit=1)[0], GraphSpec(),
        ...                              user="fake:user", assistant="fake:echo")
        >>> [node for node, update in stream]
        ['user', 'assistant', 'user', 'judge']
        >>> stream.record.stop_reason.value
        'accepted'
    """
    job = conversation_job(question, spec, user=user, assistant=assistant, judge=judge,
                           seed=seed, replicate=replicate)
    return ConversationStream(conversation_of(job, job.variant, run_id))
