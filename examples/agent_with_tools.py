"""An agent with a calculator tool vs the same model without it, on the math subjects.

A two-variant ablation whose one factor is the assistant: the bare model, and an agent (a
compiled LangGraph graph) that can call ``calculate``. Both are named by ``app:`` model strings
(``app:<this module>:<factory>``), so any executor rebuilds them in its workers. The runs go to
one store; the report shows accuracy, tokens and wall time (the agent's inner model calls
included) and the agent's tool calls. ``chatbench show STORE`` prints one conversation with
its steps.

    python examples/agent_with_tools.py                   # fakes: offline, a few seconds
    python examples/agent_with_tools.py --model smollm2   # the embedded SmolLM2-135M
    python examples/agent_with_tools.py --out runs/agent.sqlite   # the store to write

The store goes beside this file (``agent_with_tools-results.sqlite``) unless ``--out`` names
another; its path is printed.

With fakes, the replies are scripted (the same for every question: a tool call, then an
answer), so the numbers only show the plumbing. A model that can call tools (``bind_tools``)
becomes a LangChain agent (``langchain.agents.create_agent``); one that cannot, as the
embedded SmolLM2, gets a ReAct-style prompt loop: it is told to write ``calculate(...)``,
which the loop parses, runs and answers with the result.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from rich.console import Console

from chatbench import get_chat_model
from chatbench.config import AblationGrid
from chatbench.reporting.results import load_results
from chatbench.reporting.tables import rich_table
from chatbench.runner.ablate import plan_grid, run_grid

MATH = ("elementary_mathematics", "high_school_mathematics", "college_mathematics")
APP_MODULE = __name__ if __name__ != "__main__" else Path(__file__).stem
"""This module's import name, for ``app:`` strings: a script's folder is on ``sys.path``."""
DEFAULT_OUT = Path(__file__).with_name(f"{Path(__file__).stem}-results.sqlite")
"""The store written when no ``--out`` is given: beside this file (``*.sqlite`` is
git-ignored), so a run is found again, and a rerun resumes it."""
MAX_TOOL_CALLS = 2
"""Tool calls the prompt-loop agent may make per user message."""
REPLY_TOKENS = 96
"""The prompt-loop agent's tokens per model call (the ``quick`` preset's assistant limit)."""


@tool
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression: numbers, + - * / ** and parentheses."""
    cleaned = expression.replace(",", "").replace("^", "**")
    if not cleaned.strip() or not set(cleaned) <= set("0123456789.+-*/() "):
        return f"error: cannot evaluate {expression!r}; use numbers and + - * / ( ) only"
    try:
        value = eval(cleaned, {"__builtins__": {}})  # noqa: S307  (only digits and operators)
    except (SyntaxError, ZeroDivisionError, OverflowError, ValueError) as exc:
        return f"error: {type(exc).__name__}"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- models and agents (the factories the app: strings name) -------------------------------


class ScriptedToolModel(BaseChatModel):
    """A fake that can call tools: bound to them, it calls ``calculate`` once per user message,
    then answers with the result; unbound, it answers at once. Its replies are a function of
    the prompt alone, so one instance serves every conversation."""

    tools_bound: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:  # type: ignore[override]  # a fake: schemas unused
        return self.model_copy(update={"tools_bound": True})

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        last = messages[-1]
        usage = {"input_tokens": sum(len(m.text.split()) for m in messages),
                 "output_tokens": 12, "total_tokens": 0}
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"The calculator gives {last.content}. Answer: D",
                              usage_metadata=usage)  # type: ignore[arg-type]  # a UsageMetadata
        elif self.tools_bound:
            call = {"name": "calculate", "args": {"expression": "450 / 1000 * 220000"},
                    "id": f"call-{uuid.uuid4().hex[:8]}"}
            reply = AIMessage(content="", tool_calls=[call], usage_metadata=usage)  # type: ignore[arg-type]  # as above
        else:
            reply = AIMessage(content="Roughly 100,000 by my estimate. Answer: C",
                              usage_metadata=usage)  # type: ignore[arg-type]  # as above
        return ChatResult(generations=[ChatGeneration(message=reply)])


def fake_model() -> BaseChatModel:
    """The fake without tools (the bare variant)."""
    return ScriptedToolModel()


def fake_agent() -> Any:
    """The fake with the calculator."""
    return build_agent(ScriptedToolModel())


def smollm2_agent() -> Any:
    """The embedded SmolLM2 with the calculator (its weights load where the first job runs)."""
    return build_agent(get_chat_model("smollm2"))


def build_agent(model: BaseChatModel) -> Any:
    """A LangChain agent when ``model`` can call tools, else the ReAct-style prompt loop."""
    try:
        model.bind_tools([calculate])
    except NotImplementedError:
        return prompt_loop_agent(model)
    from langchain.agents import create_agent

    return create_agent(model, tools=[calculate], name="calculator_agent")


# --- the ReAct-style prompt loop, for models without tool calling ----------------------------

LOOP_PROMPT = (
    "You can use a calculator. To compute something, write calculate(EXPRESSION) on a line of "
    "its own, for example calculate(450 / 1000 * 220000), and stop: you will get the result. "
    "Then answer the user."
)
_CALL = re.compile(r"calculate\(([^()]*(?:\([^()]*\)[^()]*)*)\)")


def prompt_loop_agent(model: BaseChatModel) -> Any:
    """A graph: ``agent`` writes a reply; a ``calculate(...)`` in it becomes a tool call that
    ``tools`` runs (LangGraph's ``ToolNode``), then ``agent`` goes on with the result."""
    graph = StateGraph(MessagesState)
    graph.add_node("agent", lambda state: {"messages": [_loop_reply(model, state["messages"])]})
    graph.add_node("tools", ToolNode([calculate]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name="calculator_prompt_loop")


def _loop_reply(model: BaseChatModel, messages: list[AnyMessage]) -> AIMessage:
    """The model's reply, with a ``calculate(...)`` it wrote as a tool call (while the turn's
    tool budget lasts)."""
    reply = model.invoke(_as_text_chat(messages), max_tokens=REPLY_TOKENS, temperature=0.7)
    found = _CALL.search(reply.text)
    if found is None or _tool_calls_this_turn(messages) >= MAX_TOOL_CALLS:
        return AIMessage(content=reply.text, usage_metadata=reply.usage_metadata)
    call = {"name": "calculate", "args": {"expression": found.group(1)},
            "id": f"call-{uuid.uuid4().hex[:8]}"}
    return AIMessage(content=reply.text[: found.end()], tool_calls=[call],
                     usage_metadata=reply.usage_metadata)


def _as_text_chat(messages: list[AnyMessage]) -> list[BaseMessage]:
    """The chat a text-only model reads: the tool prompt first, tool results as user text."""
    chat: list[BaseMessage] = [SystemMessage(LOOP_PROMPT)]
    for message in messages:
        if isinstance(message, ToolMessage):
            chat.append(HumanMessage(f"Calculator result: {message.text}"))
        elif isinstance(message, SystemMessage):
            chat[0] = SystemMessage(f"{message.text}\n\n{LOOP_PROMPT}")
        else:
            chat.append(message)
    return chat


def _tool_calls_this_turn(messages: list[AnyMessage]) -> int:
    last_user = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)),
                    default=-1)
    return sum(isinstance(m, ToolMessage) for m in messages[last_user + 1:])


# --- the ablation -----------------------------------------------------------------------------


def grid_for(model: str, limit: int) -> AblationGrid:
    """The two-variant grid: the bare model vs the agent, on the math subjects."""
    if model == "fake":
        user, bare, agent = "fake:user", f"app:{APP_MODULE}:fake_model", "fake_agent"
    elif model == "smollm2":
        user, bare, agent = "smollm2", "smollm2", "smollm2_agent"
    else:
        raise SystemExit(f"--model is fake or smollm2, not {model!r}")
    agent = f"app:{APP_MODULE}:{agent}"
    return AblationGrid(name=f"calculator-{model}", base="quick", subjects=MATH, limit=limit,
                        user=user, assistant=bare, factors={"assistant": [bare, agent]})


def summary(store: Path, run_id: str) -> pd.DataFrame:
    """Per variant (``agent`` or ``bare``): accuracy, the agent's tool calls, the assistant's
    tokens (inner calls included) and wall time, each per conversation."""
    conv = load_results(store, run_id).conversations
    conv = conv.assign(variant=conv["model_assistant"].map(
        lambda name: "agent" if name.endswith("_agent") else "bare"))
    frame = conv.groupby("variant").agg(
        conversations=("id", "size"), failed=("failed", "sum"), accuracy=("correct", "mean"),
        tool_calls=("tool_calls", "mean"), tokens_in=("assistant_input_tokens", "mean"),
        tokens_out=("assistant_output_tokens", "mean"), seconds=("seconds", "mean"))
    return frame.round(2).reset_index()


def print_summary(store: Path, run_id: str, console: Console) -> None:
    """The summary as a table."""
    console.print(rich_table("Per conversation (means; accuracy: no answer counts as wrong)",
                             summary(store, run_id).astype(str)))


def main(argv: list[str] | None = None) -> Path:
    """Run the ablation and print its summary.

    Returns:
        The store's path.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fake", help="fake (default) or smollm2")
    parser.add_argument("--fake", action="store_const", const="fake", dest="model",
                        help="the same as --model fake")
    parser.add_argument("--limit", type=int, default=4, help="questions (default 4)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"the SQLite store to write (default: {DEFAULT_OUT.name} beside "
                        "this file)")
    args = parser.parse_args(argv)
    out = args.out
    plan = plan_grid(grid_for(args.model, args.limit))
    started = time.perf_counter()
    records = run_grid(plan, out, concurrency=args.concurrency)
    console = Console()
    console.print(f"{len(records)} conversations in {time.perf_counter() - started:.1f} s; "
                  f"store {out} (chatbench report {out}; chatbench show {out})")
    print_summary(out, plan.run_id, console)
    return out


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
