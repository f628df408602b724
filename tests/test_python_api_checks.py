"""The Python API checks its arguments at the door: the CLI's rules (``RunConfig``), raised
as ``ConfigError`` naming the argument, never an ``AttributeError`` from inside; strings are
taken where a user would pass one (a preset name, a questions path)."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.language_models import FakeListChatModel

from chatbench import (
    ConfigError,
    GraphSpec,
    SimContext,
    arun_conversations,
    build_graph,
    initial_state,
    load_questions,
    run_conversations,
)
from chatbench.config import load_graph_spec

QUESTION = load_questions(limit=1)[0]
MODELS = {"user": "fake:say:Answer: A", "assistant": "fake:echo"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"concurrency": 0}, "argument 'concurrency': input should be greater than or equal to 1"),
    ({"concurrency": -3}, "argument 'concurrency'"),
    ({"concurrency": 2.5}, "argument 'concurrency': input should be a valid integer"),
    ({"seed": 1.5}, "argument 'seed': input should be a valid integer"),
    ({"seed": True}, "argument 'seed'"),
    ({"replicates": 0}, "argument 'replicates'"),
    ({"executor": "threads"}, "argument 'executor'"),
    ({"run_id": ""}, "argument 'run_id': expected a non-empty text"),
    ({"store": "x.sqlite"}, "argument 'store': expected an open ResultStore"),
])
def test_run_conversations_refuses_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        run_conversations([QUESTION], "quick", **MODELS, **kwargs)


@pytest.mark.parametrize(("questions", "message"), [
    (5, "argument 'questions': expected Question objects or a questions file's path"),
    ([3], "argument 'questions', item 0: expected a Question, got int"),
    ([{"id": "x"}], "argument 'questions', item 0: field 'stem'"),
    ({"id": "x"}, "argument 'questions': expected"),
    ("no/such/file.jsonl", "file not found"),
])
def test_bad_questions_are_named(questions, message):
    with pytest.raises(ConfigError, match=message):
        run_conversations(questions, GraphSpec(), **MODELS)


def test_strings_and_dicts_are_taken_where_a_user_passes_them(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "q1", "question": "2+2?", "choices": ["4", "5"], "answer": "A"}\n')
    from_path = run_conversations(str(path), "quick", **MODELS, concurrency=1)
    from_dicts = run_conversations([{"id": "q1", "stem": "2+2?", "choices": ["4", "5"],
                                     "answer": "A"}], "quick", **MODELS, concurrency=1)
    assert [r.verdict for r in from_path] == [r.verdict for r in from_dicts] == ["correct"]
    assert from_path[0].spec == load_graph_spec("quick").model_dump(mode="json")


def test_arun_conversations_checks_the_same_arguments():
    with pytest.raises(ConfigError, match="argument 'concurrency'"):
        asyncio.run(arun_conversations([QUESTION], "quick", concurrency=0, **MODELS))
    with pytest.raises(ConfigError, match="argument 'seed'"):
        asyncio.run(arun_conversations([QUESTION], "quick", seed="1", **MODELS))


def test_build_graph_takes_a_preset_name_and_refuses_other_types():
    assert "user" in build_graph("quick").get_graph().nodes
    with pytest.raises(ConfigError, match="unknown graph 'nosuch'"):
        build_graph("nosuch")
    with pytest.raises(ConfigError, match="argument 'spec': expected a GraphSpec"):
        build_graph(3)  # type: ignore[arg-type]


def test_the_graph_says_what_its_invocation_lacks():
    graph = build_graph("quick")
    context = SimContext(assistant=FakeListChatModel(responses=["B"]),
                         user=FakeListChatModel(responses=["Answer: A"]))
    with pytest.raises(ConfigError, match="input has no question: invoke it with initial_state"):
        graph.invoke({}, context=context)
    with pytest.raises(ConfigError, match=r"needs its context: invoke it with context=SimContext"):
        graph.invoke(initial_state(QUESTION))
    assert graph.invoke(initial_state(QUESTION), context=context)["answered"]


def test_initial_state_and_context_refuse_what_they_cannot_use():
    with pytest.raises(ConfigError, match="initial_state argument 'question'"):
        initial_state(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"SimContext argument 'assistant'.*get_chat_model"):
        SimContext(assistant="fake:echo")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"SimContext argument 'persona'.*load_persona"):
        SimContext(assistant=FakeListChatModel(responses=["x"]), persona="novice")  # type: ignore[arg-type]
