"""The judge node: reads the user's final choice and records correct, wrong or no answer."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from chatbench import prompts
from chatbench.choice import extract_choice
from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.models.base import Completion
from chatbench.models.invoke import invoke_chat
from chatbench.nodes._common import Node, node_timing
from chatbench.questions import Question
from chatbench.state import JUDGE, ConversationState, StopReason, Verdict


def verdict_for(choice: str | None, question: Question) -> Verdict:
    """``no_answer`` without a choice, else ``correct`` or ``wrong``."""
    if choice is None:
        return "no_answer"
    return "correct" if choice == question.answer else "wrong"


def _ask_judge(
    judge: BaseChatModel, spec: GraphSpec, question: Question, message: str
) -> Completion:
    prompt = prompts.JUDGE_EXTRACT_PROMPT.format(question=question.format(), message=message)
    return invoke_chat(judge, [HumanMessage(content=prompt)], spec.judge)


def make_judge_node(spec: GraphSpec) -> Node:
    """The judge node. Without a choice in the last user turn, a judge model (if the context
    has one) is asked which option the message commits to; the rules then read its reply."""

    def judge_node(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        question = state["question"]
        choice = state.get("final_choice")
        started = time.perf_counter()
        completion = None
        judge = runtime.context.judge
        last = state["messages"][-1] if state.get("messages") else None
        if choice is None and judge is not None and isinstance(last, HumanMessage):
            completion = _ask_judge(judge, spec, question, last.text)
            choice = extract_choice(completion.text, question.choices)
        return {
            "final_choice": choice,
            "verdict": verdict_for(choice, question),
            "stop_reason": StopReason.FORCED if state.get("forced") else StopReason.ACCEPTED,
            "timings": [node_timing(JUDGE, time.perf_counter() - started, completion)],
        }

    return judge_node
