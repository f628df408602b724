"""chatbench: evaluate AI assistants in conversation with simulated users.

Example:
    >>> from chatbench import GraphSpec, build_graph, load_questions, run_conversations
    >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
    ...     user="fake:say:Answer: B", assistant="fake:echo")

Every name below is imported on first use (PEP 562), so ``import chatbench`` (and the CLI,
which imports it) loads LangChain, LangGraph and pandas only when something needs them.
"""

# The imports under TYPE_CHECKING are for type checkers; at run time __getattr__ serves them.
# ruff: noqa: F401

from __future__ import annotations

from typing import TYPE_CHECKING

from chatbench._lazy import lazy_names

_HOMES = {
    "ChatBenchError": "chatbench.errors",
    "Completion": "chatbench.datatypes",
    "ConfigError": "chatbench.errors",
    "ConversationRecord": "chatbench.records",
    "ConversationState": "chatbench.state",
    "GraphSpec": "chatbench.config",
    "Judgement": "chatbench.datatypes",
    "MissingDependencyError": "chatbench.errors",
    "ModelOutputError": "chatbench.errors",
    "NodeUpdate": "chatbench.runner.stream",
    "Persona": "chatbench.personas",
    "Question": "chatbench.data.questions",
    "ResultStore": "chatbench.storage",
    "Scenario": "chatbench.data.scenario",
    "RunConfig": "chatbench.config",
    "SimContext": "chatbench.context",
    "StopReason": "chatbench.datatypes",
    "Summary": "chatbench.datatypes",
    "TextCompleter": "chatbench.datatypes",
    "arun_conversations": "chatbench.runner.aio",
    "astream_conversation": "chatbench.runner.aio",
    "build_graph": "chatbench.graphs",
    "build_state_graph": "chatbench.graphs",
    "checkpoint_serde": "chatbench.graphs",
    "extract_choice": "chatbench.scoring.choice",
    "get_chat_model": "chatbench.models.registry",
    "initial_state": "chatbench.state",
    "load_graph_spec": "chatbench.config",
    "load_persona": "chatbench.personas",
    "load_questions": "chatbench.data.questions",
    "load_results": "chatbench.reporting.results",
    "load_scenarios": "chatbench.data.scenario",
    "run": "chatbench.runner",
    "run_conversations": "chatbench.runner",
    "run_scenarios": "chatbench.runner",
    "simulate": "chatbench.runner",
    "stream_conversation": "chatbench.runner.stream",
    "testing": "chatbench.testing",
}
"""Each public name and the module it lives in."""

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(globals(), _HOMES)

if TYPE_CHECKING:  # what type checkers and IDEs see
    from chatbench.config import GraphSpec, RunConfig, load_graph_spec
    from chatbench.context import SimContext
    from chatbench.data.questions import Question, load_questions
    from chatbench.data.scenario import Scenario, load_scenarios
    from chatbench.datatypes import Completion, Judgement, StopReason, Summary, TextCompleter
    from chatbench.errors import (
        ChatBenchError,
        ConfigError,
        MissingDependencyError,
        ModelOutputError,
    )
    from chatbench.graphs import build_graph, build_state_graph, checkpoint_serde
    from chatbench.models.registry import get_chat_model
    from chatbench.personas import Persona, load_persona
    from chatbench.records import ConversationRecord
    from chatbench.reporting.results import load_results
    from chatbench.runner import run, run_conversations, run_scenarios, simulate
    from chatbench.runner.aio import arun_conversations, astream_conversation
    from chatbench.runner.stream import NodeUpdate, stream_conversation
    from chatbench.scoring.choice import extract_choice
    from chatbench.state import ConversationState, initial_state
    from chatbench.storage import ResultStore
