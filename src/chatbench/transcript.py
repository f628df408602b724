"""Plain-text renderings of the canonical transcript (``messages``), one labelled block per turn.

The paper's simulator prompts (``YOU:`` / ``SYSTEM:``), the judge's rubric prompt (``USER:`` /
``AI:``) and the causal-LM text format (``[USER]`` / ``[ASSISTANT]``) all render the same
transcript; only the labels differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage


def labelled_turns(messages: Sequence[AnyMessage], user_label: str,
                   assistant_label: str) -> list[str]:
    """``"<label> <text>"`` for each user (``HumanMessage``) and assistant (``AIMessage``) turn;
    other messages are skipped.

    Example:
        >>> labelled_turns([HumanMessage("Hi"), AIMessage("Hello!")], "YOU:", "SYSTEM:")
        ['YOU: Hi', 'SYSTEM: Hello!']
    """
    blocks = []
    for message in messages:
        if isinstance(message, HumanMessage):
            blocks.append(f"{user_label} {message_text(message)}")
        elif isinstance(message, AIMessage):
            blocks.append(f"{assistant_label} {message_text(message)}")
    return blocks


def message_text(message: BaseMessage) -> str:
    """``message.text``, without the copy LangChain makes of plain string content (the usual
    case). Transcripts are read again on every turn, so this is on the hot path."""
    content = message.content
    return content if isinstance(content, str) else message.text
