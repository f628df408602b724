"""``HumanConversation``: one person's real conversation with an AI assistant about one question,
and their answer, whatever file it came from (HALIE, ChatBench)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, model_validator

from chatbench.data.question import Question
from chatbench.data.rows import validated_row

Source = Literal["halie", "chatbench"]
Role = Literal["user", "assistant"]
LoggedMessage = tuple[Role, str]
"""One message of a chat as its source logged it: ``(role, text)``."""


class HumanConversation(BaseModel):
    """One person's conversation with an AI assistant about one question, and their answer.

    ``user_turns[i]`` is followed by ``assistant_turns[i]``; the assistant may not have
    replied to the last user turn, so there are as many replies as user turns or one fewer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: Question
    user_turns: list[str]
    """The user's messages, in order."""
    assistant_turns: list[str]
    """The assistant's replies, in order; reply ``i`` answers user turn ``i``."""
    final_choice: str | None = None
    """The option letter the user finally picked, or ``None`` when they picked none."""
    correct: bool | None = None
    """Whether the final choice is right, as the source recorded it (``None``: unknown)."""
    assistant_model: str
    """The assistant, e.g. ``gpt-4o`` or HALIE's ``InstructDavinci``."""
    source: Source
    worker_id: str | None = None
    condition: str | None = None
    """ChatBench's ``direct-to-AI`` / ``answer-first``; ``None`` for HALIE."""
    log: tuple[LoggedMessage, ...] | None = None
    """The chat as the source logged it, one entry per message, none merged or dropped (two
    user messages in a row stay two; an assistant greeting before the user's first message
    stays). ``None``: the source gives turns only, so ``history()`` interleaves them."""

    @model_validator(mode="after")
    def _turns_interleave(self) -> HumanConversation:
        users, replies = len(self.user_turns), len(self.assistant_turns)
        if replies not in (users, users - 1):
            raise ValueError(f"{users} user turns cannot have {replies} assistant replies")
        if self.final_choice is not None and self.final_choice not in self.question.letters:
            raise ValueError(
                f"final choice {self.final_choice!r} is not one of the option letters "
                f"{''.join(self.question.letters)}"
            )
        return self

    def history(self) -> list[LoggedMessage]:
        """The chat message by message as logged (``log``), or the interleaved turns when the
        source logged none: what the paper's code reads as ``chatHistory``."""
        if self.log is not None:
            return list(self.log)
        out: list[LoggedMessage] = []
        for i, text in enumerate(self.user_turns):
            out.append(("user", text))
            if i < len(self.assistant_turns):
                out.append(("assistant", self.assistant_turns[i]))
        return out

    def messages(self) -> list[AnyMessage]:
        """The conversation as LangChain messages, user turns first in each pair."""
        out: list[AnyMessage] = []
        for i, text in enumerate(self.user_turns):
            out.append(HumanMessage(content=text))
            if i < len(self.assistant_turns):
                out.append(AIMessage(content=self.assistant_turns[i]))
        return out


def checked_conversation(where: str, **fields: object) -> HumanConversation:
    """Build a ``HumanConversation``, reporting a validation error against ``where``.

    Raises:
        ConfigError: The fields do not make a valid conversation.
    """
    return validated_row(HumanConversation, where, fields)


def has_turns(user_turns: list[str], min_user_turns: int) -> bool:
    """Whether there are at least ``min_user_turns`` non-blank user turns."""
    return sum(1 for turn in user_turns if turn.strip()) >= min_user_turns


def human_accuracy_by_question(
    conversations: Iterable[HumanConversation],
) -> dict[tuple[str, str], float]:
    """Real users' accuracy per question and assistant model.

    Args:
        conversations: Conversations from ``load_halie`` or ``load_chatbench_conversations``;
            those with unknown correctness are left out.

    Returns:
        ``{(question_id, assistant_model): mean of correct}``.
    """
    outcomes: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for conversation in conversations:
        if conversation.correct is not None:
            key = (conversation.question.id, conversation.assistant_model)
            outcomes[key].append(conversation.correct)
    return {key: sum(values) / len(values) for key, values in outcomes.items()}
