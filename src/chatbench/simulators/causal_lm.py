"""Causal-LM simulator in the chatbench-distilgpt2 text format.

A prompt is::

    [SYSTEM] <instructions and the question>

    [USER] <user turn>

    [ASSISTANT] <assistant turn>

    [USER]

(the prompt ends in ``"[USER] "``, space included) and the model continues with the user's
next turn, ending it with ``[END]``. The same
rendering is used to build training examples, so a fine-tuned model sees at run time exactly
the text it was trained on. When the prompt would not fit the model's context window (1,024
tokens for GPT-2) the oldest turns are dropped, never the system block with the question.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AnyMessage

from chatbench import prompts
from chatbench.data.questions import Question
from chatbench.datatypes import Completion, TextCompleter
from chatbench.errors import ConfigError
from chatbench.models.base import bounded
from chatbench.personas import Persona, render_persona
from chatbench.simulators.base import TurnRequest
from chatbench.simulators.registry import register_simulator
from chatbench.state import END_TOKEN
from chatbench.transcript import labelled_turns

SYSTEM_TAG = "[SYSTEM]"
USER_TAG = "[USER]"
ASSISTANT_TAG = "[ASSISTANT]"
STOP_STRINGS = [END_TOKEN, USER_TAG, ASSISTANT_TAG, SYSTEM_TAG]
"""A turn ends at ``[END]``; an untrained model that starts another block is cut there too."""
FORCED_PREFIX = "Answer:"
FORCED_MAX_TOKENS = 4


def system_block(question: Question, persona: Persona | None = None) -> str:
    """The ``[SYSTEM]`` block: instructions, the persona if any, and the question."""
    persona_text = f"{render_persona(persona)}\n" if persona else ""
    body = prompts.CAUSAL_LM_SYSTEM_PROMPT.format(persona=persona_text, question=question.format())
    return f"{SYSTEM_TAG} {body}"


def turn_blocks(messages: Sequence[AnyMessage]) -> list[str]:
    """One ``[USER]`` or ``[ASSISTANT]`` block per message of the transcript."""
    return labelled_turns(messages, USER_TAG, ASSISTANT_TAG)


def render_prompt(system: str, blocks: Sequence[str]) -> str:
    """Join the blocks and open the user's next turn (the prompt ends in ``"[USER] "``)."""
    return "\n\n".join([system, *blocks, f"{USER_TAG} "])


def fit_prompt(lm: TextCompleter, system: str, blocks: Sequence[str], max_tokens: int) -> str:
    """The longest prompt that leaves ``max_tokens`` free, dropping the oldest turns first.

    Raises:
        ConfigError: The system block with the question alone does not fit.
    """
    budget = lm.context_window - max_tokens
    for start in range(len(blocks) + 1):
        prompt = render_prompt(system, blocks[start:])
        if lm.count_tokens(prompt) <= budget:
            return prompt
    raise ConfigError(
        f"the question alone needs more than {budget} tokens of {lm.name!r}'s "
        f"{lm.context_window}-token window"
    )


def format_target(text: str) -> str:
    """A user turn as a training target: the text, then the ``[END]`` terminator."""
    return f"{text.strip()}{END_TOKEN}"


@register_simulator("causal_lm")
def causal_lm_turn(request: TurnRequest) -> Completion:
    """Write the user's next turn by continuing the text-format prompt.

    At the turn limit the prompt is extended with ``"Answer:"`` so the model only picks a
    letter, which is how fine-tuned simulators end a conversation.
    """
    lm = request.context.user
    if not isinstance(lm, TextCompleter):
        raise ConfigError(
            f"simulator 'causal_lm' needs a local causal LM as the user (hf:FOLDER or smollm2), "
            f"got {type(lm).__name__}"
        )
    forced = request.mode == "forced"
    settings = request.spec.user
    max_tokens = FORCED_MAX_TOKENS if forced else settings.max_tokens or 64
    system = system_block(request.question, request.context.persona)
    prompt = fit_prompt(lm, system, turn_blocks(request.messages), max_tokens)
    if forced:
        prompt += FORCED_PREFIX
    completion = lm.complete(
        [prompt],
        max_tokens=max_tokens,
        temperature=settings.temperature if settings.temperature is not None else 1.0,
        stop=STOP_STRINGS,
        seed=request.seed,
    )[0]
    text = f"{FORCED_PREFIX} {completion.text.strip()}" if forced else completion.text.strip()
    # the text completer's reply, cut to the role's maximum as ``invoke_chat`` cuts a chat
    # model's (a completer stops at its token limit, but a stop string may never come)
    return bounded(Completion(text, completion.input_tokens, completion.output_tokens),
                   settings.max_reply_chars)
