"""The judge node: the user's final choice and verdict, the option the assistant pointed to at
each turn (for error recovery), and rubric scores from a judge model or from registered
evaluators (openevals-style, no judge model)."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from chatbench import prompts
from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question
from chatbench.datatypes import Completion, Judgement, NodeTiming, StopReason, Verdict
from chatbench.models.invoke import invoke_chat, message_text
from chatbench.nodes._common import Node, node_timing
from chatbench.scoring.choice import extract_choice
from chatbench.scoring.judges import judge_rubric, judgement_settings, run_evaluator
from chatbench.scoring.rubrics import get_evaluator, get_rubric
from chatbench.seeding import call_seed
from chatbench.state import JUDGE, ConversationState


def verdict_for(
    choice: str | None, question: Question, invalid_answer: str | None = None
) -> Verdict:
    """``correct`` or ``wrong`` for a choice; ``wrong`` for an answer that is no option letter
    (the paper's rule); else ``no_answer``."""
    if choice is None:
        return "wrong" if invalid_answer is not None else "no_answer"
    return "correct" if choice == question.answer else "wrong"


def assistant_choices(messages: list[AnyMessage], question: Question) -> list[str | None]:
    """Per assistant turn, the option its reply points to (None: none, or several)."""
    return [extract_choice(message_text(m), question.choices) for m in messages
            if isinstance(m, AIMessage)]


def _read_choice(
    state: ConversationState, ctx: SimContext, spec: GraphSpec
) -> tuple[str | None, Completion | None]:
    """The final choice; under the ``natural`` accept rule, a judge model reads a last user
    turn that the rules cannot (the paper's rule has no such fallback: no answer is no answer).
    """
    choice = state.get("final_choice")
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    if (state.get("answered") or spec.accept != "natural" or ctx.judge is None
            or not isinstance(last, HumanMessage)):
        return choice, None
    question = state["question"]
    prompt = prompts.JUDGE_EXTRACT_PROMPT.format(question=question.format(), message=last.text)
    completion = invoke_chat(ctx.judge, [HumanMessage(content=prompt)], spec.judge,
                             judge_seed(ctx, "extract"), ctx.call_timeout_s)
    return extract_choice(completion.text, question.choices), completion


def judge_seed(ctx: SimContext, call: str) -> int | None:
    """The judge's sampling seed for one call, derived from the conversation seed."""
    return call_seed(ctx.seed, JUDGE, call)


def score_rubrics(
    state: ConversationState, judge: BaseChatModel | None, spec: GraphSpec, ctx: SimContext,
    choice: str | None,
) -> tuple[dict[str, Judgement], list[NodeTiming]]:
    """Every rubric of ``spec``: by its evaluator if it has one, else by the judge model
    (skipped when there is none). ``choice`` is the user's answer (None in a scenario)."""
    judgements: dict[str, Judgement] = {}
    timings = []
    for rubric in spec.rubrics:
        started = time.perf_counter()
        completion: Completion | None = None
        registered = get_evaluator(rubric)
        if registered is not None:
            judgements |= run_evaluator(rubric, registered, state["question"],
                                        state["messages"], choice,
                                        steps=state.get("assistant_steps"))
        elif judge is not None:
            judgements[rubric], completion = judge_rubric(
                judge, rubric, state["question"], state["messages"],
                judgement_settings(spec.judge),
                ctx.call_timeout_s, seed=judge_seed(ctx, rubric),
            )
        else:
            get_rubric(rubric)  # an unknown name fails the conversation, never passes silently
            continue
        timings.append(node_timing(f"{JUDGE}:{rubric}", JUDGE,
                                   time.perf_counter() - started, completion))
    return judgements, timings


def make_judge_node(spec: GraphSpec) -> Node:
    """The judge node (see the module docstring). Rubrics need ``SimContext.judge``."""

    def judge_node(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        ctx = runtime.context
        question = state["question"]
        started = time.perf_counter()
        choice, completion = _read_choice(state, ctx, spec)
        timings = [node_timing(JUDGE, JUDGE, time.perf_counter() - started, completion)]
        judgements, rubric_timings = score_rubrics(state, ctx.judge, spec, ctx, choice)
        timings += rubric_timings
        invalid_answer = state.get("invalid_answer")
        return {
            "answered": choice is not None or invalid_answer is not None,
            "final_choice": choice,
            "verdict": verdict_for(choice, question, invalid_answer),
            "stop_reason": StopReason.FORCED if state.get("forced") else StopReason.ACCEPTED,
            "assistant_choices": assistant_choices(state.get("messages") or [], question),
            "judgements": judgements,
            "timings": timings,
        }

    return judge_node
