"""Apps for ``tests/test_apps.py`` that model strings name by import path
(``app:tests.app_targets:calculator_agent``), so worker processes can rebuild them."""

from __future__ import annotations

import time
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel, FakeListChatModel
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


class ScriptedFake(BaseChatModel):
    """A stateful scripted model, as a fake replaying a recording is: whatever it is sent, it
    replies with the next message of its script (call ``calculate("6*7")``, then answer, and
    again), after ``delay_s``. Two conversations sharing one would take each other's
    replies: one turn would get no tool call, another two."""

    delay_s: float = 0.02
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedFake:  # type: ignore[override]  # the fake ignores tool schemas
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.calls += 1
        call = self.calls
        time.sleep(self.delay_s)  # another conversation's call would come in now
        if call % 2:
            reply = AIMessage(content="", tool_calls=[
                {"name": "calculate", "args": {"expression": "6*7"}, "id": f"call-{call}"}])
        else:
            reply = AIMessage(content="The calculator says 42. Answer: B")
        return ChatResult(generations=[ChatGeneration(message=reply)])


SCRIPTED_FAKES: list[ScriptedFake] = []
"""The model of every agent ``scripted_agent`` made, in order."""


def scripted_agent() -> Any:
    """A factory: an agent with the ``calculate`` tool over a new ``ScriptedFake``."""
    SCRIPTED_FAKES.append(ScriptedFake())
    return create_agent(SCRIPTED_FAKES[-1], tools=[calculate], name="scripted")


SHARED_FAKE = ScriptedFake(delay_s=0.0)
SHARED_SCRIPTED_AGENT = create_agent(SHARED_FAKE, tools=[calculate], name="shared")
"""One agent object (no factory): every conversation shares it (and ``SHARED_FAKE``)."""


def listed_replies() -> BaseChatModel:
    """A factory of a stateful chat model: it replies ``reply 1``, ``reply 2``... in order."""
    return FakeListChatModel(responses=[f"reply {i}" for i in range(1, 5)])


FLAKY_CALLS: list[int] = []


def flaky_app() -> Any:
    """A factory that fails on its second call (the first is the build's check)."""
    FLAKY_CALLS.append(1)
    if len(FLAKY_CALLS) == 2:
        raise RuntimeError("no app this time")
    return echo_app


def echo_app(messages: list[BaseMessage]) -> str:
    """A plain function app: says how many messages it got and echoes the last."""
    return f"{len(messages)} messages; last: {messages[-1].text}"


not_an_app = 42


def interrupting_app(messages: list[BaseMessage]) -> str:
    """An app that raises ``KeyboardInterrupt``, as a model call does when Ctrl-C lands in it."""
    raise KeyboardInterrupt
