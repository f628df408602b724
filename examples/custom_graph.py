"""Compose your own conversation graph from chatbench's nodes, with a node of your own.

The graph below is chatbench's user -> assistant loop plus a ``word_count`` node after the
assistant that keeps the length of each reply in an extra state key. Any LangChain chat
model object plugs in as the assistant (here a fake one unless ``--model`` names another,
e.g. ``--model smollm2`` or ``--model openai:gpt-4o-mini``).

    python examples/custom_graph.py
    python examples/custom_graph.py --model smollm2
"""

from __future__ import annotations

import argparse
import operator
from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, StateGraph

from chatbench import GraphSpec, SimContext, get_chat_model, initial_state, load_questions
from chatbench.nodes import (
    make_assistant_node,
    make_force_answer_node,
    make_judge_node,
    make_route_after_assistant,
    make_user_node,
    route_after_user,
)
from chatbench.state import ASSISTANT, FORCE_ANSWER, JUDGE, USER, ConversationState

WORD_COUNT = "word_count"


class CountingState(ConversationState, total=False):
    """chatbench's state plus one key of our own."""

    reply_words: Annotated[list[int], operator.add]


def word_count_node(state: CountingState) -> dict[str, Any]:
    """Our own node: record how long the assistant's last reply was."""
    last = state["messages"][-1]
    return {"reply_words": [len(last.text.split())] if isinstance(last, AIMessage) else []}


def build_counting_graph(spec: GraphSpec) -> Any:
    """chatbench's nodes and routers, with ``word_count`` between assistant and user."""
    graph = StateGraph(CountingState, context_schema=SimContext)
    graph.add_node(USER, make_user_node(spec))
    graph.add_node(ASSISTANT, make_assistant_node(spec))
    graph.add_node(WORD_COUNT, word_count_node)
    graph.add_node(FORCE_ANSWER, make_force_answer_node(spec))
    graph.add_node(JUDGE, make_judge_node(spec))
    graph.add_edge(START, USER)
    graph.add_conditional_edges(USER, route_after_user, [JUDGE, ASSISTANT])
    graph.add_edge(ASSISTANT, WORD_COUNT)
    graph.add_conditional_edges(WORD_COUNT, make_route_after_assistant(spec), [USER, FORCE_ANSWER])
    graph.add_edge(FORCE_ANSWER, JUDGE)
    graph.add_edge(JUDGE, END)
    return graph.compile()


def fake_models(answer: str) -> tuple[BaseChatModel, BaseChatModel]:
    """A user who asks once and then answers, and an assistant that explains."""
    user = GenericFakeChatModel(
        messages=iter(["Can you walk me through this?", f"Answer: {answer}"])
    )
    assistant = GenericFakeChatModel(messages=iter([f"Let's check each option; I get {answer}."]))
    return user, assistant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="assistant and user model, e.g. smollm2 (default: fakes)")
    args = parser.parse_args()
    question = load_questions(limit=1)[0]
    spec = GraphSpec(
        max_turns=2,
        user={"temperature": 1.0, "max_tokens": 48},
        assistant={"temperature": 0.7, "max_tokens": 96},
    )
    if args.model:
        user = assistant = get_chat_model(args.model)
    else:
        user, assistant = fake_models(question.answer)
    graph = build_counting_graph(spec)
    print(graph.get_graph().draw_mermaid())
    out = graph.invoke(
        initial_state(question), context=SimContext(assistant=assistant, user=user, seed=0)
    )
    for message in out["messages"]:
        print(f"{type(message).__name__:>12}: {message.text[:200]}")
    print(
        f"reply lengths: {out['reply_words']}; verdict: {out['verdict']} "
        f"({out['stop_reason'].value}, {out['turns']} user turns)"
    )


if __name__ == "__main__":
    main()
