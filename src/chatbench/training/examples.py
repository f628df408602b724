"""Training examples for a fine-tuned user simulator, in the causal-LM simulator's text format.

The ChatBench recipe: a human conversation with ``k`` user turns becomes ``k + 1`` examples.
Example ``i`` (``0 <= i < k``) shows the question and the conversation before user turn ``i``
and targets that turn; the last shows the whole conversation and targets ``"Answer: X"``. Prompts
are rendered by ``chatbench.simulators.causal_lm`` (``system_block``, ``turn_blocks``,
``render_prompt``) and targets by its ``format_target``, so a model fine-tuned on these
examples sees at run time exactly the text it was trained on.

No torch here: ``tokenize_example`` only needs a tokenizer object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from chatbench.data.human_data import HumanConversation
from chatbench.errors import ConfigError
from chatbench.personas import Persona
from chatbench.simulators.causal_lm import (
    FORCED_PREFIX,
    format_target,
    render_prompt,
    system_block,
    turn_blocks,
)

IGNORE_INDEX = -100
"""Label of tokens that carry no loss (prompt and padding), as in transformers."""


@dataclass(frozen=True)
class TrainingExample:
    """One prompt and the user turn a simulator should write after it.

    ``system`` and ``blocks`` keep the prompt's parts so that a too-long example can drop its
    oldest turns; ``from_blocks`` fills them. An example built from a bare ``prompt`` cannot
    be shortened.
    """

    prompt: str
    """The rendered prompt, ending in ``"[USER] "``."""
    target: str
    """The user's turn followed by ``[END]``."""
    question_id: str
    system: str | None = None
    """The ``[SYSTEM]`` block with the question, when known."""
    blocks: tuple[str, ...] = ()
    """The ``[USER]``/``[ASSISTANT]`` turn blocks of the prompt, oldest first."""

    def __post_init__(self) -> None:
        if self.system is not None and self.prompt != render_prompt(self.system, self.blocks):
            raise ValueError("prompt is not render_prompt(system, blocks)")

    @classmethod
    def from_blocks(
        cls, system: str, blocks: Sequence[str], target: str, question_id: str
    ) -> TrainingExample:
        """An example whose prompt is ``render_prompt(system, blocks)``."""
        blocks = tuple(blocks)
        return cls(render_prompt(system, blocks), target, question_id, system, blocks)

    def shortened_prompts(self) -> Iterator[str]:
        """The prompt, then versions without the oldest 1, 2, ... turn blocks.

        Blocks are dropped one at a time, oldest first, like ``fit_prompt`` does at run time;
        the system block is always kept. A bare-prompt example yields only its prompt.
        """
        if self.system is None:
            yield self.prompt
            return
        for start in range(len(self.blocks) + 1):
            yield render_prompt(self.system, self.blocks[start:])


def conversation_examples(
    conversation: HumanConversation, persona: Persona | None = None
) -> list[TrainingExample]:
    """The ``k + 1`` training examples of a conversation with ``k`` user turns.

    Args:
        conversation: A real user's conversation.
        persona: Rendered into the system block, as the simulator would at run time.

    Returns:
        One example per user turn (the history before it, then the turn), then one with the
        whole conversation and the target ``"Answer: X"``; that last one is left out when
        the user picked no answer.
    """
    system = system_block(conversation.question, persona)
    blocks = turn_blocks(conversation.messages())
    qid = conversation.question.id
    # Only the last user turn can lack a reply, so the history before turn i is 2i blocks.
    examples = [
        TrainingExample.from_blocks(system, blocks[: 2 * i], format_target(text), qid)
        for i, text in enumerate(conversation.user_turns)
    ]
    if conversation.final_choice is not None:
        final = format_target(f"{FORCED_PREFIX} {conversation.final_choice}")
        examples.append(TrainingExample.from_blocks(system, blocks, final, qid))
    return examples


def build_examples(
    conversations: Iterable[HumanConversation], persona: Persona | None = None
) -> list[TrainingExample]:
    """``conversation_examples`` of every conversation, in order."""
    return [
        example
        for conversation in conversations
        for example in conversation_examples(conversation, persona)
    ]


def token_ids(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` without special tokens, as ``LocalCausalLM`` encodes prompts."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_example(
    tokenizer: Any, example: TrainingExample, max_length: int
) -> dict[str, list[int]]:
    """Token ids and labels of an example for causal-LM training; loss on the target only.

    The prompt and the target are tokenized separately and concatenated. Tokenizing them
    together would merge the prompt's trailing space into the target's first word (GPT-2's
    " What"), but at generation time the prompt is tokenized alone and ends in a separate
    space token (220 for GPT-2): the model must learn to continue from that token.

    When the example is longer than ``max_length`` tokens, the oldest turn blocks are dropped
    one at a time (as ``fit_prompt`` does at run time); the system block with the question and
    the target are never cut.

    Args:
        tokenizer: A transformers tokenizer (anything called as ``tokenizer(text,
            add_special_tokens=False)`` returning ``input_ids``).
        example: The example.
        max_length: Most tokens of prompt plus target, e.g. the model's context window.

    Returns:
        ``{"input_ids", "labels", "attention_mask"}`` as lists of the same length; labels are
        ``IGNORE_INDEX`` on the prompt tokens and the target's ids on the target tokens.

    Raises:
        ConfigError: Even with every turn dropped the example needs more than ``max_length``.
    """
    target_ids = token_ids(tokenizer, example.target)
    needed = 0
    for prompt in example.shortened_prompts():
        prompt_ids = token_ids(tokenizer, prompt)
        needed = len(prompt_ids) + len(target_ids)
        if needed <= max_length:
            return {
                "input_ids": prompt_ids + target_ids,
                "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids,
                "attention_mask": [1] * needed,
            }
    raise ConfigError(
        f"a training example of question {example.question_id!r} needs {needed} tokens "
        f"without its earlier turns, more than max_length={max_length}"
    )
