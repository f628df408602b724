"""Streaming one conversation's node updates, and the async API."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from chatbench import (
    GraphSpec,
    NodeUpdate,
    ResultStore,
    StopReason,
    arun_conversations,
    astream_conversation,
    run_conversations,
    stream_conversation,
)
from chatbench.data.questions import Question
from chatbench.errors import ConfigError, ModelOutputError
from chatbench.records import ConversationRecord
from chatbench.runner.aio import run_bounded
from chatbench.runner.pipeline import Job, Recorder
from chatbench.runner.stream import conversation_job
from chatbench.state import ASSISTANT, JUDGE, USER

QUESTIONS = [
    Question(id=f"q{i}", stem=f"{i} + 1?", choices=(str(i), str(i + 1)), answer="B")
    for i in range(4)
]
TIMING = {"seconds", "started_at", "timings"}


def same(a: ConversationRecord, b: ConversationRecord) -> bool:
    """Equal records, apart from wall times."""
    return a.model_dump(exclude=TIMING) == b.model_dump(exclude=TIMING)


class BrokenChatModel(BaseChatModel):
    """Every call fails with an error chatbench does not retry (so tests stay fast)."""

    @property
    def _llm_type(self) -> str:
        return "broken-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kw: Any) -> ChatResult:
        raise ModelOutputError("unusable reply")


@dataclass
class Overlap:
    """How many calls of ``CountingEcho`` were running at once, at most."""

    now: int = 0
    most: int = 0
    lock: threading.Lock = threading.Lock()


OVERLAP = Overlap()


class CountingEcho(BaseChatModel):
    """Echoes after ``delay_s``, counting the calls running at once in ``OVERLAP``."""

    delay_s: float = 0.2

    @property
    def _llm_type(self) -> str:
        return "counting-echo-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kw: Any) -> ChatResult:
        with OVERLAP.lock:
            OVERLAP.now += 1
            OVERLAP.most = max(OVERLAP.most, OVERLAP.now)
        time.sleep(self.delay_s)
        with OVERLAP.lock:
            OVERLAP.now -= 1
        reply = AIMessage(content=str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=reply)])


class MeetingEcho(BaseChatModel):
    """Echoes once ``parties`` of its calls have been running at the same time: each call
    waits (``HANG_GUARD_S`` at most, then fails) until that many have started. Calls made one
    after another never all meet, however fast the machine; calls made together always do,
    however loaded it is. Calls after the meeting echo at once."""

    parties: int
    started: list[int] = []
    met: Any = None

    def model_post_init(self, context: Any) -> None:
        self.met = threading.Event()

    @property
    def _llm_type(self) -> str:
        return "meeting-echo-test"

    def _generate(self, messages: list[BaseMessage], stop: Any = None,
                  run_manager: Any = None, **kw: Any) -> ChatResult:
        with OVERLAP.lock:
            self.started.append(1)
            if len(self.started) >= self.parties:
                self.met.set()
        if not self.met.wait(HANG_GUARD_S):
            raise ModelOutputError(f"{len(self.started)} of {self.parties} calls met")
        reply = AIMessage(content=str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=reply)])


HANG_GUARD_S = 60.0
"""How long a ``MeetingEcho`` call waits for the others: only a run that made its calls one
after another waits this long (and then fails)."""


@pytest.fixture
def overlap() -> Overlap:
    OVERLAP.now = OVERLAP.most = 0
    return OVERLAP


MODELS = {"user": "fake:user", "assistant": "fake:echo"}


# --------------------------------------------------------------------------------------------
# stream_conversation
# --------------------------------------------------------------------------------------------


def test_stream_yields_node_updates_in_order_then_holds_the_run_record():
    stream = stream_conversation(QUESTIONS[0], GraphSpec(), seed=5, replicate=1, **MODELS)
    assert stream.record is None
    updates = list(stream)
    assert all(isinstance(u, NodeUpdate) for u in updates)
    assert [node for node, _ in updates] == [USER, ASSISTANT, USER, JUDGE]
    first = updates[0].update
    assert isinstance(first["messages"][0], HumanMessage) and first["turns"] == 1
    assert isinstance(updates[1].update["messages"][0], AIMessage)
    assert "verdict" in updates[-1].update
    batch = run_conversations(QUESTIONS[:1], GraphSpec(), seed=5, replicates=2, run_id="run",
                              **MODELS)
    assert stream.record is not None
    assert same(stream.record, next(r for r in batch if r.replicate == 1))


def test_a_failed_stream_ends_with_an_error_record_like_the_batch():
    args = {"user": "fake:user", "assistant": BrokenChatModel()}
    stream = stream_conversation(QUESTIONS[0], GraphSpec(), **args)
    assert [node for node, _ in stream] == [USER]
    assert stream.record is not None
    assert stream.record.stop_reason is StopReason.ERROR
    assert "unusable reply" in (stream.record.error or "")
    assert same(stream.record, run_conversations(QUESTIONS[:1], GraphSpec(), run_id="run",
                                                 **args)[0])


def test_stream_refuses_bad_models_before_running():
    with pytest.raises(ConfigError):
        stream_conversation(QUESTIONS[0], GraphSpec(), user="fake:user",
                            assistant="nosuchprovider:x")


def test_astream_is_the_same_conversation_on_the_event_loop():
    async def watch() -> tuple[list[str], ConversationRecord | None]:
        stream = astream_conversation(QUESTIONS[1], GraphSpec(), seed=2, **MODELS)
        nodes = [node async for node, _ in stream]
        return nodes, stream.record

    nodes, record = asyncio.run(watch())
    assert nodes == [USER, ASSISTANT, USER, JUDGE]
    assert record is not None
    assert same(record, run_conversations(QUESTIONS[1:2], GraphSpec(), seed=2, run_id="run",
                                          **MODELS)[0])


# --------------------------------------------------------------------------------------------
# arun_conversations
# --------------------------------------------------------------------------------------------


def test_arun_gives_the_records_run_conversations_gives():
    expected = run_conversations(QUESTIONS, GraphSpec(), seed=9, replicates=2, **MODELS)
    got = asyncio.run(arun_conversations(QUESTIONS, GraphSpec(), seed=9, replicates=2,
                                         concurrency=3, **MODELS))
    assert len(got) == 8
    by_id = {record.id: record for record in expected}
    assert all(same(record, by_id[record.id]) for record in got)


def test_arun_stores_each_record_and_a_rerun_skips_them(tmp_store):
    seen: list[ConversationRecord] = []
    with ResultStore(tmp_store) as store:
        first = asyncio.run(arun_conversations(QUESTIONS, GraphSpec(), store=store,
                                               run_id="r", concurrency=2,
                                               on_record=seen.append, **MODELS))
        again = asyncio.run(arun_conversations(QUESTIONS, GraphSpec(), store=store,
                                               run_id="r", concurrency=2, **MODELS))
        stored = list(store.records("r"))
    # a rerun runs nothing (no callback) and returns the stored records in plan order
    assert len(first) == 4 and [r.id for r in again] == [r.id for r in first]
    assert sorted(r.id for r in seen) == sorted(r.id for r in first)
    assert sorted(r.id for r in stored) == sorted(r.id for r in first)


def test_arun_retries_failed_conversations_unless_told_not_to(tmp_store):
    args = {"user": "fake:user", "assistant": BrokenChatModel(), "run_id": "r"}
    with ResultStore(tmp_store) as store:
        first = asyncio.run(arun_conversations(QUESTIONS[:2], GraphSpec(), store=store, **args))
        kept = asyncio.run(arun_conversations(QUESTIONS[:2], GraphSpec(), store=store,
                                              retry_failed=False, **args))
        retried = asyncio.run(arun_conversations(QUESTIONS[:2], GraphSpec(), store=store,
                                                 **args))
    assert [r.stop_reason for r in first] == [StopReason.ERROR] * 2
    assert [r.started_at for r in kept] == [r.started_at for r in first]  # stored, not rerun
    assert len(retried) == 2 and retried[0].started_at != first[0].started_at


def test_arun_refuses_a_stored_run_id_with_other_models(tmp_store):
    with ResultStore(tmp_store) as store:
        asyncio.run(arun_conversations(QUESTIONS[:1], GraphSpec(), store=store, run_id="r",
                                       **MODELS))
        with pytest.raises(ConfigError):
            asyncio.run(arun_conversations(QUESTIONS[:1], GraphSpec(), store=store,
                                           run_id="r", user="fake:user",
                                           assistant="fake:say:B"))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_arun_runs_at_most_concurrency_conversations_at_once(overlap, concurrency):
    asyncio.run(arun_conversations(QUESTIONS, GraphSpec(), user="fake:user",
                                   assistant=CountingEcho(delay_s=0.2),
                                   concurrency=concurrency))
    if concurrency == 1:
        assert overlap.most == 1
    else:
        assert 2 <= overlap.most <= concurrency


def test_arun_overlaps_in_time():
    """All four conversations' assistant calls run at once (counted, not timed: one after
    another, the first call would wait for three that never come and fail)."""
    assistant = MeetingEcho(parties=4, started=[])
    records = asyncio.run(arun_conversations(QUESTIONS, GraphSpec(), user="fake:user",
                                             assistant=assistant, concurrency=4))
    assert len(records) == 4
    assert assistant.met.is_set()
    assert all(r.stop_reason != StopReason.ERROR for r in records), records


@dataclass(frozen=True)
class _Unbuildable:
    """A recipe whose models cannot be made in this process."""

    token: str = "unbuildable"

    def build(self) -> Any:
        raise ConfigError("cannot make the models here")


def test_a_job_that_cannot_start_stops_new_ones_and_is_raised():
    good = conversation_job(QUESTIONS[0], GraphSpec(), **MODELS)
    bad = Job(QUESTIONS[1], _Unbuildable(), 0, 0)  # type: ignore[arg-type]  # a test recipe
    seen: list[ConversationRecord] = []
    recorder = Recorder("r", None, seen.append)
    with pytest.raises(ConfigError, match="cannot make"):
        asyncio.run(run_bounded([good, bad, good], recorder, 1))
    assert [r.question_id for r in seen] == ["q0"]
