"""LangGraph's ``stream_mode="messages"`` on a conversation graph: each turn comes once, as the
transcript holds it (the simulated user's as ``HumanMessage``, the assistant's as
``AIMessage``); the model calls behind them (the simulator's role-flipped view, the raw reply,
the judge) are not streamed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from chatbench import GraphSpec, SimContext, get_chat_model
from chatbench.data.questions import Question
from chatbench.graphs import build_graph
from chatbench.state import initial_state
from tests.app_targets import calculator_agent

QUESTION = Question(id="q1", subject="math", stem="2+2?", choices=("3", "4"), answer="B")
USER_TURNS = ["What is 2+2?", "And once more?", "Answer: B"]
AGENT_REPLY = "The calculator says 42. Answer: B"


def _user(turns: list[str]) -> FakeListChatModel:
    """A simulator model that streams its replies token by token (``FakeListChatModel``)."""
    return FakeListChatModel(responses=turns)


CASES: dict[str, tuple[GraphSpec, list[str], Any, list[str]]] = {
    "chat view, echo": (GraphSpec(view="chat"), USER_TURNS, lambda: get_chat_model("fake:echo"),
                        USER_TURNS[:2]),
    "transcript view, streaming assistant": (
        GraphSpec(), USER_TURNS, lambda: FakeListChatModel(responses=["It is 4.", "Still 4."]),
        ["It is 4.", "Still 4."]),
    "scratchpad and feedback": (
        GraphSpec(view="chat", user_cot=True, ask_user_satisfaction=True),
        ["thinking", USER_TURNS[0], "thinking", USER_TURNS[1], "thinking", USER_TURNS[2],
         "Rating: 5"],
        lambda: get_chat_model("fake:echo"), USER_TURNS[:2]),
    "an agent with a tool": (GraphSpec(view="chat"), USER_TURNS,
                             lambda: get_chat_model(calculator_agent()),
                             [AGENT_REPLY] * 2),
}


def _expected(replies: list[str]) -> list[tuple[type[BaseMessage], str, str]]:
    """Two assistant turns between three user turns, in order."""
    return [(HumanMessage, "user", USER_TURNS[0]), (AIMessage, "assistant", replies[0]),
            (HumanMessage, "user", USER_TURNS[1]), (AIMessage, "assistant", replies[1]),
            (HumanMessage, "user", USER_TURNS[2])]


def _shown(events: list[tuple[BaseMessage, dict[str, Any]]]) -> list[tuple[type, str, str]]:
    return [(type(m), meta["langgraph_node"], m.text) for m, meta in events]


@pytest.mark.parametrize("case", list(CASES))
def test_messages_mode_streams_each_turn_once_as_the_transcript_holds_it(case):
    spec, user_turns, assistant, replies = CASES[case]
    context = SimContext(user=_user(user_turns), assistant=assistant())
    events: list[tuple[BaseMessage, dict[str, Any]]] = []
    final: dict[str, Any] = {}
    for mode, chunk in build_graph(spec).stream(initial_state(QUESTION, None), context=context,
                                                stream_mode=["messages", "values"]):
        if mode == "messages":
            events.append(chunk)
        else:
            final = chunk
    assert _shown(events) == _expected(replies)
    assert [m.id for m, _ in events] == [m.id for m in final["messages"]]  # the very messages


def test_async_messages_mode_streams_each_turn_once():
    context = SimContext(user=_user(USER_TURNS), assistant=get_chat_model("fake:echo"))

    async def collect() -> list[tuple[BaseMessage, dict[str, Any]]]:
        graph = build_graph(GraphSpec(view="chat"))
        return [event async for event in graph.astream(
            initial_state(QUESTION, None), context=context, stream_mode="messages")]

    assert _shown(asyncio.run(collect())) == _expected(USER_TURNS[:2])


def test_a_forced_answer_streams_once_as_the_users_turn():
    spec = GraphSpec(view="chat", max_turns=1)
    context = SimContext(user=_user(["What is 2+2?", "B"]), assistant=get_chat_model("fake:echo"))
    events = list(build_graph(spec).stream(initial_state(QUESTION, None), context=context,
                                           stream_mode="messages"))
    assert [(type(m), meta["langgraph_node"]) for m, meta in events] == [
        (HumanMessage, "user"), (AIMessage, "assistant"), (HumanMessage, "force_answer")]
