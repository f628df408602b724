"""A small tool-using support agent (a LangGraph app) for the scenarios in ``support.yaml``.

The agent answers questions about orders with two tools over an in-memory table of orders:
``lookup_order`` (status, items, delivery) and ``cancel_order`` (which needs the email on the
order, and refuses an order that has shipped). Its chat model is a parameter: any model that
can call tools (``bind_tools``), or ``ScriptedSupportModel``, a deterministic fake that
follows the support script, for offline runs and tests.

    python examples/scenarios/support_agent.py        # the support scenarios, on fakes

Each app has its own copy of the orders (``build_support_agent(model)``): a cancellation in
one conversation is seen by that app's later conversations, so scenarios that share an app
use different orders.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

ORDERS: dict[str, dict[str, Any]] = {
    "1234": {"status": "processing", "email": "sam@example.com", "items": ["blue kettle"]},
    "5678": {"status": "shipped", "email": "ana@example.com", "items": ["desk lamp"],
             "carrier": "UPS", "arrives": "Friday"},
    "9012": {"status": "shipped", "email": "lee@example.com", "items": ["running shoes"],
             "carrier": "DHL", "arrives": "Monday"},
    "3456": {"status": "processing", "email": "kim@example.com", "items": ["yoga mat"]},
}
"""The shop's orders; each agent works on its own copy."""
SYSTEM_PROMPT = (
    "You are the support agent of an online shop. Use lookup_order to see an order and "
    "cancel_order to cancel one. Before cancelling, ask for the email on the order if the "
    "customer has not given it. Never reveal a customer's email. Orders that have shipped "
    "cannot be cancelled; offer a return once delivered instead."
)
_ORDER_ID = re.compile(r"\b(\d{4})\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def order_tools(orders: dict[str, dict[str, Any]]) -> list[BaseTool]:
    """``lookup_order`` and ``cancel_order`` over ``orders`` (changed in place)."""

    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order by its number: its status, items and delivery."""
        order = orders.get(order_id.strip())
        if order is None:
            return f"error: no order {order_id}"
        shown = {key: value for key, value in order.items() if key != "email"}
        return json.dumps({"order_id": order_id, **shown})

    @tool
    def cancel_order(order_id: str, email: str) -> str:
        """Cancel an order; ``email`` must be the email the order was placed with."""
        order = orders.get(order_id.strip())
        if order is None:
            return f"error: no order {order_id}"
        if email.strip().lower() != order["email"]:
            return "error: the email does not match the order"
        if order["status"] != "processing":
            return (f"error: order {order_id} has {order['status']}; it can be returned once "
                    f"delivered")
        order["status"] = "cancelled"
        return f"order {order_id} cancelled"

    return [lookup_order, cancel_order]


def build_support_agent(model: BaseChatModel, orders: dict[str, dict[str, Any]] | None = None
                        ) -> Any:
    """The agent graph: ``agent`` (the model, bound to the tools) and ``tools`` (LangGraph's
    ``ToolNode``), looping until the model answers without a tool call.

    Args:
        model: A chat model that can call tools.
        orders: The orders it serves; None for a fresh copy of ``ORDERS``.
    """
    tools = order_tools(copy.deepcopy(ORDERS) if orders is None else orders)
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [bound.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(name="support_agent")


class ScriptedSupportModel(BaseChatModel):
    """A fake support model whose replies are a function of the conversation: it asks for an
    order number, looks orders up, asks for the email before cancelling, then calls
    ``cancel_order``, and words each tool result as a reply. Unbound (no tools), it can only
    apologise."""

    tools_bound: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted-support-fake"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedSupportModel:  # type: ignore[override]  # a fake: schemas unused
        return self.model_copy(update={"tools_bound": True})

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        reply = self.reply(messages) if self.tools_bound else AIMessage(
            content="Sorry, I cannot look at orders right now.")
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        """The scripted reply to ``messages``: the intent is that of the last user message
        that says one (cancel, or where/status), carried over while the agent asks for what
        it needs."""
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(content=_worded(last))
        said = [m.text for m in messages if isinstance(m, HumanMessage)]
        orders = [found for text in said for found in _ORDER_ID.findall(text)]
        emails = [found for text in said for found in _EMAIL.findall(text)]
        asked = len(messages) > 1 and messages[-2].text.rstrip().endswith("?")
        intents = [_intent(text) for text in said]
        intent = intents[-1] if intents else None
        if intent is None and asked:
            intent = next((i for i in reversed(intents) if i is not None), None)
        if intent == "cancel":
            if not orders:
                return AIMessage(content="I can help with that. What is the order number?")
            if not emails:
                return AIMessage(content=f"I can cancel order {orders[-1]}. To verify it is "
                                 f"you, what email did you place the order with?")
            return _call("cancel_order", order_id=orders[-1], email=emails[-1])
        if intent == "lookup":
            if not orders:
                return AIMessage(content="Sure. What is the order number?")
            return _call("lookup_order", order_id=orders[-1])
        return AIMessage(content="Is there anything else I can help you with?")


def _intent(text: str) -> str | None:
    text = text.lower()
    if "cancel" in text:
        return "cancel"
    if any(word in text for word in ("where", "status", "track", "when")):
        return "lookup"
    return None


def _call(name: str, **args: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args,
                                              "id": f"call-{uuid.uuid4().hex[:8]}"}])


def _worded(result: ToolMessage) -> str:
    text = result.text
    if text.startswith("error:"):
        return f"I'm sorry, I couldn't do that: {text.removeprefix('error:').strip()}."
    if result.name == "cancel_order":
        return f"Done: {text}. You will get a confirmation email."
    order = json.loads(text)
    delivery = (f" It ships with {order['carrier']} and arrives {order['arrives']}."
                if "carrier" in order else "")
    return (f"Order {order['order_id']} ({', '.join(order['items'])}) is "
            f"{order['status']}.{delivery}")


def fake_agent() -> Any:
    """The agent on ``ScriptedSupportModel`` (``app:support_agent:fake_agent``)."""
    return build_support_agent(ScriptedSupportModel())


TOOL_NAMES = ("lookup_order", "cancel_order")


class ScriptedJudge(BaseChatModel):
    """A fake criterion judge for offline runs, reading chatbench's criterion prompt: a
    criterion that names a tool passes when the transcript shows a call to one it names; any
    other passes when every order number it mentions is in the agent's turns or steps. Its
    reply is the JSON verdict a judge model writes."""

    @property
    def _llm_type(self) -> str:
        return "scripted-support-judge"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        before, _, after = messages[-1].text.rpartition("Criterion:")
        criterion = after.strip().splitlines()[0] if after.strip() else ""
        agent = [line for line in before.splitlines() if line.startswith(("AI:", "  [tool"))]
        tools = [name for name in TOOL_NAMES if name in criterion]
        if tools:
            passed = any(f"[tool call] {name}(" in line for name in tools for line in agent)
            reason = f"{'a' if passed else 'no'} call to {' or '.join(tools)}"
        else:
            numbers = _ORDER_ID.findall(criterion)
            passed = all(any(n in line for line in agent) for n in numbers)
            reason = f"order {' and '.join(numbers) or 'numbers'} {'' if passed else 'not '}seen"
        verdict = json.dumps({"reason": reason, "passed": passed})
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=verdict))])


SCRIPTED_USERS: dict[str, list[str]] = {
    "cancel-1234-annoyed": ["sam@example.com. Hurry up.", "Finally. [GOAL MET]"],
    "where-is-5678": ["Great, thanks! [GOAL MET]"],
    "cancel-shipped-9012": ["Fine, I will return it then. [GOAL MET]"],
    "no-order-number": ["Found it: 3456.", "kim@example.com", "Thanks. [GOAL MET]"],
}
"""What a scripted user says in each scenario of ``support.yaml`` after its opening turns, as
the agent on ``ScriptedSupportModel`` answers (tests replay these)."""


def main() -> int:
    """Play the support scenarios with scripted users against the fake agent, judged by
    ``ScriptedJudge``, and print each outcome."""
    from langchain_core.language_models import GenericFakeChatModel

    from chatbench.data.scenario import load_scenarios
    from chatbench.testing import run_scenario

    for scenario in load_scenarios(Path(__file__).with_name("support.yaml")):
        user = GenericFakeChatModel(messages=iter(SCRIPTED_USERS[scenario.id]))
        result = run_scenario(scenario, assistant=fake_agent(), user=user,
                              judge=ScriptedJudge(), cache=False)
        print(result.explain(), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
