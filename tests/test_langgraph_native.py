"""LangGraph-native use: the Studio graph ``langgraph.json`` names, and checkpointers."""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from chatbench import SimContext, get_chat_model
from chatbench.config import GraphSpec
from chatbench.data.questions import Question, load_questions
from chatbench.datatypes import Judgement, StopReason
from chatbench.errors import ConfigError
from chatbench.graphs import build_graph, build_state_graph, checkpoint_serde, with_state_types
from chatbench.graphs.studio import StudioSettings, studio_question
from chatbench.state import CHECKPOINT_TYPES, ConversationState, initial_state

ROOT = Path(__file__).parents[1]
QUESTION = Question(id="q1", subject="math", stem="2+2?", choices=("3", "4"), answer="B")


def _load_graph_path(path: str) -> Any:
    """The object a ``langgraph.json`` graph path names: ``./file.py:attr`` or
    ``package.module:attr``, as ``langgraph dev`` reads it."""
    target, _, attr = path.rpartition(":")
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("studio_graph", ROOT / target)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, attr)


# --------------------------------------------------------------------------------------------
# langgraph.json and the Studio graph
# --------------------------------------------------------------------------------------------


def test_langgraph_json_names_a_graph_that_runs_on_json_and_model_strings():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    graph = _load_graph_path(config["graphs"]["chatbench"])
    out = graph.invoke(
        {"question": QUESTION.model_dump(mode="json")},
        context={"user": "fake:say:Answer: B", "assistant": "fake:echo", "graph": "quick"},
    )
    assert out["question"] == QUESTION
    assert out["stop_reason"] is StopReason.ACCEPTED
    assert out["final_choice"] == "B"
    assert out["verdict"] == "correct"


def test_studio_graph_runs_offline_with_no_input_and_no_context():
    from chatbench.graphs.studio import graph

    out = graph.invoke({})
    assert out["question"] == load_questions(include_flagged=True)[0]
    assert out["stop_reason"] in (StopReason.ACCEPTED, StopReason.FORCED)
    assert out["verdict"] in ("correct", "wrong")
    assert [m.type for m in out["messages"]][:2] == ["human", "ai"]


def test_studio_graph_takes_a_question_id_or_a_text_with_choices():
    from chatbench.graphs.studio import graph

    first = load_questions(include_flagged=True)[1]
    assert graph.invoke({"question_id": first.id})["question"] == first
    out = graph.invoke({"text": "Sky colour?", "choices": ["red", "blue"], "answer": "B"},
                       context={"user": "fake:say:Answer: B", "assistant": "fake:echo"})
    assert out["question"].choices == ("red", "blue")
    assert out["verdict"] == "correct"


def test_studio_graph_runs_the_preset_the_context_names_and_streams_its_nodes():
    from chatbench.graphs.studio import graph

    nodes = [
        node
        for namespace, update in graph.stream(
            {},
            context={"graph": "two_step_cot", "user": "fake:say:Answer: B"},
            stream_mode="updates", subgraphs=True)
        for node in update
        if namespace
    ]
    assert nodes[:2] == ["user_cot", "user"]
    assert nodes[-1] == "judge"


def test_studio_graph_draws_the_conversation_inside():
    from chatbench.graphs.studio import graph

    nodes = graph.get_graph(xray=True).nodes
    assert {"conversation:user", "conversation:assistant", "conversation:judge"} <= set(nodes)


def test_studio_seed_is_the_batch_runs_seed():
    from chatbench import run_conversations
    from chatbench.graphs.studio import studio_context, studio_spec

    settings = StudioSettings(seed=7)
    spec = studio_spec(settings)
    record = run_conversations([QUESTION], spec, user="fake:user", assistant="fake:echo",
                               seed=7)[0]
    assert studio_context(spec, settings, QUESTION).seed == record.seed


@pytest.mark.parametrize("given", [
    {"question": {"id": "x", "stem": "?", "choices": ["a"], "answer": "A"}},
    {"text": "No options"},
    {"question_id": "no-such-question"},
])
def test_studio_input_errors_are_config_errors(given):
    with pytest.raises(ConfigError):
        studio_question(given)


def test_studio_settings_refuse_unknown_keys():
    from chatbench.graphs.studio import graph

    with pytest.raises(ValueError, match="assistent"):
        graph.invoke({}, context={"assistent": "fake:echo"})


# --------------------------------------------------------------------------------------------
# Checkpointers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def serde_events() -> Iterator[list[SerdeEvent]]:
    """Every allowlist event LangGraph's serializer emits (it logs each type only once per
    process, so the log alone cannot show a second warning)."""
    events: list[SerdeEvent] = []
    unregister = register_serde_event_listener(events.append)
    yield events
    unregister()


def _context() -> SimContext:
    return SimContext(user=get_chat_model("fake:user"), assistant=get_chat_model("fake:echo"))


def test_build_graph_checkpoints_and_loads_the_state_without_warnings(serde_events, caplog):
    graph = build_graph(GraphSpec(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        out = graph.invoke(initial_state(QUESTION), config, context=_context())
        snapshot = graph.get_state(config)
        history = list(graph.get_state_history(config))
    assert caught == []
    assert [r for r in caplog.records if r.name.startswith("langgraph")] == []
    assert serde_events == []
    values = snapshot.values
    assert type(values["question"]) is Question and values["question"] == QUESTION
    assert type(values["stop_reason"]) is StopReason
    assert values["stop_reason"] is out["stop_reason"]
    assert values["messages"] == out["messages"]
    assert snapshot.next == ()
    assert len(history) > 3


def test_every_state_type_round_trips_through_the_serializer(serde_events):
    serde = with_state_types(InMemorySaver()).serde
    state = {**initial_state(QUESTION), "stop_reason": StopReason.FORCED,
             "judgements": {"coherence": Judgement(score=4, reason="ok")}}
    loaded = serde.loads_typed(serde.dumps_typed(state))
    assert loaded == state
    assert type(loaded["judgements"]["coherence"]) is Judgement
    assert type(loaded["question"]) is Question
    assert serde_events == []


def test_a_plain_compile_warns_and_checkpoint_serde_silences_it(serde_events):
    config = {"configurable": {"thread_id": "t"}}
    plain = build_state_graph(GraphSpec()).compile(checkpointer=InMemorySaver())
    plain.invoke(initial_state(QUESTION), config, context=_context())
    plain.get_state(config)
    assert {e["name"] for e in serde_events} >= {"Question", "StopReason"}
    serde_events.clear()
    saver = InMemorySaver(serde=checkpoint_serde())
    graph = build_state_graph(GraphSpec()).compile(checkpointer=saver)
    graph.invoke(initial_state(QUESTION), config, context=_context())
    assert graph.get_state(config).values["question"] == QUESTION
    assert serde_events == []


def test_a_conversation_resumes_from_its_checkpoint():
    graph = build_graph(GraphSpec(), checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "resume"}}
    failing = SimContext(user=get_chat_model("fake:user"), assistant=get_chat_model("fake:fail"))
    with pytest.raises(ConnectionError):
        build_graph(GraphSpec(), retry=None, checkpointer=graph.checkpointer).invoke(
            initial_state(QUESTION), config, context=failing)
    stopped = graph.get_state(config)
    assert stopped.next == ("assistant",)
    assert stopped.values["turns"] == 1
    out = graph.invoke(None, config, context=_context())
    assert out["stop_reason"] is StopReason.ACCEPTED
    assert [m.type for m in out["messages"]] == ["human", "ai", "human"]
    assert out["turns"] == 2


def test_with_state_types_keeps_what_it_need_not_change():
    assert with_state_types(None) is None
    assert with_state_types(True) is True
    strict = InMemorySaver(serde=JsonPlusSerializer(allowed_msgpack_modules=None))
    allowing = with_state_types(strict)
    assert allowing is not strict and allowing.storage is strict.storage
    saver = InMemorySaver()
    assert with_state_types(saver).storage is saver.storage


def test_checkpoint_types_cover_every_type_langgraph_finds_in_the_state():
    from langgraph._internal._serde import build_serde_allowlist, curated_core_allowlist

    found = build_serde_allowlist(schemas=[ConversationState]) - curated_core_allowlist()
    assert found == {(t.__module__, t.__name__) for t in CHECKPOINT_TYPES}


def test_the_studio_extra_pins_what_langgraph_api_needs():
    from pathlib import Path

    import tomllib

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())[
        "project"]["optional-dependencies"]
    studio = extras["studio"]
    assert any(r.startswith("langgraph-cli[inmem]") for r in studio)
    assert "protobuf>=6,<7" in studio  # else a later install downgrades protobuf 7
    assert not any("studio" in r for r in extras["all"])  # a web server stack: opt in
