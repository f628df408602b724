"""Chat-format fine-tuning examples for API simulators, with the paper's two-step prompts.

The paper's best simulator is GPT-4o fine-tuned on real users' conversations, each turned into
chat examples exactly as its two-step simulator prompts the model (``analyze_results.py``,
``convert_conversation_to_simulator_data``, which calls ``generate_conversations.py``,
``two_step_simulator(..., return_prompts=True)``). A conversation with ``k`` user turns gives
``k + 1`` examples, each ``{"messages": [system, user, assistant]}``:

- example 0: the first-prompt instruction; the assistant is the human's first message;
- example ``i`` (``1 <= i < k``): the conversation up to the AI's reply ``i - 1``, rendered as
  ``YOU:`` / ``SYSTEM:`` lines between two ``SEP`` lines; the assistant is the human's next
  message;
- the last: the whole conversation; the assistant is ``"Answer: X"``, the human's choice.

The prompts are the paper's own strings (``chatbench.prompts.PAPER_*``, copied verbatim from
its code) rendered by the transcript view (``chatbench.simulators.transcript_view``), the same
text the ``two_step`` graph sends at run time: a model fine-tuned on these lines is then used
as ``--user`` with ``--graph two_step``. No torch here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AnyMessage

from chatbench import prompts
from chatbench.data.human_data import HumanConversation
from chatbench.data.questions import Question
from chatbench.simulators.transcript_view import answer_options, render_conversation

CHAT_ROLES = ("system", "user", "assistant")
"""The roles of one example's messages, in order."""


def paper_two_step_prompts(
    question: Question, history: Sequence[AnyMessage] = ()
) -> tuple[str, str]:
    """The paper's two-step ``(system prompt, user prompt)`` for a conversation so far.

    ``two_step_simulator(row, None, conversation, return_prompts=True)`` of the original
    variant, built from the verbatim ``chatbench.prompts.PAPER_*`` strings and the transcript
    view's renderers, so that the text matches what ``--graph two_step`` (transcript view, no
    persona) sends the simulator at run time.

    Args:
        question: The question the simulated user answers.
        history: The conversation so far, user first, ending with the AI's reply; empty for
            the first turn.

    Returns:
        The system prompt with the question, and the first-prompt instruction (empty
        history) or the conversation-so-far instruction.
    """
    system = prompts.PAPER_TWO_STEP_SYSTEM_PROMPT.format(question=question.format())
    if not history:
        return system, prompts.PAPER_TWO_STEP_FIRST_PROMPT
    header = prompts.PAPER_TWO_STEP_CONVERSATION.format(
        sep=prompts.PAPER_SEP, conversation=render_conversation(history))
    step = prompts.PAPER_TWO_STEP_NEXT_PROMPT.format(options=answer_options(question.letters))
    return system, header + step


@dataclass(frozen=True)
class ChatExample:
    """One chat fine-tuning example: the two-step prompts and what the human wrote next."""

    system: str
    user: str
    assistant: str
    """The human's next message, or ``"Answer: X"``."""
    question_id: str
    """Not written to the file (OpenAI's format has ``messages`` only); for filtering."""

    def record(self) -> dict[str, list[dict[str, str]]]:
        """``{"messages": [system, user, assistant]}``, OpenAI's chat fine-tuning line."""
        return {"messages": [{"role": role, "content": content} for role, content in
                             zip(CHAT_ROLES, (self.system, self.user, self.assistant),
                                 strict=True)]}

    def to_json(self) -> str:
        """The example as one JSONL line (UTF-8 text kept as is, no newline)."""
        return json.dumps(self.record(), ensure_ascii=False)


def conversation_chat_examples(conversation: HumanConversation) -> list[ChatExample]:
    """The chat examples of one human conversation, as the paper builds them.

    Args:
        conversation: A real user's conversation.

    Returns:
        ``k + 1`` examples for ``k`` user turns: one per user turn, then ``"Answer: X"``.
        Like the paper, the answer example needs the AI's reply to the last user turn (its
        examples follow each AI reply) and a chosen answer; without them there are ``k``.
        A conversation without user turns gives none.
    """
    if not conversation.user_turns:
        return []
    system, first = paper_two_step_prompts(conversation.question)
    qid = conversation.question.id
    examples = [ChatExample(system, first, conversation.user_turns[0], qid)]
    messages = conversation.messages()
    # The history before user turn i is its 2i messages, ending with the AI's reply i-1.
    for i, text in enumerate(conversation.user_turns[1:], start=1):
        examples.append(ChatExample(system, paper_two_step_prompts(
            conversation.question, messages[: 2 * i])[1], text, qid))
    replied = len(conversation.assistant_turns) == len(conversation.user_turns)
    if replied and conversation.final_choice is not None:
        user = paper_two_step_prompts(conversation.question, messages)[1]
        answer = f"{prompts.PAPER_TWO_STEP_ANSWER_PREFIX}{conversation.final_choice}"
        examples.append(ChatExample(system, user, answer, qid))
    return examples


def build_chat_examples(conversations: Iterable[HumanConversation]) -> list[ChatExample]:
    """``conversation_chat_examples`` of every conversation, in order."""
    return [
        example
        for conversation in conversations
        for example in conversation_chat_examples(conversation)
    ]


def chat_record_problem(record: Any) -> str | None:
    """What is wrong with one chat fine-tuning record, or ``None`` when it is valid.

    Valid: an object with a ``messages`` list of ``{"role", "content"}`` objects whose
    content is text; an optional first ``system`` message, then ``user`` and ``assistant``
    alternating, starting with ``user`` and ending with ``assistant``.
    """
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        return 'expected a JSON object with a "messages" list'
    messages = record["messages"]
    roles = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in CHAT_ROLES:
            return f"messages[{i}]: expected a role of {', '.join(CHAT_ROLES)}"
        if not isinstance(message.get("content"), str):
            return f"messages[{i}]: content is not text"
        roles.append(message["role"])
    turns = roles[1:] if roles[:1] == ["system"] else roles
    expected = ["user", "assistant"] * (len(turns) // 2)
    if not turns or turns != expected:
        return (f"roles {' '.join(roles) or '(none)'}: expected an optional system message, "
                "then user and assistant alternating, ending with assistant")
    return None
