"""Prompted simulators: a chat model plays the user (two-step, its variants, IQA-EVAL).

``GraphSpec.view`` picks what the model is sent. ``transcript`` is the paper's (see
:mod:`chatbench.simulators.transcript_view`). ``chat`` is chatbench's role-flipped chat: in the
flipped view the simulated user's own past turns are ``AIMessage``s and the assistant's
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
from chatbench.config import GraphSpec
from chatbench.data.scenario import Scenario, Task
from chatbench.datatypes import Completion
from chatbench.errors import ConfigError
from chatbench.models.invoke import invoke_chat, message_text
from chatbench.personas import render_persona
from chatbench.scoring.choice import extract_choice
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.registry import register_simulator
from chatbench.simulators.transcript_view import iqa_eval_view, two_step_view

FORCED_PREFIX = "Answer:"
FORCED_MAX_TOKENS = 16
"""The chat view's forced answer needs a letter, not a paragraph."""
FEEDBACK_MAX_TOKENS = 96


@dataclass(frozen=True)
class PromptSet:
    """The prompts of one prompted simulator, in both views."""

    system: str
    """Chat view: the system prompt."""
    first: str
    """Chat view: the first turn's instruction."""
    next: str
    """Chat view: a later turn's instruction."""
    paper_first: str | None = None
    """Transcript view (two-step): the paper's first-turn prompt; None for IQA-EVAL, whose
    prompt is its system prompt alone."""
    fixed_opening: str | None = None
    """A first message sent verbatim instead of asking the model (the "help" variant)."""
    forced: str = prompts.FORCED_ANSWER_PROMPT
    """Chat view: the answer-only instruction at the turn limit."""
    forced_prefix: str = FORCED_PREFIX
    """Chat view: the forced reply is prefilled with this."""
    feedback: str = prompts.USER_SATISFACTION_PROMPT
    """The satisfaction question after the conversation (``ask_user_satisfaction``)."""


_IQA_EVAL = PromptSet(
    prompts.IQA_EVAL_SYSTEM_PROMPT, prompts.IQA_EVAL_FIRST_PROMPT, prompts.IQA_EVAL_NEXT_PROMPT,
    forced=prompts.IQA_EVAL_FORCED_ANSWER_PROMPT, forced_prefix="So, the answer is:",
)
PROMPT_SETS: dict[str, PromptSet] = {
    "two_step": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT, prompts.TWO_STEP_FIRST_PROMPT,
        prompts.TWO_STEP_NEXT_PROMPT, paper_first=prompts.PAPER_TWO_STEP_FIRST_PROMPT,
    ),
    "two_step_problem": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT, prompts.TWO_STEP_PROBLEM_FIRST_PROMPT,
        prompts.TWO_STEP_NEXT_PROMPT, paper_first=prompts.PAPER_TWO_STEP_PROBLEM_FIRST_PROMPT,
    ),
    "two_step_help": PromptSet(
        prompts.TWO_STEP_SYSTEM_PROMPT, prompts.TWO_STEP_FIRST_PROMPT,
        prompts.TWO_STEP_NEXT_PROMPT, paper_first=prompts.PAPER_TWO_STEP_FIRST_PROMPT,
        fixed_opening=prompts.PAPER_TWO_STEP_HELP_OPENING,
    ),
    "iqa_eval": _IQA_EVAL,
}


SCENARIO_PROMPTS = PromptSet(
    prompts.SCENARIO_SYSTEM_PROMPT, prompts.SCENARIO_FIRST_PROMPT, prompts.SCENARIO_NEXT_PROMPT,
    feedback=prompts.SCENARIO_SATISFACTION_PROMPT,
)
"""What every prompted simulator sends for a ``Scenario``: chatbench's scenario prompts in the
chat view (the paper's prompts are about multiple-choice questions), persona and chain of
thought as for questions."""


def paper_exact(spec: GraphSpec) -> bool:
    """Whether a run is the paper's protocol to the byte: one of the paper's prompted
    simulators under ``accept: paper`` and ``view: transcript`` (the paper presets).

    Then, as ``generate_conversations.py`` does, the assistant's replies are kept as sent
    (surrounding spaces and newlines included) and a user turn goes to the assistant as the
    paper's cleaning leaves it: ``[END]`` kept, an empty turn sent, not retried.
    """
    return (spec.accept == "paper" and spec.view == "transcript"
            and spec.simulator in PROMPT_SETS)


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
def _system_message(template: str, persona_block: str, question: Task) -> SystemMessage:
    """The simulator's system message: the same on every turn of a conversation, so built
    once (like the flipped messages, one object serves every call)."""
    return SystemMessage(content=template.format(persona=persona_block, question=question.format()))


def simulator_view(request: TurnRequest, prompt_set: PromptSet) -> list[BaseMessage]:
    """The full prompt of one simulator call in the variant's view.

    Chat view: system, flipped transcript, step instruction. Transcript view: the paper's
    prompt (:mod:`chatbench.simulators.transcript_view`).
    """
    if isinstance(request.question, Scenario):
        prompt_set = SCENARIO_PROMPTS
    elif request.spec.view == "transcript":
        if prompt_set.paper_first is None:
            return iqa_eval_view(request)
        return two_step_view(request, prompt_set.paper_first)
    persona = request.context.persona
    persona_block = prompts.PERSONA_BLOCK.format(persona=render_persona(persona)) if persona else ""
    instruction = {
        "first": prompt_set.first,
        "next": prompt_set.next,
        "forced": prompt_set.forced,
        "think": prompts.USER_COT_PROMPT,
        "feedback": prompt_set.feedback,
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
    scenario = isinstance(request.question, Scenario)
    if request.mode == "first" and prompt_set.fixed_opening is not None and not scenario:
        return Completion(prompt_set.fixed_opening)
    model = _user_chat_model(request)
    view = simulator_view(request, prompt_set)
    if request.mode == "feedback":
        settings = request.spec.user.model_copy(update={"max_tokens": FEEDBACK_MAX_TOKENS})
        return invoke_chat(model, view, settings, request.seed, request.context.call_timeout_s)
    if request.mode != "forced" or request.spec.view == "transcript" or scenario:
        # The paper asks for the forced answer like any other turn: same settings, no prefill.
        return invoke_chat(model, view, request.spec.user, request.seed,
                           request.context.call_timeout_s)
    return _forced_answer(model, view, request, prompt_set.forced_prefix)


def _forced_answer(
    model: BaseChatModel, view: list[BaseMessage], request: TurnRequest, prefix: str
) -> Completion:
    """The chat view's answer-only turn, its reply prefilled with ``prefix`` (``"Answer:"``).

    Models that continue a trailing AI message (local models, Anthropic) then write just the
    letter, which small models otherwise rarely manage; others see it as context and usually
    reply "Answer: X" themselves. The prefix is put back in front of a continuation.
    """
    settings = request.spec.user.model_copy(
        update={
            "max_tokens": min(request.spec.user.max_tokens or FORCED_MAX_TOKENS, FORCED_MAX_TOKENS)
        }
    )
    reply = invoke_chat(model, [*view, AIMessage(content=prefix)], settings, request.seed,
                        request.context.call_timeout_s)
    prefixed = f"{prefix} {reply.text}"
    choices = request.question.choices
    keep = reply.text.lower().startswith(prefix.lower().rstrip(":")) or (
        extract_choice(prefixed, choices) is None
        and extract_choice(reply.text, choices) is not None
    )
    return reply if keep else replace(reply, text=prefixed)


def _register(name: str, prompt_set: PromptSet) -> None:
    register_simulator(name)(lambda request: _prompted_turn(request, prompt_set))


for _name, _prompt_set in PROMPT_SETS.items():
    _register(_name, _prompt_set)
