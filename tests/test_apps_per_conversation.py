"""Apps per conversation: an ``app:`` string's factory is called once per conversation, so a
stateful app never serves two conversations at once; an app object stays shared."""

from __future__ import annotations

import asyncio
import pickle
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from chatbench import GraphSpec, StopReason, load_questions
from chatbench.models.apps import AppChatModel, ConversationModels
from chatbench.runner.aio import arun_conversations
from chatbench.runner.batch import plan_conversations, run_conversations
from chatbench.runner.recipe import resolve
from chatbench.runner.stream import stream_conversation
from tests import app_targets

USER_TURNS = ("What is 6*7?", "And once more?", "Answer: B")
SPEC = GraphSpec(name="per-conversation", simulator="scripted", scripted_turns=USER_TURNS,
                 max_turns=3, assistant_system_prompt=None)
"""Two questions to the assistant, then the answer: two assistant turns per conversation."""
REPLY = "The calculator says 42. Answer: B"
SCRIPTED = "app:tests.app_targets:scripted_agent"


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    app_targets.SCRIPTED_FAKES.clear()
    app_targets.FLAKY_CALLS.clear()


def _tool_calls_per_turn(record: Any) -> list[int]:
    return [sum(len(step.get("tool_calls", ())) for step in turn.steps)
            for turn in record.transcript if turn.role == "assistant"]


def _check_each_turn_called_the_tool_once(records: list[Any], conversations: int) -> None:
    assert len(records) == conversations
    assert [r.error for r in records] == [None] * conversations
    assert all(r.stop_reason is StopReason.ACCEPTED for r in records)
    assert [_tool_calls_per_turn(r) for r in records] == [[1, 1]] * conversations
    assert all([t.content for t in r.transcript if t.role == "assistant"] == [REPLY] * 2
               for r in records)


def test_a_stateful_factory_app_is_made_once_per_conversation_at_concurrency_8():
    records = run_conversations(load_questions(limit=8), SPEC, user=None, assistant=SCRIPTED,
                                concurrency=8)
    _check_each_turn_called_the_tool_once(records, 8)
    # 8 agents (the build's serves the first conversation), each of which served one
    # conversation: 2 turns x (tool call, answer)
    assert [fake.calls for fake in app_targets.SCRIPTED_FAKES] == [4] * 8


def test_a_factory_app_is_made_per_conversation_on_the_event_loop_too():
    records = asyncio.run(arun_conversations(load_questions(limit=8), SPEC, user=None,
                                             assistant=SCRIPTED, concurrency=8))
    _check_each_turn_called_the_tool_once(records, 8)
    assert len(app_targets.SCRIPTED_FAKES) == 8


def test_a_factory_app_is_made_per_conversation_in_worker_processes():
    records = run_conversations(load_questions(limit=4), SPEC, user=None, assistant=SCRIPTED,
                                concurrency=4, executor="process", processes=1)
    _check_each_turn_called_the_tool_once(records, 4)


def test_a_streamed_conversation_makes_its_app_once():
    stream = stream_conversation(load_questions(limit=1)[0], SPEC, user=None,
                                 assistant=SCRIPTED)
    nodes = [node for node, _ in stream]
    assert nodes == ["user", "assistant"] * 2 + ["user", "judge"]
    assert stream.record is not None and _tool_calls_per_turn(stream.record) == [1, 1]
    assert len(app_targets.SCRIPTED_FAKES) == 1  # the build's, for this conversation


def test_recipes_of_factory_apps_pickle_and_build_a_per_conversation_hook():
    (job,) = plan_conversations(load_questions(limit=1), SPEC, user=None, assistant=SCRIPTED)
    assert pickle.loads(pickle.dumps(job.recipe)).models["assistant"] == SCRIPTED
    models = resolve(job.recipe).models
    assert isinstance(models.per_conversation["assistant"], ConversationModels)
    first, second = (models.for_conversation().assistant for _ in range(2))
    assert isinstance(first, AppChatModel) and isinstance(second, AppChatModel)
    assert first.app is not second.app
    assert first.app_name == second.app_name == SCRIPTED
    assert models.for_conversation().names == models.names


def test_a_factory_of_a_chat_model_gives_each_conversation_its_own_chat_model():
    assistant = "app:tests.app_targets:listed_replies"
    records = run_conversations(load_questions(limit=4), SPEC, user=None, assistant=assistant,
                                concurrency=4)
    assert [[t.content for t in r.transcript if t.role == "assistant"] for r in records] == [
        ["reply 1", "reply 2"]] * 4
    (job,) = plan_conversations(load_questions(limit=1), SPEC, user=None, assistant=assistant)
    # still the chat model itself (the role's settings and seed apply), made anew
    models = resolve(job.recipe).models
    made = [models.for_conversation().assistant for _ in range(2)]
    assert all(isinstance(m, FakeListChatModel) for m in made) and made[0] is not made[1]


def test_an_app_object_by_import_path_stays_shared():
    calls = app_targets.SHARED_FAKE.calls
    records = run_conversations(load_questions(limit=3), SPEC, user=None,
                                assistant="app:tests.app_targets:SHARED_SCRIPTED_AGENT",
                                concurrency=1)
    _check_each_turn_called_the_tool_once(records, 3)
    assert app_targets.SHARED_FAKE.calls - calls == 3 * 4  # one object served them all
    (job,) = plan_conversations(load_questions(limit=1), SPEC, user=None,
                                assistant="app:tests.app_targets:SHARED_SCRIPTED_AGENT")
    assert resolve(job.recipe).models.per_conversation == {}


def test_a_factory_that_fails_for_one_conversation_fails_that_conversation_only():
    records = run_conversations(load_questions(limit=3), SPEC, user=None,
                                assistant="app:tests.app_targets:flaky_app", concurrency=1)
    failed = [r for r in records if r.error]
    assert len(failed) == 1 and failed[0].stop_reason is StopReason.ERROR
    assert "its factory raised RuntimeError: no app this time" in failed[0].error
    assert len(app_targets.FLAKY_CALLS) == 3  # the build's (first conversation's), two more
