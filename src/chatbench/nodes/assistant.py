"""The assistant node: the model (or app) under evaluation answers the canonical transcript."""

from __future__ import annotations

import time
import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langgraph.runtime import Runtime

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.models.invoke import invoke_chat
from chatbench.nodes._common import Node, node_timing
from chatbench.seeding import call_seed
from chatbench.simulators.prompted import paper_exact
from chatbench.state import ASSISTANT, ConversationState


def make_assistant_node(spec: GraphSpec) -> Node:
    """The node that calls the assistant on ``messages`` (it never sees the scratchpad)."""
    system = (
        [SystemMessage(content=spec.assistant_system_prompt)]
        if spec.assistant_system_prompt
        else []
    )

    # The paper presets keep a reply as sent: the simulator and the assistant see its spaces.
    strip = not paper_exact(spec)

    def assistant_node(state: ConversationState, runtime: Runtime[SimContext]) -> dict[str, Any]:
        ctx = runtime.context
        prompt: list[BaseMessage] = [*system, *state["messages"]]
        seed = call_seed(ctx.seed, ASSISTANT, state.get("turns", 0))
        started = time.perf_counter()
        completion = invoke_chat(ctx.assistant, prompt, spec.assistant, seed, ctx.call_timeout_s,
                                 strip=strip)
        # the transcript keeps the reply's text only; an app's inner steps go beside it
        reply = AIMessage(content=completion.text, id=str(uuid.uuid4()))
        update: dict[str, Any] = {
            "messages": [reply],
            "timings": [node_timing(ASSISTANT, ASSISTANT,
                                    time.perf_counter() - started, completion)],
        }
        if completion.steps:
            update["assistant_steps"] = {reply.id: list(completion.steps)}
        return update

    return assistant_node
