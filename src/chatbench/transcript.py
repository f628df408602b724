"""Plain-text renderings of the canonical transcript (``messages``), one labelled block per turn.

The paper's simulator prompts (``YOU:`` / ``SYSTEM:``), the judge's rubric prompt (``USER:`` /
``AI:``) and the causal-LM text format (``[USER]`` / ``[ASSISTANT]``) all render the same
transcript; only the labels differ.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from chatbench.models.invoke import message_text


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
