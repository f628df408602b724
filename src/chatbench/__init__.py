"""chatbench: evaluate AI assistants in conversation with simulated users.

Example:
    >>> from chatbench import GraphSpec, build_graph, load_questions, run_conversations
    >>> records = run_conversations(load_questions(limit=1), GraphSpec(),
    ...     user="fake:say:Answer: B", assistant="fake:echo")
"""

from chatbench.config import GraphSpec, RunConfig, load_graph_spec
from chatbench.context import SimContext
from chatbench.data.questions import Question, load_questions
from chatbench.datatypes import Completion, Judgement, StopReason, Summary, TextCompleter
from chatbench.errors import ChatBenchError, ConfigError, MissingDependencyError, ModelOutputError
from chatbench.graphs import build_graph, build_state_graph, checkpoint_serde
from chatbench.models.registry import get_chat_model
from chatbench.personas import Persona, load_persona
from chatbench.records import ConversationRecord
from chatbench.runner import run, run_conversations, simulate
from chatbench.runner.aio import arun_conversations, astream_conversation
from chatbench.runner.stream import NodeUpdate, stream_conversation
from chatbench.scoring.choice import extract_choice
from chatbench.state import ConversationState, initial_state
from chatbench.storage import ResultStore

__all__ = [
    "ChatBenchError",
    "Completion",
    "ConfigError",
    "ConversationRecord",
    "ConversationState",
    "GraphSpec",
    "Judgement",
    "MissingDependencyError",
    "ModelOutputError",
    "NodeUpdate",
    "Persona",
    "Question",
    "ResultStore",
    "RunConfig",
    "SimContext",
    "StopReason",
    "Summary",
    "TextCompleter",
    "arun_conversations",
    "astream_conversation",
    "build_graph",
    "build_state_graph",
    "checkpoint_serde",
    "extract_choice",
    "get_chat_model",
    "initial_state",
    "load_graph_spec",
    "load_persona",
    "load_questions",
    "load_results",
    "run",
    "run_conversations",
    "simulate",
    "stream_conversation",
]


def __getattr__(name: str) -> object:
    # load_results needs pandas: imported on first use, not with the package.
    if name == "load_results":
        from chatbench.reporting.results import load_results

        return load_results
    raise AttributeError(f"module 'chatbench' has no attribute {name!r}")


