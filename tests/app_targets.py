"""Apps for ``tests/test_apps.py`` that model strings name by import path
(``app:tests.app_targets:calculator_agent``), so worker processes can rebuild them."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver

TOOL_TOKENS = (7, 3)
"""Input and output tokens the fake reports for its tool-calling message."""
ANSWER_TOKENS = (10, 5)
"""... and for its answer."""


@tool
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression such as ``6*7``."""
    allowed = set("0123456789+-*/(). ")
    if not set(expression) <= allowed:
        return "error: only numbers and + - * / ( ) are allowed"
    return str(eval(expression, {"__builtins__": {}}))  # noqa: S307  (checked just above)


def _usage(tokens: tuple[int, int]) -> dict[str, int]:
    return {"input_tokens": tokens[0], "output_tokens": tokens[1],
            "total_tokens": sum(tokens)}


class ToolCallingFake(BaseChatModel):
    """A deterministic tool-calling chat model: it calls ``calculate("6*7")`` for each new user
    message, then answers with the tool's result (a pure function of its prompt, so one
    instance serves any number of conversations)."""

    @property
    def _llm_type(self) -> str:
        return "tool-calling-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFake:  # type: ignore[override]  # the fake ignores tool schemas
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"The calculator says {last.content}. Answer: B",
                              usage_metadata=_usage(ANSWER_TOKENS))  # type: ignore[arg-type]  # a UsageMetadata dict
        else:
            call = {"name": "calculate", "args": {"expression": "6*7"},
                    "id": f"call-{len(messages)}"}
            reply = AIMessage(content="", tool_calls=[call],
                              usage_metadata=_usage(TOOL_TOKENS))  # type: ignore[arg-type]  # as above
        return ChatResult(generations=[ChatGeneration(message=reply)])


def calculator_agent(checkpointer: BaseCheckpointSaver | None = None) -> Any:
    """A factory (no required argument): an agent with the ``calculate`` tool."""
    return create_agent(ToolCallingFake(), tools=[calculate], name="calculator",
                        checkpointer=checkpointer)


def echo_app(messages: list[BaseMessage]) -> str:
    """A plain function app: says how many messages it got and echoes the last."""
    return f"{len(messages)} messages; last: {messages[-1].text}"


not_an_app = 42
