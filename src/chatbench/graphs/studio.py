"""The conversation graph for LangGraph Studio and ``langgraph dev`` (``langgraph.json``
names ``graph`` here): JSON in, model strings in the runtime context.

``build_graph`` needs model objects in its ``SimContext``, which no JSON request can carry.
This graph takes plain data instead and builds the rest per run::

    START -> prepare -> conversation -> END

``prepare`` turns the input (``StudioInput``: a question as JSON, a bundled question's id,
or a question's text, options and answer; nothing for the first bundled question) into the
initial state. ``conversation`` reads the context (``StudioSettings``: graph preset, model
strings per role, persona, seed), builds the models with ``get_chat_model`` (a text completer
for a causal-LM simulator) and runs the preset's conversation graph as a subgraph, so Studio
shows its nodes and streams each turn. The defaults are fake models: it works offline.

Example:
    >>> from chatbench.graphs.studio import graph
    >>> out = graph.invoke({"question_id": "elementary_mathematics-redux-0"},
    ...                    context={"user": "fake:say:Answer: B", "assistant": "fake:echo"})
    >>> out["final_choice"]
    'B'
"""

# No ``from __future__ import annotations``: LangGraph reads the input and context schemas'
# type hints, which must resolve even when ``langgraph dev`` loads this file by its path.
import functools
import hashlib
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import TypedDict

from chatbench.config import GraphSpec
from chatbench.context import SimContext
from chatbench.data.questions import Question, load_questions
from chatbench.datatypes import TextCompleter
from chatbench.errors import ConfigError
from chatbench.graphs.builder import build_graph, graph_spec
from chatbench.models.registry import get_chat_model, get_text_completer
from chatbench.personas import load_persona
from chatbench.seeding import conversation_seed
from chatbench.state import ConversationState, initial_state

PREPARE = "prepare"
CONVERSATION = "conversation"


class StudioInput(TypedDict, total=False):
    """What a Studio run starts from: one way of giving the question (or none)."""

    question: dict[str, Any]
    """A question as JSON: ``Question``'s fields (``id``, ``stem``, ``choices``, ``answer``,
    optional ``subject``)."""
    question_id: str
    """The id of a bundled question, e.g. ``college_mathematics-redux-0``."""
    text: str
    """The text of a question of your own, with ``choices`` and ``answer``."""
    choices: list[str]
    """The options of ``text``, in letter order."""
    answer: str
    """The correct option letter of ``text``."""


class StudioSettings(BaseModel):
    """A Studio run's settings (its runtime context): names only, no objects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    graph: str = "quick"
    """A graph preset name (``two_step_cot``) or a path to a GraphSpec YAML."""
    user: str = "fake:user"
    """The simulator's model string (ignored by the scripted simulator)."""
    assistant: str = "fake:echo"
    """The assistant's model string."""
    judge: str | None = None
    """The judge's model string; None for the rules alone (rubrics scored by a judge model
    need one)."""
    persona: str | None = None
    """A persona name or path, overriding the preset's."""
    seed: int = 0
    """Run seed; the conversation's seed is derived from it as ``run_conversations`` does
    for replicate 0, so a Studio run repeats the batch run's conversation."""


def studio_question(given: StudioInput) -> Question:
    """The question a run's input names; the first bundled question when it names none.

    Raises:
        ConfigError: An invalid question, an unknown id, or a text without options.
    """
    try:
        if "question" in given:
            return Question.model_validate(given["question"])
        if "text" in given:
            text = given["text"]
            digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
            return Question(id=f"custom-{digest}", stem=text,
                            choices=tuple(given.get("choices", ())),
                            answer=given.get("answer", ""))
    except ValidationError as exc:
        raise ConfigError(f"invalid question: {exc}") from None
    questions = load_questions(include_flagged=True)
    wanted = given.get("question_id", questions[0].id)
    for question in questions:
        if question.id == wanted:
            return question
    raise ConfigError(f"no bundled question has id {wanted!r}")


def studio_spec(settings: StudioSettings) -> GraphSpec:
    """The variant a run's settings name, with their persona override.

    Raises:
        ConfigError: Unknown preset, missing or invalid file.
    """
    spec = graph_spec(settings.graph)
    if settings.persona is not None:
        spec = spec.model_copy(update={"persona": settings.persona})
    return spec


def studio_context(spec: GraphSpec, settings: StudioSettings, question: Question) -> SimContext:
    """Models, persona and seed of one run, built from the settings' strings.

    Raises:
        ConfigError: An unknown provider or model, or a bad persona.
        MissingDependencyError: A provider's package is not installed.
    """
    user: BaseChatModel | TextCompleter | None = None
    if spec.simulator == "causal_lm":
        user = _text_completer(settings.user)
    elif spec.simulator != "scripted":
        user = _chat_model(settings.user)
    return SimContext(
        assistant=_chat_model(settings.assistant),
        user=user,
        judge=_chat_model(settings.judge) if settings.judge else None,
        persona=load_persona(spec.persona) if spec.persona else None,
        seed=conversation_seed(settings.seed, question.id, spec.name, 0),
    )


# A Studio server runs many conversations in one process: load each model and compile each
# variant once.
@functools.lru_cache(maxsize=16)
def _chat_model(name: str) -> BaseChatModel:
    return get_chat_model(name)


@functools.lru_cache(maxsize=4)
def _text_completer(name: str) -> TextCompleter:
    return get_text_completer(name)


@functools.lru_cache(maxsize=16)
def conversation_graph(spec: GraphSpec) -> CompiledStateGraph[ConversationState, SimContext]:
    """``build_graph(spec)``, compiled once per variant."""
    return build_graph(spec)


def prepare_node(state: StudioInput, runtime: Runtime[StudioSettings]) -> ConversationState:
    """The initial state of the question the input names."""
    settings = runtime.context or StudioSettings()
    return initial_state(studio_question(state), studio_spec(settings).persona)


StudioNode = Callable[[ConversationState, Runtime[StudioSettings]], dict[str, Any]]


def make_conversation_node(shown: GraphSpec) -> StudioNode:
    """The node that runs a conversation of the settings' variant, as a subgraph; the graph
    of ``shown`` is the one Studio draws inside it."""
    # LangGraph finds a node's subgraph among the graphs its function refers to: ``drawn``.
    drawn = conversation_graph(shown)

    def conversation_node(
        state: ConversationState, runtime: Runtime[StudioSettings]
    ) -> dict[str, Any]:
        settings = runtime.context or StudioSettings()
        spec = studio_spec(settings)
        conversation = drawn if spec == shown else conversation_graph(spec)
        context = studio_context(spec, settings, state["question"])
        return conversation.invoke(state, context=context)

    return conversation_node


def build_studio_graph(
    shown: str = StudioSettings().graph,
) -> CompiledStateGraph[ConversationState, StudioSettings, StudioInput]:
    """The Studio graph: JSON input, ``StudioSettings`` as its context.

    Args:
        shown: The preset whose conversation graph Studio draws (runs use the settings').

    Returns:
        A compiled graph whose output is the finished ``ConversationState``.
    """
    graph = StateGraph(ConversationState, context_schema=StudioSettings,
                       input_schema=StudioInput)
    graph.add_node(PREPARE, prepare_node, input_schema=StudioInput)
    graph.add_node(CONVERSATION, make_conversation_node(graph_spec(shown)))
    graph.add_edge(START, PREPARE)
    graph.add_edge(PREPARE, CONVERSATION)
    graph.add_edge(CONVERSATION, END)
    return graph.compile(name="chatbench")


graph = build_studio_graph()
"""What ``langgraph.json`` names: ``langgraph dev`` serves it to Studio."""
