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
from functools import cache
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from chatbench import prompts
from chatbench.data.human_data import HumanConversation
from chatbench.data.questions import Question
from chatbench.errors import ConfigError
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


class PaperRefusal(ConfigError):
    """A conversation the paper's ``convert_conversation_to_simulator_data`` cannot convert
    (it stops there with an error); ``chat_merged`` converts it."""


def paper_question(conversation: HumanConversation) -> Question:
    """The question of a ChatBench conversation as the paper's question table holds it: the
    bundled MMLU-Redux question with the same id (the paper's ``user_study_questions.csv``,
    read by ``qa_reasoning.py``, has these ids and texts; ``conversations.json``'s
    ``questionText`` may differ from it, e.g. in MathJax). Any other conversation (HALIE's,
    or an id the table does not hold) keeps its own question."""
    question = conversation.question
    if conversation.source != "chatbench":
        return question
    return _paper_questions().get(question.id, question)


@cache
def _paper_questions() -> dict[str, Question]:
    from chatbench.data.question_loaders import load_bundled  # noqa: PLC0415  # CSV parse, once

    return {q.id: q for q in load_bundled(include_flagged=True)}


def _described(conversation: HumanConversation) -> str:
    worker = f" (worker {conversation.worker_id})" if conversation.worker_id else ""
    return f"the conversation on {conversation.question.id}{worker}"


def _logged_message(role: str, text: str) -> AnyMessage:
    return HumanMessage(content=text) if role == "user" else AIMessage(content=text)


def paper_chat_examples(conversation: HumanConversation) -> list[ChatExample]:
    """The chat examples of one conversation exactly as the paper's
    ``convert_conversation_to_simulator_data`` builds them from its ``chatHistory``
    (``HumanConversation.history()``, message by message):

    - example 0: the first-prompt instruction; the target is the chat's first message;
    - after each assistant message ``i``: the chat up to it (each message its own ``YOU:`` /
      ``SYSTEM:`` block) and, as the target, the next message, or ``"Answer: X"`` after
      the last. A user's second message in a row is never a target, only context.

    Where the paper's code stops with an error this raises ``PaperRefusal``: a chat that
    opens with the assistant, two assistant messages in a row, or a chat that ends with the
    assistant and has no selected answer. A chat with no messages gives no examples.
    """
    log = conversation.history()
    if not log:
        return []
    question = paper_question(conversation)
    qid = conversation.question.id
    system, first = paper_two_step_prompts(question)
    if log[0][0] != "user":
        raise PaperRefusal(f"{_described(conversation)} opens with the assistant's message; "
                           "the paper's code refuses it ('first message from Bot'); "
                           "--format chat_merged drops the opening")
    messages = [_logged_message(role, text) for role, text in log]
    examples = [ChatExample(system, first, log[0][1], qid)]
    for i, (role, _) in enumerate(log):
        if role != "assistant":
            continue
        if i == len(log) - 1:
            if conversation.final_choice is None:
                raise PaperRefusal(f"{_described(conversation)} ends with the assistant and "
                                   "has no selected answer; the paper's code fails on it "
                                   "('Answer: ' + None); --format chat_merged leaves the "
                                   "answer example out")
            target = f"{prompts.PAPER_TWO_STEP_ANSWER_PREFIX}{conversation.final_choice}"
        elif log[i + 1][0] != "user":
            raise PaperRefusal(f"{_described(conversation)}: messages {i + 1} and {i + 2} are "
                               "both the assistant's; the paper's code refuses it "
                               "('consecutive messages from Bot'); --format chat_merged "
                               "joins them")
        else:
            target = log[i + 1][1]
        user = paper_two_step_prompts(question, messages[: i + 1])[1]
        examples.append(ChatExample(system, user, target, qid))
    return examples


def merged_chat_examples(conversation: HumanConversation) -> list[ChatExample]:
    """chatbench's ``chat_merged`` examples of one conversation: the paper's prompts on its
    turns (consecutive messages of one role joined, an assistant message before the user's
    first dropped; ``HumanConversation.user_turns``), so that every conversation converts and
    each user turn is a target.

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


def conversation_chat_examples(conversation: HumanConversation, *,
                               merged: bool = False) -> list[ChatExample]:
    """One conversation's chat examples: the paper's (``paper_chat_examples``) or, with
    ``merged``, chatbench's (``merged_chat_examples``).

    Raises:
        PaperRefusal: Not ``merged``, and the paper's code refuses the conversation.
    """
    return (merged_chat_examples if merged else paper_chat_examples)(conversation)


def build_chat_examples(conversations: Iterable[HumanConversation], *,
                        merged: bool = False) -> list[ChatExample]:
    """``conversation_chat_examples`` of every conversation, in order.

    Raises:
        PaperRefusal: Not ``merged``, and the paper's code refuses a conversation.
    """
    return [example for conversation in conversations
            for example in conversation_chat_examples(conversation, merged=merged)]


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
