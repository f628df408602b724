"""Prompted simulators: a chat model plays the user, seeing a role-flipped view of the chat.

In the flipped view the simulated user's own past turns are ``AIMessage``s and the assistant's
replies are ``HumanMessage``s, so any chat model (which always answers as "assistant") writes
the user's next turn. The step instruction is appended to the last message, because small
models follow an instruction at the end of the prompt far better than one in the system prompt.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage

from chatbench import prompts
from chatbench.choice import extract_choice
from chatbench.errors import ConfigError
from chatbench.models.base import Completion
from chatbench.models.invoke import invoke_chat, message_text
from chatbench.personas import render_persona
from chatbench.questions import Question
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.registry import register_simulator

FORCED_PREFIX = "Answer:"
FORCED_MAX_TOKENS = 16
"""The forced answer needs a letter, not a paragraph."""
FEEDBACK_MAX_TOKENS = 96


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one prompted simulator."""

    system: str
    first: str
    next: str
    fixed_opening: str | None = None
    """A first message sent verbatim instead of asking the model (the "help" variant)."""


PROMPT_SETS: dict[str, PromptSet] = {
    "two_step": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT, prompts.TWO_STEP_FIRST_PROMPT, prompts.TWO_STEP_NEXT_PROMPT
    ),
    "two_step_problem": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT,
        prompts.TWO_STEP_PROBLEM_FIRST_PROMPT,
        prompts.TWO_STEP_NEXT_PROMPT,
    ),
    "two_step_help": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT,
        prompts.TWO_STEP_FIRST_PROMPT,
        prompts.TWO_STEP_NEXT_PROMPT,
        fixed_opening=prompts.TWO_STEP_HELP_OPENING,
    ),
    "iqa_eval": PromptSet(
        prompts.IQA_EVAL_SYSTEM_PROMPT, prompts.IQA_EVAL_FIRST_PROMPT, prompts.IQA_EVAL_NEXT_PROMPT
    ),
}


def flip_roles(messages: Sequence[AnyMessage]) -> list[BaseMessage]:
    """The transcript as the simulated user sees it: its turns as AI, the assistant's as human."""
    return [
        _flipped(isinstance(message, HumanMessage), message_text(message))
        for message in messages
        if isinstance(message, (HumanMessage, AIMessage))
    ]


@functools.lru_cache(maxsize=4096)
def _flipped(from_user: bool, text: str) -> BaseMessage:
    """One message of the flipped view. Cached because every user turn flips the whole
    transcript again: without it, a conversation of n turns builds n^2/2 messages. Chat
    models only read the messages they are given, so one object can serve every call."""
    return AIMessage(content=text) if from_user else HumanMessage(content=text)


@functools.lru_cache(maxsize=1024)
def _system_message(template: str, persona_block: str, question: Question) -> SystemMessage:
    """The simulator's system message: the same on every turn of a conversation, so built
    once (like the flipped messages, one object serves every call)."""
    return SystemMessage(content=template.format(persona=persona_block, question=question.format()))


def simulator_view(request: TurnRequest, prompt_set: PromptSet) -> list[BaseMessage]:
    """The full prompt of one simulator call: system, flipped transcript, step instruction."""
    persona = request.context.persona
    persona_block = prompts.PERSONA_BLOCK.format(persona=render_persona(persona)) if persona else ""
    instruction = {
        "first": prompt_set.first,
        "next": prompt_set.next,
        "forced": prompts.FORCED_ANSWER_PROMPT,
        "think": prompts.USER_COT_PROMPT,
        "feedback": prompts.USER_SATISFACTION_PROMPT,
    }[request.mode]
    if request.scratchpad and request.mode != "think":
        instruction = f"{prompts.USER_SCRATCHPAD_PREFIX}{request.scratchpad}\n\n{instruction}"
    system = _system_message(prompt_set.system, persona_block, request.question)
    view: list[BaseMessage] = [system, *flip_roles(request.messages)]
    if isinstance(view[-1], HumanMessage):
        view[-1] = HumanMessage(content=f"{message_text(view[-1])}\n\n{instruction}")
    else:
        view.append(HumanMessage(content=instruction))
    return view


def _user_chat_model(request: TurnRequest) -> BaseChatModel:
    model = request.context.user
    if not isinstance(model, BaseChatModel):
        raise ConfigError(
            f"simulator {request.spec.simulator!r} needs a chat model as the user, "
            f"got {type(model).__name__}"
        )
    return model


def _prompted_turn(request: TurnRequest, prompt_set: PromptSet) -> Completion:
    if request.mode == "first" and prompt_set.fixed_opening is not None:
        return Completion(prompt_set.fixed_opening.format(question=request.question.format()))
    model = _user_chat_model(request)
    view = simulator_view(request, prompt_set)
    if request.mode == "feedback":
        settings = request.spec.user.model_copy(update={"max_tokens": FEEDBACK_MAX_TOKENS})
        return invoke_chat(model, view, settings, request.seed, request.context.call_timeout_s)
    if request.mode != "forced":
        return invoke_chat(model, view, request.spec.user, request.seed,
                           request.context.call_timeout_s)
    return _forced_answer(model, view, request)


def _forced_answer(
    model: BaseChatModel, view: list[BaseMessage], request: TurnRequest
) -> Completion:
    """The answer-only turn, its reply prefilled with ``"Answer:"``.

    Models that continue a trailing AI message (local models, Anthropic) then write just the
    letter, which small models otherwise rarely manage; others see it as context and usually
    reply "Answer: X" themselves. The prefix is put back in front of a continuation.
    """
    settings = request.spec.user.model_copy(
        update={
            "max_tokens": min(request.spec.user.max_tokens or FORCED_MAX_TOKENS, FORCED_MAX_TOKENS)
        }
    )
    reply = invoke_chat(model, [*view, AIMessage(content=FORCED_PREFIX)], settings, request.seed,
                        request.context.call_timeout_s)
    prefixed = f"{FORCED_PREFIX} {reply.text}"
    choices = request.question.choices
    keep = reply.text.lower().startswith("answer") or (
        extract_choice(prefixed, choices) is None
        and extract_choice(reply.text, choices) is not None
    )
    return reply if keep else replace(reply, text=prefixed)


def _register(name: str, prompt_set: PromptSet) -> None:
    register_simulator(name)(lambda request: _prompted_turn(request, prompt_set))


for _name, _prompt_set in PROMPT_SETS.items():
    _register(_name, _prompt_set)
